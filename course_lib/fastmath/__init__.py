"""Trax's `fastmath`: the math backend, which in course_lib is always JAX.

    from course_lib import fastmath
    import course_lib.fastmath.numpy as jnp   # the same module as jax.numpy

    jnp.dot(x, w)                        # jax.numpy
    fastmath.grad(f)(x)                  # jax.grad: d f / d x, f must return a scalar
    fastmath.value_and_grad(f)(x)        # (f(x), d f / d x) in one pass
    fastmath.jit(f)                      # compile f with XLA
    fastmath.vmap(f)                     # vectorize f over a leading batch axis
    key = fastmath.random.get_prng(0)    # a PRNG key, uint32[2]

Nothing here wraps JAX: these are JAX's own functions under Trax's names, so
everything the JAX documentation says about them holds.
"""
import sys

import jax
import jax.numpy as numpy

from course_lib.fastmath import random

# `import course_lib.fastmath.numpy as jnp` works, as `import trax.fastmath.numpy as np` did.
sys.modules[__name__ + ".numpy"] = numpy

grad = jax.grad
value_and_grad = jax.value_and_grad
jit = jax.jit
vmap = jax.vmap

__all__ = ["numpy", "random", "grad", "value_and_grad", "jit", "vmap"]
