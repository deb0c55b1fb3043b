"""Loss and metric layers. Each takes three inputs from the data stack:

    (model_output: float32[batch, n_classes], targets: int32[batch], weights: float32[batch]) -> float32[]

and returns the weighted mean over the batch, sum_i w_i * value_i / sum_i w_i,
so that examples with weight 0 (padding) do not count.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from course_lib.layers.base import Fn, Layer


def CrossEntropyLoss() -> Layer:
    """Weighted mean cross-entropy of *log-probabilities* (the output of `LogSoftmax`).

    loss = sum_i w_i * (-log_probs[i, targets[i]]) / sum_i w_i
    """
    def f(log_probs, targets, weights):
        return _weighted_mean(_negative_log_likelihood(log_probs, targets), weights)
    return Fn("CrossEntropyLoss", f)


def WeightedCategoryCrossEntropy() -> Layer:
    """Weighted mean cross-entropy of *logits*: applies log-softmax first.

    On log-probabilities it equals `CrossEntropyLoss`, since log-softmax leaves them unchanged.
    """
    def f(logits, targets, weights):
        return _weighted_mean(_negative_log_likelihood(jax.nn.log_softmax(logits, axis=-1), targets), weights)
    return Fn("WeightedCategoryCrossEntropy", f)


def Accuracy() -> Layer:
    """Weighted fraction of examples whose highest-scoring class is the target."""
    def f(model_output, targets, weights):
        return _weighted_mean(_is_correct(model_output, targets), weights)
    return Fn("Accuracy", f)


def WeightedCategoryAccuracy() -> Layer:
    """Trax's name for the weighted accuracy of class predictions (same value as `Accuracy`)."""
    def f(model_output, targets, weights):
        return _weighted_mean(_is_correct(model_output, targets), weights)
    return Fn("WeightedCategoryAccuracy", f)


def _negative_log_likelihood(log_probs, targets):
    one_hot = jax.nn.one_hot(targets, log_probs.shape[-1], dtype=log_probs.dtype)
    return -jnp.sum(log_probs * one_hot, axis=-1)


def _is_correct(model_output, targets):
    return (jnp.argmax(model_output, axis=-1) == targets).astype(jnp.float32)


def _weighted_mean(values, weights):
    weights = jnp.asarray(weights, dtype=values.dtype)
    return jnp.sum(values * weights) / jnp.sum(weights)
