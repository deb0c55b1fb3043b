"""course_lib: Trax's teaching API (layers, combinators, grad, Adam, a training loop) on JAX.

    from course_lib import layers as tl, shapes, fastmath, optimizers, training
"""
from course_lib import fastmath, layers, shapes

__version__ = "0.1.0"
__all__ = ["fastmath", "layers", "shapes", "optimizers", "training", "data"]


def __getattr__(name):
    # optimizers, training and data load on first use, so `import course_lib` stays light.
    if name in ("optimizers", "training", "data"):
        import importlib
        return importlib.import_module(f"course_lib.{name}")
    raise AttributeError(f"module 'course_lib' has no attribute {name!r}")
