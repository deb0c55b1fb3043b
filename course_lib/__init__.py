"""course_lib: Trax's teaching API (layers, combinators, grad, Adam, a training loop) on JAX.

    from course_lib import layers as tl, shapes, fastmath, optimizers, training, data

Submodules load on first use, so that `python -m course_lib.data` needs no JAX.

Importing course_lib makes JAX compute float32 matrix products at full float32 precision on every
backend (`jax_default_matmul_precision = 'highest'`), the learner's own `jnp.dot` and `@` included,
so that the same code gives the same results, and the same check results, on a CPU, a GPU and a
TPU: by default a TPU rounds a matmul's inputs to bfloat16 and a recent NVIDIA GPU to TensorFloat-32,
enough for a correct Dense to miss a check at 1e-4 that it passes on a CPU. A choice the user made
first is kept: the `JAX_DEFAULT_MATMUL_PRECISION` environment variable, or
`jax.config.update('jax_default_matmul_precision', ...)` before importing course_lib.
"""
import importlib
import os
import sys

__version__ = "0.1.0"
__all__ = ["fastmath", "layers", "shapes", "optimizers", "training", "data"]

PRECISION_VARIABLE = "JAX_DEFAULT_MATMUL_PRECISION"
MATMUL_PRECISION = "highest"


def _full_precision_matmuls() -> None:
    """Sets JAX's default matmul precision to 'highest' unless the user chose one.

    JAX not imported yet: through the environment variable, which JAX reads when it is imported
    (so that importing course_lib does not import JAX). JAX imported: through its config, unless
    the config already holds a value.
    """
    if PRECISION_VARIABLE in os.environ:
        return                                        # the user's choice (or an earlier import's)
    jax = sys.modules.get("jax")
    if jax is None:
        os.environ[PRECISION_VARIABLE] = MATMUL_PRECISION
        return
    config = getattr(jax, "config", None)
    try:
        if config.jax_default_matmul_precision is None:
            config.update("jax_default_matmul_precision", MATMUL_PRECISION)
    except AttributeError:                            # not JAX's config (a stand-in jax module)
        pass


_full_precision_matmuls()


def __getattr__(name):
    if name in __all__:
        return importlib.import_module(f"course_lib.{name}")
    raise AttributeError(f"module 'course_lib' has no attribute {name!r}")
