"""course_lib: Trax's teaching API (layers, combinators, grad, Adam, a training loop) on JAX.

    from course_lib import layers as tl, shapes, fastmath, optimizers, training, data

Submodules load on first use, so that `python -m course_lib.data` needs no JAX.
"""
import importlib

__version__ = "0.1.0"
__all__ = ["fastmath", "layers", "shapes", "optimizers", "training", "data"]


def __getattr__(name):
    if name in __all__:
        return importlib.import_module(f"course_lib.{name}")
    raise AttributeError(f"module 'course_lib' has no attribute {name!r}")
