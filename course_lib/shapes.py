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
      dtype: a NumPy dtype (or anything `np.dtype` takes); float32 by default. It is kept
        as given, as in Trax: `ShapeDtype((4,), np.float64).dtype` is float64, even though
        JAX computes in float32 unless `jax_enable_x64` is set (see `as_struct`).

    Raises:
      TypeError: `dtype` is not a dtype (e.g. a shape passed as the dtype).
    """

    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype=np.float32):
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def as_struct(self) -> jax.ShapeDtypeStruct:
        """This signature as JAX's `ShapeDtypeStruct` (what `jax.eval_shape` takes).

        The dtype is the one JAX computes in: float64 becomes float32 (int64 int32) unless
        `jax_enable_x64` is set, as `jnp.asarray` would do to the data.
        """
        return jax.ShapeDtypeStruct(self.shape, jax.dtypes.canonicalize_dtype(self.dtype))

    def __eq__(self, other):
        return (isinstance(other, ShapeDtype)
                and self.shape == other.shape and self.dtype == other.dtype)

    def __hash__(self):
        return hash((self.shape, self.dtype))

    def __repr__(self):
        return f"ShapeDtype{{shape:{self.shape}, dtype:{self.dtype}}}"


def signature(obj):
    """The `ShapeDtype` of an array; a tuple of them for a tuple of arrays, a list for a list.

        signature(np.zeros((16, 30), np.int32))       # ShapeDtype{shape:(16, 30), dtype:int32}
        signature((x, y))                             # (ShapeDtype(x), ShapeDtype(y))

    As in Trax, the dtype is the array's own (int32 ids stay int32, a NumPy float64 array
    gives float64), and a list or tuple means several inputs, one per element, never one
    array. Accepts JAX and NumPy arrays, tracers inside `jax.jit`, `ShapeDtype`,
    `jax.ShapeDtypeStruct` and Python numbers (which get JAX's dtype for them: int32,
    float32, bool).
    """
    if isinstance(obj, (list, tuple)):
        signatures = tuple(signature(x) for x in obj)
        return signatures if isinstance(obj, tuple) else list(signatures)
    if isinstance(obj, ShapeDtype):
        return obj
    if hasattr(obj, "shape") and hasattr(obj, "dtype"):
        return ShapeDtype(obj.shape, obj.dtype)
    array = np.asarray(obj)
    return ShapeDtype(array.shape, jax.dtypes.canonicalize_dtype(array.dtype))


def describe(obj) -> str:
    """A short text for the shape and dtype of `obj`, e.g. `float32[16,256]` or `(int32[16,30], int32[16])`."""
    sig = signature(obj)
    if isinstance(sig, (tuple, list)):
        return "(" + ", ".join(describe(s) for s in sig) + ")"
    return f"{sig.dtype.name}[{','.join(str(d) for d in sig.shape)}]"

