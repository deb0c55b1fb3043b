"""Pseudo-random numbers with explicit keys, under Trax's names (`fastmath.random`).

JAX has no global random state: every random function takes a key, and the
same key always gives the same numbers. To get new numbers, split a key:

    key = get_prng(0)                 # uint32[2]
    key, sub = split(key)             # two new, independent keys
    w = normal(sub, (3, 4))           # float32[3, 4], N(0, 1)

Reusing a key repeats its numbers; that is how course_lib makes runs
reproducible (same seed, same weights, same training).

`normal`, `uniform` and `split` give exactly JAX's numbers (`jax.random.normal(key, shape)`, ...),
but outside `jax.jit` each compiles once per power-of-two size rather than once per shape: they
draw `2**k >= size` numbers and keep the first `size`. With JAX's partitionable Threefry (the
default since JAX 0.5) element i of a draw depends on the key and i alone, so the first `size`
numbers of a longer draw are the numbers of the shorter one. Compiling a draw takes about 0.3 s
on a CPU; initializing layers of many shapes (a test, a grader) would otherwise compile one per shape.
"""
import jax
import numpy as np
from jax.random import (
    bernoulli,
    categorical,
    choice,
    fold_in,
    permutation,
    randint,
)

SMALLEST_DRAW = 1024          # draws below this size share one compilation
LARGEST_DRAW = 1 << 22        # above this size, drawing twice the numbers costs more than compiling
SMALLEST_SPLIT = 16           # splits into fewer keys share one compilation


def _draw_size(key, shape) -> int | None:
    """The size (a power of two) to draw for `shape` and keep a prefix of, or None: draw as JAX does
    (inside jax.jit, another random implementation, a shape JAX would refuse, a large draw)."""
    if isinstance(key, jax.core.Tracer) or not jax.config.jax_threefry_partitionable:
        return None
    try:
        if "threefry" not in str(jax.random.key_impl(key)):
            return None
        size = int(np.prod([int(d) for d in shape], dtype=np.int64))
    except (TypeError, ValueError):
        return None
    if size > LARGEST_DRAW:
        return None
    return max(SMALLEST_DRAW, 1 << max(size - 1, 0).bit_length())


def _prefix(drawn, shape) -> jax.Array:
    """The first prod(shape) numbers of the flat draw `drawn`, as an array of `shape`. Cut on the host
    (NumPy) and put back: a cut in JAX would compile once per shape, which is what the draw avoids."""
    size, shape = int(np.prod(shape, dtype=np.int64)), tuple(int(d) for d in shape)
    if isinstance(drawn, jax.core.Tracer):        # drawn while JAX traces a function: cut in it
        return drawn[:size].reshape(shape)
    return jax.device_put(np.asarray(drawn)[:size].reshape(shape))


def normal(key, shape=(), dtype=float) -> jax.Array:
    """Standard normal numbers: float32[*shape] (by default), as `jax.random.normal(key, shape, dtype)`."""
    size = _draw_size(key, shape)
    if size is None:
        return jax.random.normal(key, shape, dtype)
    return _prefix(jax.random.normal(key, (size,), dtype), shape)


def uniform(key, shape=(), dtype=float, minval=0.0, maxval=1.0) -> jax.Array:
    """Uniform numbers in [minval, maxval): float32[*shape] (by default), as `jax.random.uniform`."""
    size = _draw_size(key, shape)
    if size is None or any(isinstance(v, jax.core.Tracer) for v in (minval, maxval)):
        return jax.random.uniform(key, shape, dtype, minval, maxval)
    return _prefix(jax.random.uniform(key, (size,), dtype, minval, maxval), shape)


def truncated_normal(key, lower, upper, shape=None, dtype=float) -> jax.Array:
    """Normal numbers truncated to [lower, upper]: float32[*shape], as `jax.random.truncated_normal`."""
    size = None if shape is None else _draw_size(key, shape)
    if size is None or any(isinstance(v, jax.core.Tracer) for v in (lower, upper)):
        return jax.random.truncated_normal(key, lower, upper, shape, dtype)
    return _prefix(jax.random.truncated_normal(key, lower, upper, (size,), dtype), shape)


def split(key, num: int = 2) -> jax.Array:
    """`num` new keys from `key`: uint32[num, 2] for a key of uint32[2], as `jax.random.split(key, num)`."""
    raw = not isinstance(key, jax.core.Tracer) and np.shape(key) == (2,) and np.dtype(key.dtype) == np.uint32
    if not raw or _draw_size(key, (num,)) is None:
        return jax.random.split(key, num)
    keys = jax.random.split(key, max(SMALLEST_SPLIT, 1 << max(int(num) - 1, 0).bit_length()))
    return _prefix(keys.reshape(-1), (num, 2))


def get_prng(seed: int) -> jax.Array:
    """Returns the PRNG key for an integer `seed`: uint32[2] (Trax's name for `jax.random.PRNGKey`)."""
    return jax.random.PRNGKey(seed)


__all__ = [
    "get_prng", "split", "fold_in", "normal", "truncated_normal", "uniform",
    "randint", "bernoulli", "categorical", "choice", "permutation",
]
