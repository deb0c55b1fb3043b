"""Combinators: layers made of layers, with Trax's data-stack semantics.

Data flows through a model as a stack of arrays. Each layer takes its `n_in`
inputs from the top of the stack and pushes its `n_out` outputs back:

    Serial(A, B)      A then B: B reads what A left on the stack.
    Parallel(A, B)    A on the first input(s), B on the next ones, side by side.
    Branch(A, B)      A and B each on a copy of the same input(s); outputs side by side.
    Select([0, 1, 1]) reorders or copies the top items: (x, y) -> (x, y, y).
    Dup(), Drop(), Swap() the stack operations: x -> (x, x); x -> (); (x, y) -> (y, x).
    Add()             (x, y) -> x + y.
    Residual(A)       x -> x + A(x):  Serial(Branch(None, A), Add()).
    Concatenate()     (x, y) -> one array, joined along the last axis.

For example, `Serial(Dup(), Dense(3), Swap(), Drop())` runs as
    x -> (x, x) -> (Dense(x), x) -> (x, Dense(x)) -> Dense(x).

A combinator's weights are the tuple of its sublayers' weights, in order. When a
combinator runs, it splits its PRNG key (`rng`) into one key per sublayer, as Trax does,
so that a layer such as `Dropout` draws new numbers whenever the model gets a new key.
"""
from __future__ import annotations

import jax.numpy as jnp

from course_lib import shapes
from course_lib.fastmath import random
from course_lib.layers.base import Fn, Layer, LayerError


class Serial(Layer):
    """Runs sublayers one after the other: the lecture's composition of layers.

        model = tl.Serial(tl.Dense(4), tl.Sigmoid(), tl.Dense(3), tl.Softmax())
        # x: float32[batch, d] -> float32[batch, 3]

    The data stack (Trax's rule): each sublayer takes its `n_in` items from the top of the
    stack and pushes its `n_out` outputs back, so a later layer reads what the earlier ones
    left, e.g. `Serial(Dup(), Dense(3))`: x -> (x, x) -> (Dense(x), x), two outputs.
    `n_in` is how deep the stack gets, `n_out` what is left on it. Inputs: one array when
    `n_in == 1`, else a tuple of `n_in` arrays; outputs likewise for `n_out`.

    Lists of layers are flattened, so `Serial([a, b], c)` is `Serial(a, b, c)`.
    An empty `Serial()` (or `Serial(None)`) is the identity on one input, with
    `n_in = n_out = 1`, as in Trax.

    Raises:
      TypeError: an argument is not a layer (e.g. `tl.Relu` without parentheses).
      LayerError: when run, the input is not `n_in` items, or a sublayer fails (the
        error's path names the combinators around it).
    """

    def __init__(self, *sublayers, name=None):
        layers = _flatten(sublayers)
        n_in, n_out = _serial_n_in_n_out(layers)
        super().__init__(n_in=n_in, n_out=n_out, name=name)
        self._sublayers = layers

    def _route(self, xs, apply):
        stack = _to_stack(xs, self.n_in)
        for layer, key in zip(self.sublayers, _keys(self)):
            inputs, stack = stack[:layer.n_in], stack[layer.n_in:]
            outputs = apply(layer, _from_stack(inputs, layer.n_in), key)
            stack = _to_stack(outputs, layer.n_out) + stack
        return _from_stack(stack, self.n_out)

    def forward(self, xs):
        return self._route(xs, _run_sublayer)

    def init_weights_and_state(self, input_signature):
        _init_sublayers(self, input_signature)


class Parallel(Layer):
    """Runs sublayer i on the i-th slice of the inputs, side by side.

    The lecture's multi-embedding: one categorical feature per input,

        tl.Parallel(*[tl.Embedding(c, d) for c in cardinality])
        # (int32[b], int32[b], ...) -> (float32[b, d], float32[b, d], ...)

    `n_in` is the sum of the sublayers' `n_in`, `n_out` the sum of their `n_out`.
    As in Trax, a list of layers is one sublayer, their `Serial`, and `None` is the
    identity on one input: `Parallel(None, Dense(3))`: (x, y) -> (x, Dense(y)).
    """

    def __init__(self, *sublayers, name=None):
        layers = _branches(sublayers)
        super().__init__(n_in=sum(layer.n_in for layer in layers),
                         n_out=sum(layer.n_out for layer in layers), name=name)
        self._sublayers = layers

    def _route(self, xs, apply):
        stack, outputs = _to_stack(xs, self.n_in), []
        for layer, key in zip(self.sublayers, _keys(self)):
            inputs, stack = stack[:layer.n_in], stack[layer.n_in:]
            outputs += _to_stack(apply(layer, _from_stack(inputs, layer.n_in), key), layer.n_out)
        return _from_stack(outputs, self.n_out)

    def forward(self, xs):
        return self._route(xs, _run_sublayer)

    def init_weights_and_state(self, input_signature):
        _init_sublayers(self, input_signature)


