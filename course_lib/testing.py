"""What the assignments' test cells are made of: probes that call your code, and plain data.

A graded test cell has two parts. A *probe* is a function marked `@probe`: it calls
your code on some inputs and returns what it got, as plain data. The rest of the
cell (the *judge*) checks that data against the expected values:

    @probe
    def relu_outputs(x):                  # calls your code
        return Relu()(x)

    x = np.array([-1.0, 2.0])
    got = relu_outputs(x)                 # plain data: a NumPy array
    assert np.allclose(got, [0.0, 2.0]), f"expected [0, 2], got {got}"

In your notebook both parts run in your kernel. When the notebook is graded, only the
probes run in your kernel, on inputs the grader sends; the judge runs in the grader's
own process, which your code cannot reach, and hidden tests' expected values never
enter your kernel. What a probe returns crosses between the two as *wire data*
(`encode`/`decode`): numbers, strings, booleans, None, NumPy arrays of numbers, and
lists and string-keyed dicts of them; in your notebook a probe's result makes the same
round trip, so a test sees the same types wherever it runs.

`plain` turns a value into Python's own numbers, strings and lists, so that a comparison
is Python's own: an object whose `==` always answers True cannot pass a test.
"""
from __future__ import annotations

import base64
import functools
import json
import math
import numbers

import numpy as np

# The media type of a probe's result in the kernel's display messages.
MIME = "application/x.course-probe+text"
MAX_DEPTH = 32                      # nesting of lists and dicts in wire data
MAX_ITEMS = 1_000_000               # values (list items, dict entries, arrays) in one wire document
DTYPES = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64"}


class NotPlainData(TypeError):
    """The value is not numbers, strings, or lists/tuples/dicts/arrays of them."""


class ProbeFailed(Exception):
    """The code a probe called raised.

    Attributes:
      probe: the probe's name.
      ename: the name of the exception your code raised, e.g. 'TypeError'.
      evalue: its message.
    """

    def __init__(self, probe: str, ename: str, evalue: str):
        super().__init__(f"{ename}: {evalue}" if evalue else ename)
        self.probe, self.ename, self.evalue = probe, ename, evalue


def probe(function):
    """Marks `function` as a test's probe: the part of a test that runs your code.

    Called, it takes its arguments and returns `function`'s result after a round trip
    through wire data (`encode`, then `decode`), exactly as the grader sends and receives
    them: `function` gets copies, never the caller's own arrays.

    Raises:
      ProbeFailed: `function` raised (its exception's name and message are kept), or returned
        something that is not wire data (ename 'NotPlainData'), as in the grader.
      NotPlainData: the arguments are not wire data.
    """
    @functools.wraps(function)
    def called(*args, **kwargs):
        args, kwargs = decode(json.dumps(encode([list(args), kwargs])))
        try:
            return decode(json.dumps(encode(function(*args, **kwargs))))
        except Exception as error:
            raise ProbeFailed(function.__name__, type(error).__name__, _message(error)) from error

    called.__probe__ = True
    return called


def _message(error: BaseException) -> str:
    try:
        return str(error)[:2000]
    except Exception:   # an exception whose __str__ raises
        return "(its message could not be read)"


