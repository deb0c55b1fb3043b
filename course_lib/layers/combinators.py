"""Combinators: layers made of layers, with Trax's data-stack semantics.

Data flows through a model as a stack of arrays. Each layer takes its `n_in`
inputs from the top of the stack and pushes its `n_out` outputs back:

    Serial(A, B)      A then B: B reads what A left on the stack.
    Parallel(A, B)    A on the first input(s), B on the next ones, side by side.
    Branch(A, B)      A and B each on a copy of the same input(s); outputs side by side.
    Select([0, 1, 1]) reorders or copies the top items: (x, y) -> (x, y, y).

A combinator's weights are the tuple of its sublayers' weights, in order.
"""
from __future__ import annotations

from course_lib.fastmath import random
from course_lib.layers.base import Layer


class Serial(Layer):
    """Runs sublayers one after the other: the lecture's composition of layers.

        model = tl.Serial(tl.Dense(4), tl.Sigmoid(), tl.Dense(3), tl.Softmax())
        # x: float32[batch, d] -> float32[batch, 3]

    Lists of layers are flattened, so `Serial([a, b], c)` is `Serial(a, b, c)`.
    `n_in` and `n_out` follow from the sublayers' (Trax's rule). An empty `Serial()` is the
    identity on one input, with `n_in = n_out = 1` (Trax's reports 0 and 0), so that it can
    stand in a model like any one-input layer.
    """

    def __init__(self, *sublayers, name=None):
        layers = _flatten(sublayers)
        n_in, n_out = _serial_n_in_n_out(layers)
        super().__init__(n_in=n_in, n_out=n_out, name=name)
        self._sublayers = layers

    def _route(self, xs, apply):
        stack = _to_stack(xs, self.n_in)
        for layer in self.sublayers:
            inputs, stack = stack[:layer.n_in], stack[layer.n_in:]
            outputs = apply(layer, _from_stack(inputs, layer.n_in))
            stack = _to_stack(outputs, layer.n_out) + stack
        return _from_stack(stack, self.n_out)

    def forward(self, xs):
        return self._route(xs, lambda layer, x: layer._run(x))

    def init_weights_and_state(self, input_signature):
        _init_sublayers(self, input_signature)


class Parallel(Layer):
    """Runs sublayer i on the i-th slice of the inputs, side by side.

    The lecture's multi-embedding: one categorical feature per input,

        tl.Parallel(*[tl.Embedding(c, d) for c in cardinality])
        # (int32[b], int32[b], ...) -> (float32[b, d], float32[b, d], ...)

    `n_in` is the sum of the sublayers' `n_in`, `n_out` the sum of their `n_out`.
    """

    def __init__(self, *sublayers, name=None):
        layers = _flatten(sublayers)
        super().__init__(n_in=sum(layer.n_in for layer in layers),
                         n_out=sum(layer.n_out for layer in layers), name=name)
        self._sublayers = layers

    def _route(self, xs, apply):
        stack, outputs = _to_stack(xs, self.n_in), []
        for layer in self.sublayers:
            inputs, stack = stack[:layer.n_in], stack[layer.n_in:]
            outputs += _to_stack(apply(layer, _from_stack(inputs, layer.n_in)), layer.n_out)
        return _from_stack(outputs, self.n_out)

    def forward(self, xs):
        return self._route(xs, lambda layer, x: layer._run(x))

    def init_weights_and_state(self, input_signature):
        _init_sublayers(self, input_signature)


class Branch(Layer):
    """Runs every sublayer on (a copy of) the same inputs; their outputs go side by side.

        tl.Branch(tl.Dense(3), tl.Mean())   # x -> (Dense(x), Mean(x))

    `n_in` is the largest `n_in` of the sublayers, `n_out` the sum of their `n_out`.
    """

    def __init__(self, *sublayers, name=None):
        layers = _flatten(sublayers)
        super().__init__(n_in=max((layer.n_in for layer in layers), default=1),
                         n_out=sum(layer.n_out for layer in layers), name=name)
        self._sublayers = layers

    def _route(self, xs, apply):
        stack, outputs = _to_stack(xs, self.n_in), []
        for layer in self.sublayers:
            outputs += _to_stack(apply(layer, _from_stack(stack[:layer.n_in], layer.n_in)),
                                 layer.n_out)
        return _from_stack(outputs, self.n_out)

    def forward(self, xs):
        return self._route(xs, lambda layer, x: layer._run(x))

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


def _init_sublayers(combinator, input_signature):
    """Initializes each sublayer on the signature that reaches it, with its own key."""
    keys = iter(random.split(combinator.rng, max(len(combinator.sublayers), 1)))

    def init_then_shape(layer, signature):
        layer.init(signature, rng=next(keys))
        return layer.output_signature(signature)

    combinator._route(input_signature, init_then_shape)


def _to_stack(xs, n) -> list:
    return [xs] if n == 1 else list(xs)


def _from_stack(stack, n):
    return stack[0] if n == 1 else tuple(stack[:n])


def _flatten(layers) -> tuple:
    flat = []
    for item in layers:
        if isinstance(item, (list, tuple)):
            flat.extend(_flatten(item))
        elif isinstance(item, Layer):
            flat.append(item)
        else:
            raise TypeError(f"A combinator takes layers; got {type(item).__name__}: {item!r}. "
                            "Did you forget the parentheses, e.g. tl.Relu() rather than tl.Relu?")
    return tuple(flat)


def _serial_n_in_n_out(layers):
    """Trax's rule: n_in is the deepest the stack gets; n_out what is left on it."""
    depth_needed, depth = 0, 0
    for layer in layers:
        depth += layer.n_in
        depth_needed = max(depth_needed, depth)
        depth -= layer.n_out
    return (depth_needed, depth_needed - depth) if layers else (1, 1)
