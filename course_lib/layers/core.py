"""The basic layers: Dense, Embedding, Mean, the activations, and Dropout.

Shapes use `dtype[dims]`; `...` means any leading dimensions (usually the batch).
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from course_lib import shapes
from course_lib.fastmath import random
from course_lib.layers.base import Fn, Layer, LayerError


class Dense(Layer):
    """A fully connected layer: `y = x @ w + b` (the lecture's z = W a, plus a bias).

    x: float32[..., d_in] -> float32[..., n_units]

    Weights: `(w, b)` with `w: float32[d_in, n_units]` (Glorot-uniform, Glorot &
    Bengio 2010) and `b: float32[n_units]` (normal, stddev 1e-6), as Trax's Dense;
    just `w` when `use_bias=False`. `d_in` comes from the input signature at `init`.

    Raises:
      LayerError: the input's last dimension is not `d_in`.
    """

    def __init__(self, n_units: int, use_bias: bool = True):
        super().__init__(name=f"Dense_{n_units}")
        self._n_units, self._use_bias = n_units, use_bias

    def init_weights_and_state(self, input_signature):
        d_in = input_signature.shape[-1]
        rng_w, rng_b = random.split(self.rng)
        # jax.nn.initializers.glorot_uniform()(rng_w, (d_in, n_units)), drawn by fastmath.random (the same
        # numbers, compiled once per size, not per shape): uniform in [-1, 1) * sqrt(3 / fan_avg).
        variance = jnp.array(1.0 / ((d_in + self._n_units) / 2), dtype=jnp.float32)
        w = random.uniform(rng_w, (d_in, self._n_units), jnp.float32, -1) * jnp.sqrt(3 * variance)
        b = 1e-6 * random.normal(rng_b, (self._n_units,))
        self.weights = (w, b) if self._use_bias else w

    def forward(self, x):
        w, b = self.weights if self._use_bias else (self.weights, None)
        if x.ndim == 0 or x.shape[-1] != w.shape[0]:
            raise LayerError(
                self, f"the input's last dimension must match the {w.shape[0]} rows of w.",
                expected=f"float32[...,{w.shape[0]}]", actual=shapes.describe(x),
                hint=f"this layer was initialized for {w.shape[0]} input features; fix the "
                     "previous layer's output, or init() the model again with this input.")
        y = jnp.dot(x, w)
        return y + b if self._use_bias else y


class Embedding(Layer):
    """A trainable lookup table: token id i -> row i of `w`.

    x: int32[...] -> float32[..., d_feature], e.g. int32[batch, seq_len] -> float32[batch, seq_len, d_feature]

    Weights: `w: float32[vocab_size, d_feature]`, truncated normal with stddev
    1/sqrt(d_feature) (Trax's default scaling).

    Out-of-range ids are clipped into [0, vocab_size - 1], as Trax does: an id
    >= vocab_size reads the last row and a negative id reads row 0. Nothing is
    raised, because inside `jit` the ids are not known; map unknown words to an
    UNK id when you build the input instead.

    Raises:
      LayerError: the ids are not integers.
    """

    def __init__(self, vocab_size: int, d_feature: int):
        super().__init__(name=f"Embedding_{vocab_size}_{d_feature}")
        self._vocab_size, self._d_feature = vocab_size, d_feature

    def init_weights_and_state(self, input_signature):
        stddev = 1.0 / jnp.sqrt(self._d_feature)
        self.weights = stddev * random.truncated_normal(
            self.rng, -2.0, 2.0, (self._vocab_size, self._d_feature))

    def forward(self, x):
        if not jnp.issubdtype(x.dtype, jnp.integer):
            raise LayerError(
                self, "takes integer token ids.",
                expected="int32[batch, seq_len]", actual=shapes.describe(x),
                hint="build the input with np.array(ids, dtype=np.int32).")
        return jnp.take(self.weights, x, axis=0, mode="clip")  # ids clipped into [0, vocab_size - 1]


def Mean(axis: int = -1, keepdims: bool = False) -> Layer:
    """Averages over `axis`: with axis=1, float32[batch, seq_len, d] -> float32[batch, d].

    For word embeddings of shape (batch, seq_len, d_feature), `axis=1` averages
    the words of each tweet into one vector. No weights.
    """
    return Fn("Mean", lambda x: jnp.mean(x, axis=axis, keepdims=keepdims))


def MaskedMean(axis: int = 1, pad_id: int = 0) -> Layer:
    """Averages the embeddings of the real tokens only, ignoring padding.

    Two inputs, Trax's stack order: `(embeddings, ids)`,
    `embeddings: float32[batch, seq_len, d]`, `ids: int32[batch, seq_len]` ->
    `float32[batch, d]`: sum of the rows whose id is not `pad_id`, divided by their
    number (at least 1, so an all-padding row gives zeros, not NaN). Unlike `Mean`,
    the result does not depend on how much padding a batch has.

        tl.Serial(
            tl.Branch(tl.Embedding(vocab_size, d), None),   # ids -> (embeddings, ids)
            tl.MaskedMean(),                                # -> float32[batch, d]
            tl.Dense(2), tl.LogSoftmax())

    `axis` is the sequence axis of `embeddings` (1) and the last axis of `ids`. No weights.
    """
    return Fn("MaskedMean", lambda embeddings, ids: _masked_mean(embeddings, ids, axis, pad_id))


# Compiled with jax.jit: run eagerly (model(x) outside a training step), it is one XLA program per
# shape instead of one per operation; inside a jitted step it is inlined as before.
@partial(jax.jit, static_argnums=(2, 3))
def _masked_mean(embeddings, ids, axis, pad_id):
    mask = (ids != pad_id).astype(embeddings.dtype)
    mask = jnp.expand_dims(mask, -1) if embeddings.ndim == mask.ndim + 1 else mask
    total = jnp.sum(embeddings * mask, axis=axis)
    count = jnp.maximum(jnp.sum(mask, axis=axis), 1)
    return total / count


def Relu() -> Layer:
    """Rectified linear unit, g(z) = max(0, z) elementwise: float32[...] -> float32[...]."""
    return Fn("Relu", lambda x: jnp.maximum(x, 0))


def Sigmoid() -> Layer:
    """Logistic sigmoid, 1 / (1 + exp(-z)) elementwise: float32[...] -> float32[...]."""
    return Fn("Sigmoid", jax.nn.sigmoid)


def Tanh() -> Layer:
    """Hyperbolic tangent elementwise: float32[...] -> float32[...]."""
    return Fn("Tanh", jnp.tanh)


def Softmax(axis: int = -1) -> Layer:
    """exp(z_i) / sum_j exp(z_j) along `axis`: float32[..., n] -> float32[..., n], rows sum to 1.

    `jax.nn.softmax`: it subtracts the largest z first, so exp never overflows.
    """
    return Fn("Softmax", lambda x: _softmax(x, axis))


@partial(jax.jit, static_argnums=1)   # one program per shape, as _masked_mean above and jax.nn.log_softmax
def _softmax(x, axis):
    return jax.nn.softmax(x, axis=axis)


def LogSoftmax(axis: int = -1) -> Layer:
    """log(softmax(z)) = z - logsumexp(z) along `axis`: float32[..., n] -> float32[..., n].

    `jax.nn.log_softmax`, which computes z - logsumexp(z) (the largest z subtracted first): it
    stays finite where log(softmax(z)) would underflow to log(0).
    """
    return Fn("LogSoftmax", lambda x: jax.nn.log_softmax(x, axis=axis))


class Dropout(Layer):
    """Dropout (Srivastava et al. 2014, "Dropout: A Simple Way to Prevent Neural Networks
    from Overfitting", JMLR 15), as Trax's `tl.Dropout`.

    x: float32[...] -> float32[...], same shape.

    In `mode='train'` each value is kept with probability `1 - rate` and set to 0 otherwise,
    and the kept values are scaled by `1 / (1 - rate)` ("inverted dropout"), so the
    expected value of every output equals its input: E[y] = (1 - rate) * x / (1 - rate) = x.
    In `mode='eval'` or `'predict'` the layer is the identity (as is `rate=0`).

    The mask is drawn from the layer's key, `self.rng`: inside a combinator, each call
    gets the key split from the combinator's, and `training.Loop` passes a new key every
    step, so each step drops other values. The same key gives the same mask. No weights.

    Args:
      rate: the probability of dropping a value, in [0, 1).
      shared_axes: axes along which the mask is the same (size 1, broadcast), e.g.
        `[0]` drops the same features for every example of the batch.
      mode: 'train', 'eval' or 'predict'; build the eval model with mode='eval'.

    Raises:
      ValueError: `rate` is not in [0, 1), or `mode` is not one of the three.
      LayerError: a shared axis is not an axis of the input.
    """

    MODES = ("train", "eval", "predict")

    def __init__(self, rate: float = 0.0, shared_axes=None, mode: str = "train"):
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"Dropout(rate={rate!r}): rate is the probability of dropping a "
                             "value and must be in [0, 1), e.g. rate=0.1.")
        if mode not in self.MODES:
            raise ValueError(f"Dropout(mode={mode!r}): mode must be one of {self.MODES}; "
                             "use 'train' to drop, 'eval' or 'predict' to pass values through.")
        super().__init__(name="Dropout")
        self._rate = float(rate)
        self._shared_axes = [] if shared_axes is None else list(shared_axes)
        self._mode = mode

    def forward(self, x):
        if self._mode != "train" or self._rate == 0.0:
            return x
        mask_shape = list(jnp.shape(x))
        for axis in self._shared_axes:
            if not -len(mask_shape) <= axis < len(mask_shape):
                raise LayerError(
                    self, f"shared axis {axis} is not an axis of the input.",
                    expected=f"an input with more than {axis if axis >= 0 else -axis - 1} axes",
                    actual=shapes.describe(x),
                    hint=f"choose shared_axes among -{len(mask_shape)}..{len(mask_shape) - 1}.")
            mask_shape[axis] = 1
        keep_prob = 1.0 - self._rate
        keep = random.bernoulli(self.rng, keep_prob, tuple(mask_shape))
        return jnp.where(keep, x / keep_prob, jnp.zeros((), jnp.result_type(x, keep_prob)))
