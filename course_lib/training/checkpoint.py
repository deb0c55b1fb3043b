"""Saving and restoring training state as a NumPy `.npz` file (no pickle)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import jax
import numpy as np

CHECKPOINT_NAME = "checkpoint.npz"


def save(path: Path, weights, slots, step: int, history: dict) -> None:
    """Writes weights, optimizer slots, the step and the metrics history to `path`, atomically."""
    weight_leaves = jax.tree_util.tree_leaves(weights)
    slot_leaves = jax.tree_util.tree_leaves(slots)
    meta = {"step": int(step), "history": history,
            "n_weights": len(weight_leaves), "n_slots": len(slot_leaves)}
    arrays = {f"weights_{i}": np.asarray(a) for i, a in enumerate(weight_leaves)}
    arrays.update({f"slots_{i}": np.asarray(a) for i, a in enumerate(slot_leaves)})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.savez(f, meta=np.array(json.dumps(meta)), **arrays)
    os.replace(tmp, path)  # a crash mid-write never leaves a half-written checkpoint


def load(path: Path, weights_like, slots_like):
    """Reads a checkpoint written by `save` into the structure of `weights_like` and `slots_like`.

    Returns:
      `(weights, slots, step, history_dict)`.

    Raises:
      ValueError: the checkpoint was written for a model of another shape.
    """
    with np.load(path, allow_pickle=False) as f:
        meta = json.loads(str(f["meta"]))
        weights = [f[f"weights_{i}"] for i in range(meta["n_weights"])]
        slots = [f[f"slots_{i}"] for i in range(meta["n_slots"])]
    return (_into(weights, weights_like, path, "weights"), _into(slots, slots_like, path, "slots"),
            meta["step"], meta["history"])


def _into(leaves, like, path, what):
    expected, treedef = jax.tree_util.tree_flatten(like)
    shapes_found = [a.shape for a in leaves]
    shapes_expected = [tuple(a.shape) for a in expected]
    if shapes_found != shapes_expected:
        raise ValueError(
            f"The checkpoint {path} holds {what} of shapes {shapes_found}, but this model's are "
            f"{shapes_expected}: it was saved by another model. Use a new output_dir, or delete "
            "the old one to start fresh.")
    return jax.tree_util.tree_unflatten(treedef, leaves)