class Branch(Layer):
    """Runs every sublayer on (a copy of) the same inputs; their outputs go side by side.

        tl.Branch(tl.Dense(3), tl.Mean())   # x -> (Dense(x), Mean(x))

    `n_in` is the largest `n_in` of the sublayers, `n_out` the sum of their `n_out`.
    As in Trax, a list of layers is one branch, their `Serial`, and `None` is a branch
    that passes its input on unchanged (printed as `None`):

        tl.Branch(None, tl.Dense(3))             # x -> (x, Dense(x)), as in Residual
        tl.Branch([tl.Dense(3), tl.Relu()], None)  # x -> (Relu(Dense(x)), x)
    """

    def __init__(self, *sublayers, name=None):
        layers = _branches(sublayers)
        super().__init__(n_in=max((layer.n_in for layer in layers), default=1),
                         n_out=sum(layer.n_out for layer in layers), name=name)
        self._sublayers = layers
        if any(item is None or isinstance(item, (list, tuple)) for item in sublayers):
            self._sublayers_to_print = list(sublayers)  # as Trax prints them: None, [A, B]

    def _route(self, xs, apply):
        stack, outputs = _to_stack(xs, self.n_in), []
        for layer, key in zip(self.sublayers, _keys(self)):
            outputs += _to_stack(apply(layer, _from_stack(stack[:layer.n_in], layer.n_in), key),
                                 layer.n_out)
        return _from_stack(outputs, self.n_out)

    def forward(self, xs):
        return self._route(xs, _run_sublayer)

    def init_weights_and_state(self, input_signature):
        _init_sublayers(self, input_signature)


class Select(Layer):
    """Copies, drops or reorders the top `n_in` items of the stack: outputs `xs[i] for i in indices`.

        tl.Select([0, 1, 1])     # (x, y) -> (x, y, y)
        tl.Select([1, 0])        # (x, y) -> (y, x)

    Args:
      indices: which inputs to output, in order.
      n_in: how many inputs it takes; `max(indices) + 1` by default.
    """

    def __init__(self, indices, n_in=None):
        indices = [int(i) for i in indices]
        n_in = max(indices) + 1 if n_in is None else n_in
        super().__init__(n_in=n_in, n_out=len(indices),
                         name=f"Select{indices}".replace(" ", ""))
        self._indices = indices

    def forward(self, xs):
        stack = _to_stack(xs, self.n_in)
        return _from_stack([stack[i] for i in self._indices], self.n_out)


def Residual(*layers, shortcut=None) -> Layer:
    """A residual connection, x + F(x) (He et al. 2016, "Deep Residual Learning"), as Trax's.

        tl.Residual(tl.Dense(d))       # x: float32[..., d] -> x + Dense(x): float32[..., d]

    Built as Trax builds it, `Serial(Branch(shortcut, F), Add())`, where F is the one layer
    given or the `Serial` of several. With `shortcut=None` (the usual case) the input itself
    is added; otherwise `shortcut(x) + F(x)`. `n_in`/`n_out` are the Serial's: 1 and 1 for
    one-input, one-output layers. The repr is Trax's:

        Serial[
          Branch_out2[
            None
            Dense_3
          ]
          Add_in2
        ]

    Raises:
      ValueError: no layers were given.
      LayerError: when run, F(x) (or shortcut(x)) and x cannot be added: F must keep the
        input's shape, e.g. Dense(d) with d the input's last dimension.
    """
    layers = _flatten(layers)
    if not layers:
        raise ValueError("Residual(*layers) needs at least one layer, e.g. "
                         "tl.Residual(tl.Dense(d)) for x + Dense(x).")
    layer = layers[0] if len(layers) == 1 else Serial(layers)
    return Serial(Branch(shortcut, layer), Add())


def Dup() -> Layer:
    """Copies the top of the stack: x -> (x, x). n_in = 1, n_out = 2 (Trax's `tl.Dup`)."""
    return Fn("Dup", lambda x: (x, x), n_out=2)


def Drop() -> Layer:
    """Removes the top of the stack: x -> (). n_in = 1, n_out = 0 (Trax's `tl.Drop`)."""
    return Fn("Drop", lambda x: (), n_out=0)


def Swap() -> Layer:
    """Swaps the top two items of the stack: (x, y) -> (y, x). n_in = n_out = 2 (Trax's `tl.Swap`)."""
    return Fn("Swap", lambda x0, x1: (x1, x0), n_out=2)


