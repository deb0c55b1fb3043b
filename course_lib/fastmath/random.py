"""Pseudo-random numbers with explicit keys, under Trax's names (`fastmath.random`).

JAX has no global random state: every random function takes a key, and the
same key always gives the same numbers. To get new numbers, split a key:

    key = get_prng(0)                 # uint32[2]
    key, sub = split(key)             # two new, independent keys
    w = normal(sub, (3, 4))           # float32[3, 4], N(0, 1)

Reusing a key repeats its numbers; that is how course_lib makes runs
reproducible (same seed, same weights, same training).
"""
import jax
from jax.random import (
    bernoulli,
    categorical,
    choice,
    fold_in,
    normal,
    permutation,
    randint,
    split,
    truncated_normal,
    uniform,
)


def get_prng(seed: int) -> jax.Array:
    """Returns the PRNG key for an integer `seed`: uint32[2] (Trax's name for `jax.random.PRNGKey`)."""
    return jax.random.PRNGKey(seed)


__all__ = [
    "get_prng", "split", "fold_in", "normal", "truncated_normal", "uniform",
    "randint", "bernoulli", "categorical", "choice", "permutation",
]
