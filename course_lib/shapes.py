"""Shapes and dtypes of data, without the data (Trax's `shapes` module).

Layers are initialized from a *signature* of their input, not from the input
itself: `model.init(shapes.signature(x))` only needs `x.shape` and `x.dtype`.
"""
from __future__ import annotations

import jax
import numpy as np


class ShapeDtype:
    """The shape and dtype of an array (Trax's `ShapeDtype`).

    Args:
      shape: tuple of ints, e.g. `(16, 30)` for a batch of 16 sequences of 30 ids.
      dtype: a NumPy dtype; float32 by default. 64-bit dtypes become 32-bit, as
        JAX stores them unless `jax_enable_x64` is set.
    """

    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype=np.float32):
        self.shape = tuple(int(d) for d in shape)
        self.dtype = jax.dtypes.canonicalize_dtype(np.dtype(dtype))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def as_struct(self) -> jax.ShapeDtypeStruct:
        """This signature as JAX's `ShapeDtypeStruct` (what `jax.eval_shape` takes)."""
        return jax.ShapeDtypeStruct(self.shape, self.dtype)

    def __eq__(self, other):
        return (isinstance(other, ShapeDtype)
                and self.shape == other.shape and self.dtype == other.dtype)

    def __hash__(self):
        return hash((self.shape, self.dtype))

    def __repr__(self):
        return f"ShapeDtype{{shape:{self.shape}, dtype:{self.dtype}}}"


def signature(obj):
    """Returns the `ShapeDtype` of an array, or a tuple of them for a tuple or list of arrays.

    Accepts JAX and NumPy arrays, tracers inside `jax.jit`, `ShapeDtype`,
    `jax.ShapeDtypeStruct` and Python numbers. As in Trax, a list or tuple means
    several inputs (one per element), never one array.
    """
    if isinstance(obj, (list, tuple)):
        return tuple(signature(x) for x in obj)
    if isinstance(obj, ShapeDtype):
        return obj
    if hasattr(obj, "shape") and hasattr(obj, "dtype"):
        return ShapeDtype(obj.shape, obj.dtype)
    array = np.asarray(obj)
    return ShapeDtype(array.shape, array.dtype)


def describe(obj) -> str:
    """A short text for the shape and dtype of `obj`, e.g. `float32[16,256]` or `(int32[16,30], int32[16])`."""
    sig = signature(obj)
    if isinstance(sig, tuple):
        return "(" + ", ".join(describe(s) for s in sig) + ")"
    return f"{sig.dtype.name}[{','.join(str(d) for d in sig.shape)}]"

