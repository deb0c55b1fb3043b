"""Helpers for the assignments' test cells.

`plain` turns what a learner's function returned into plain Python data before a
test compares it, so that the comparison is Python's own: an object whose `==`
always answers True, or a list of such objects, cannot pass a test.

    assert plain(tweet_to_tensor(tweet, vocab)) == [3, 4, 2, 2]
"""
from __future__ import annotations

import numbers

import numpy as np


class NotPlainData(TypeError):
    """The value is not numbers, strings, or lists/tuples/arrays of them."""


def plain(value):
    """`value` as plain data: bool, int, float, str, None, or lists of them.

    Arrays (NumPy, JAX) become nested lists of numbers; tuples become lists; a
    subclass of int, float or str becomes the built-in type itself.

    Raises:
      NotPlainData: the value (or something inside it) is none of these, or an array of objects.
    """
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    # int() and float() may return a subclass (deprecated, still allowed); the methods of the
    # built-in types themselves always return the exact type.
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, numbers.Integral):
        return int.__index__(int(value))
    if isinstance(value, numbers.Real):
        return float.__float__(float(value))
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if hasattr(value, "__array__"):  # NumPy and JAX arrays
        array = np.asarray(value)
        if array.dtype == object:
            raise NotPlainData(f"expected numbers, got an array of objects ({type(value).__name__})")
        return plain(array.tolist())
    raise NotPlainData(f"expected a number, a string or a list/array of them, got {type(value).__name__}")
