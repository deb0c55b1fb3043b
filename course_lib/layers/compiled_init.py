"""`Layer.init` compiled: the whole model's initialization as one `jax.jit` program.

Op by op, every random function compiles its own program for each shape (18 programs, seconds, for
the capstone's model); traced as one function, the model's initialization compiles once. A model with
one layer that makes weights (a Dense alone, as tests try on many shapes) is quicker op by op, whose
draws share their programs across shapes (`fastmath.random`): it is left to op by op, where a print in
its `init_weights_and_state` shows values, not tracers. XLA's
algebraic simplifier is left out of that compilation so that the weights are the same bits as op by
op (it would reassociate `1e-6 * normal(...)` across what were separate programs).
"""
from __future__ import annotations

import collections
import hashlib
import threading

import jax
import numpy as np

_INIT_ATTRIBUTES = ("_weights", "_state", "_rng")   # what init may set to arrays, in each layer
_MAX_COMPILED_INITS = 32
# XLA's algebraic simplifier reassociates products of constants across what were separate
# programs op by op (`1e-6 * normal(...)`: one ulp apart); without it the weights are the same bits.
_SAME_AS_OP_BY_OP = {"xla_disable_hlo_passes": "algsimp"}


class _CompiledInit(threading.local):
    """`Layer.init` as one `jax.jit` program, and the programs compiled so far.

    Each call traces the model's `init_weights_and_state`s (so their Python runs every time, as
    op by op), then reuses a compiled program whose jaxpr and constants are the same (the same
    architecture on the same input signature), else compiles one. `active` is True while a trace
    runs: the sublayers' `init` calls inside it run op by op, within the trace.
    """

    def __init__(self):
        self.active = False
        self.programs = collections.OrderedDict()   # key -> jax.stages.Compiled, least recent first

    def __call__(self, layer, signature, rng) -> bool:
        """Initializes `layer` with one compiled program. False when it did not, and the caller
        initializes it op by op: it has fewer than two layers that make weights of their own (op by
        op is quicker there: its draws' programs are shared, `fastmath.random`, where one compiled
        program would be made for this model alone), or it could not be traced."""
        layers = layer_tree(layer)
        if sum(makes_its_own_weights(one) for one in layers) < 2:
            return False
        found = {}

        def traced_init(key):
            layer._init_eagerly(signature, key)
            values = [tuple(vars(one).get(name, getattr(type(one), name, None)) for name in _INIT_ATTRIBUTES)
                      for one in layers]
            leaves, found["treedef"] = jax.tree_util.tree_flatten(values)
            found["leaves"] = leaves
            return [leaf for leaf in leaves if isinstance(leaf, jax.core.Tracer)]

        saved = [dict(vars(one)) for one in layers]
        self.active = True
        try:
            traced = jax.jit(traced_init).trace(rng)
            if _leaks_tracers(layers):
                raise TypeError("init_weights_and_state kept a traced array outside weights, state and rng")
            key = _program_key(traced.jaxpr, rng)
            program = self.programs.pop(key, None) or traced.lower().compile(compiler_options=_SAME_AS_OP_BY_OP)
        except Exception:   # noqa: BLE001 -- any failure to trace: put things back, run it op by op
            for one, attributes in zip(layers, saved):
                vars(one).clear()
                vars(one).update(attributes)
            return False
        finally:
            self.active = False
        self.programs[key] = program
        while len(self.programs) > _MAX_COMPILED_INITS:
            self.programs.popitem(last=False)
        computed = iter(program(rng) if any(isinstance(leaf, jax.core.Tracer) for leaf in found["leaves"]) else ())
        leaves = [next(computed) if isinstance(leaf, jax.core.Tracer) else leaf for leaf in found["leaves"]]
        for one, values in zip(layers, jax.tree_util.tree_unflatten(found["treedef"], leaves)):
            for name, value in zip(_INIT_ATTRIBUTES, values):
                setattr(one, name, value)
        return True


compiled_init = _CompiledInit()


def layer_tree(layer) -> list:
    """`layer` and every layer inside it, each once, outermost first."""
    found, pending, seen = [], [layer], set()
    while pending:
        one = pending.pop(0)
        if id(one) not in seen:
            seen.add(id(one))
            found.append(one)
            pending.extend(one._sublayers or ())
    return found


def makes_its_own_weights(layer) -> bool:
    """Whether `layer` has no sublayers and a class that writes its own `init_weights_and_state`
    (more than the base `Layer`'s, which makes none): a Dense, an Embedding, a learner's own layer."""
    if layer._sublayers is not None:       # a combinator (its list may be empty)
        return False
    return sum("init_weights_and_state" in vars(cls) for cls in type(layer).__mro__) > 1


def _leaks_tracers(layers) -> bool:
    """True if a layer keeps a traced array anywhere but in its weights, state and key."""
    return any(isinstance(leaf, jax.core.Tracer)
               for one in layers for name, value in vars(one).items() if name not in _INIT_ATTRIBUTES
               for leaf in jax.tree_util.tree_leaves(value))


def _program_key(closed_jaxpr, rng) -> tuple:
    """What a compiled init depends on: its jaxpr's text, its constants' bytes, the key's type and
    the settings that change how a jaxpr compiles."""
    digest = hashlib.sha256()
    for const in closed_jaxpr.consts:
        value = np.asarray(const)
        digest.update(f"{value.dtype}{value.shape}".encode())
        digest.update(value.tobytes())
    return (str(closed_jaxpr.jaxpr), digest.hexdigest(), str(getattr(rng, "dtype", type(rng))), np.shape(rng),
            str(jax.config.jax_default_matmul_precision), jax.config.jax_enable_x64)