def encode(value, _depth: int = 0):
    """`value` as JSON-ready wire data. Arrays (NumPy, JAX) of numbers become
    `{"__ndarray__": [dtype, shape, base64 bytes]}`; tuples become lists; NumPy
    scalars become Python numbers; floats that JSON lacks (nan, inf) `{"__float__": "nan"}`.

    Raises:
      NotPlainData: something in `value` is none of these (the message says what), or
        it is nested deeper than MAX_DEPTH.
    """
    if _depth > MAX_DEPTH:
        raise NotPlainData(f"the value is nested deeper than {MAX_DEPTH} levels")
    if value is None or type(value) in (bool, str, int):
        return value
    if type(value) is float:
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, (np.generic, np.ndarray)) or hasattr(value, "__array__"):
        return _encode_array(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, numbers.Integral):
        return int.__index__(int(value))
    if isinstance(value, numbers.Real):
        return encode(float.__float__(float(value)))
    if isinstance(value, (list, tuple)):
        return [encode(item, _depth + 1) for item in value]
    if isinstance(value, dict):
        if not all(type(key) is str for key in value):
            raise NotPlainData("a dict in a test's result must have string keys")
        if "__ndarray__" in value or "__float__" in value:
            raise NotPlainData("'__ndarray__' and '__float__' are reserved keys")
        return {key: encode(item, _depth + 1) for key, item in value.items()}
    raise NotPlainData(
        f"expected numbers, strings, arrays of numbers, or lists/dicts of them; got {type(value).__name__}")


def _encode_array(value):
    array = np.asarray(value)
    if array.dtype.name not in DTYPES:
        if array.dtype.kind == "f" or array.dtype.name == "bfloat16":
            array = array.astype(np.float32)      # e.g. bfloat16
        else:
            raise NotPlainData(f"expected an array of numbers, got an array of {array.dtype}")
    data = base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")
    return {"__ndarray__": [array.dtype.name, list(array.shape), data]}


class WireError(ValueError):
    """A wire document is malformed or over its limits; the message says how."""


def decode(text: str, max_bytes: int = 64 * 1024 * 1024):
    """The value of the wire document `text` (see `encode`).

    Safe on untrusted input: its size is checked before it is parsed, its nesting before
    JSON's parser recurses, and arrays are rebuilt from bytes (nothing is executed).

    Raises:
      WireError: `text` is longer than `max_bytes`, nested deeper than MAX_DEPTH, holds more
        than MAX_ITEMS values, is not JSON, or holds something wire data cannot.
    """
    if not isinstance(text, str):
        raise WireError(f"a wire document is text, got {type(text).__name__}")
    if len(text) > max_bytes:
        raise WireError(f"the result is {len(text)} bytes, more than the limit of {max_bytes}")
    check_depth(text, MAX_DEPTH + 2)
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise WireError(f"the result is not valid JSON: {str(error)[:200]}") from None
    budget = [MAX_ITEMS]
    return _decode(document, budget)


def check_depth(text: str, limit: int) -> None:
    """Raises WireError if the JSON `text` nests lists and objects deeper than `limit`.

    One pass over the text, in linear time (a quick count first: few brackets, no nesting).
    """
    if text.count("[") + text.count("{") <= limit:
        return
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                raise WireError(f"the result is nested deeper than {limit} levels")
        elif char in "]}":
            depth -= 1


def _decode(node, budget):
    budget[0] -= 1
    if budget[0] < 0:
        raise WireError(f"the result holds more than {MAX_ITEMS} values")
    if node is None or type(node) in (bool, int, float, str):
        return node
    if isinstance(node, list):
        return [_decode(item, budget) for item in node]
    if isinstance(node, dict):
        if "__ndarray__" in node:
            return _decode_array(node["__ndarray__"])
        if "__float__" in node:
            text = node["__float__"]
            if text not in ("nan", "inf", "-inf"):
                raise WireError(f"not a float: {str(text)[:40]!r}")
            return float(text)
        return {str(key): _decode(value, budget) for key, value in node.items()}
    raise WireError(f"unexpected {type(node).__name__} in the result")


def _decode_array(spec):
    try:
        dtype, shape, data = spec
        assert dtype in DTYPES and isinstance(shape, list) and len(shape) <= MAX_DEPTH
        assert all(type(n) is int and n >= 0 for n in shape) and isinstance(data, str)
        raw = base64.b64decode(data, validate=True)
        size = math.prod(shape)
        assert size * np.dtype(dtype).itemsize == len(raw)
    except (AssertionError, TypeError, ValueError):
        raise WireError("malformed array in the result") from None
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


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
