"""Normalization layers: LayerNorm (Trax's `trax.layers.normalization`)."""
from __future__ import annotations

import jax
import jax.numpy as jnp

from course_lib import shapes
from course_lib.layers.base import Layer, LayerError


class LayerNorm(Layer):
    """Layer normalization (Ba, Kiros & Hinton 2016, "Layer Normalization", arXiv:1607.06450),
    as Trax's `tl.LayerNorm`.

    x: float32[..., d] -> float32[..., d]

    Each vector along the last axis is normalized with its own mean and variance, then
    scaled and shifted by learned weights:

        mean = mean(x, axis=-1);  var = mean((x - mean)**2, axis=-1)
        y = (x - mean) / sqrt(var + epsilon) * scale + bias

    With `center=False` nothing is subtracted and no bias is added:
    y = x / sqrt(mean(x**2, axis=-1) + epsilon) * scale (Trax's rule; the bias weight
    still exists, unused).

    Weights: `(scale, bias)`, `scale = ones(d)` and `bias = zeros(d)` at init, in the
    input's float dtype (float32 for integer inputs); `d` comes from the input signature.

    Args:
      center: subtract the mean and add the bias (True, the usual), or not.
      epsilon: added to the variance so that a constant vector does not divide by 0;
        1e-6 as in Trax.

    Raises:
      LayerError: the input's last dimension is not the `d` the layer was initialized for.
    """

    def __init__(self, center: bool = True, epsilon: float = 1e-6):
        super().__init__(name="LayerNorm")
        self._center, self._epsilon = center, epsilon

    def init_weights_and_state(self, input_signature):
        features = input_signature.shape[-1]
        dtype = input_signature.dtype
        dtype = jax.dtypes.canonicalize_dtype(
            dtype if jnp.issubdtype(dtype, jnp.floating) else jnp.float32)
        self.weights = (jnp.ones(features, dtype), jnp.zeros(features, dtype))

    def forward(self, x):
        scale, bias = self.weights
        if jnp.ndim(x) == 0 or jnp.shape(x)[-1] != scale.shape[0]:
            raise LayerError(
                self, f"the input's last dimension must be the {scale.shape[0]} features "
                      "its scale and bias were made for.",
                expected=f"float32[...,{scale.shape[0]}]", actual=shapes.describe(x),
                hint="fix the previous layer's output, or init() the model again with "
                     "this input.")
        mean = jnp.mean(x, axis=-1, keepdims=True)
        centered = x - mean if self._center else x
        variance = jnp.mean(centered * centered, axis=-1, keepdims=True)
        scaled = centered / jnp.sqrt(variance + self._epsilon) * scale
        return scaled + bias if self._center else scaled