class Add(Layer):
    """Adds the top two items of the stack: (x, y) -> x + y (Trax's `tl.Add`).

    x: float32[...], y: float32[...] -> float32[...], NumPy broadcasting allowed.

    Raises:
      LayerError: the two shapes do not broadcast; the message gives both.
    """

    def __init__(self):
        super().__init__(n_in=2, n_out=1, name="Add")

    def forward(self, xs):
        x, y = xs
        try:
            jnp.broadcast_shapes(jnp.shape(x), jnp.shape(y))
        except ValueError:
            raise LayerError(
                self, "cannot add two arrays whose shapes do not broadcast.",
                expected=f"two arrays of one shape, e.g. {shapes.describe(x)} and {shapes.describe(x)}",
                actual=shapes.describe((x, y)),
                hint="in a Residual, the layers must keep the input's shape: e.g. "
                     "Dense(n_units) with n_units equal to the input's last dimension.") from None
        return x + y


class Concatenate(Layer):
    """Joins `n_items` arrays into one along `axis` (Trax's `tl.Concatenate`).

    With the defaults (n_items=2, axis=-1):
        (float32[b, d1], float32[b, d2]) -> float32[b, d1 + d2]

    The name is `Concatenate`, or `Concatenate_axis{axis}` for another axis, so the repr
    is e.g. `Concatenate_in2`, `Concatenate_axis0_in2` or `Concatenate_in3`, as in Trax.

    Raises:
      LayerError: the inputs differ in rank, or in size along an axis other than `axis`.
    """

    def __init__(self, n_items: int = 2, axis: int = -1):
        super().__init__(n_in=n_items, n_out=1,
                         name="Concatenate" if axis == -1 else f"Concatenate_axis{axis}")
        self._n_items, self._axis = n_items, axis

    def forward(self, xs):
        xs = list(xs) if self.n_in > 1 else [xs]
        shapes_ = [jnp.shape(x) for x in xs]
        ranks = {len(s) for s in shapes_}
        ok = len(ranks) == 1 and -len(shapes_[0]) <= self._axis < len(shapes_[0])
        if ok:
            axis = self._axis % len(shapes_[0])
            ok = len({s[:axis] + s[axis + 1:] for s in shapes_}) == 1
        if not ok:
            raise LayerError(
                self, f"the {self.n_in} inputs must have the same shape except along axis "
                      f"{self._axis}.",
                expected=f"{self.n_in} arrays of one rank that differ only along axis {self._axis}",
                actual=shapes.describe(tuple(xs)),
                hint="check the layers that produce these inputs (e.g. their n_units), or "
                     "choose the axis to join with Concatenate(axis=...).")
        return jnp.concatenate(xs, axis=self._axis)


def _keys(combinator):
    """One PRNG key per sublayer, split from the combinator's key (Trax's rule)."""
    return random.split(combinator.rng, max(len(combinator.sublayers), 1))


def _run_sublayer(layer, x, key):
    return layer._run_with_rng(x, key)


def _init_sublayers(combinator, input_signature):
    """Initializes each sublayer on the signature that reaches it, with its own key."""

    def init_then_shape(layer, signature, key):
        layer.init(signature, rng=key)
        return layer.output_signature(signature)

    combinator._route(input_signature, init_then_shape)


def _to_stack(xs, n) -> list:
    return [xs] if n == 1 else list(xs)


def _from_stack(stack, n):
    return stack[0] if n == 1 else tuple(stack[:n])


def _flatten(layers) -> list:
    """The layers of `layers`, nested lists flattened; `(None,)` alone means no layers (Trax)."""
    if len(layers) == 1 and layers[0] is None:
        return []
    flat = []
    for item in layers:
        if isinstance(item, (list, tuple)):
            flat.extend(_flatten(item) if item else [])
        elif isinstance(item, Layer):
            flat.append(item)
        else:
            raise TypeError(f"A combinator takes layers; got {type(item).__name__}: {item!r}. "
                            "Did you forget the parentheses, e.g. tl.Relu() rather than tl.Relu?")
    return flat


def _branches(items) -> list:
    """Parallel's and Branch's sublayers: a list becomes its Serial, None the identity (Trax)."""
    layers = []
    for item in items:
        if item is None or isinstance(item, (list, tuple)):
            layers.append(Serial(item))
        else:
            layers.extend(_flatten([item]))   # a layer, or the TypeError for a non-layer
    return layers


def _serial_n_in_n_out(layers):
    """Trax's rule: n_in is the deepest the stack gets; n_out what is left on it."""
    depth_needed, depth = 0, 0
    for layer in layers:
        depth += layer.n_in
        depth_needed = max(depth_needed, depth)
        depth -= layer.n_out
    return (depth_needed, depth_needed - depth) if layers else (1, 1)
