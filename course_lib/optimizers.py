"""Optimizers with Trax's interface: per-array `init` and `update`, applied over a tree of weights.

An optimizer says how to change one weight array given its gradient:

    slots = opt.init(w)                                           # per-array state, e.g. Adam's (m, v)
    w, slots = opt.update(step, g, w, slots, opt.opt_params)      # one step; `step` counts from 0

`tree_init` and `tree_update` apply these to every array in a model's weights
(a pytree: nested tuples of arrays), which is what the training loop calls.
Everything here is pure and runs inside `jax.jit`.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp


class Optimizer:
    """Base class: subclasses override `init` and `update` for a single weight array.

    Args:
      learning_rate: step size alpha.
      **opt_params: the optimizer's other hyperparameters (floats), passed to
        `update` as the dict `opt_params`.
    """

    def __init__(self, learning_rate: float = 0.01, **opt_params):
        self._opt_params = {"learning_rate": learning_rate, **opt_params}

    @property
    def opt_params(self) -> dict:
        """The hyperparameters, e.g. {'learning_rate': 0.01, 'b1': 0.9, ...}."""
        return dict(self._opt_params)

    def init(self, weights):
        """Returns the slots (per-array state) for one weight array."""
        raise NotImplementedError

    def update(self, step, grads, weights, slots, opt_params):
        """Returns `(new_weights, new_slots)` for one weight array; `step` counts from 0."""
        raise NotImplementedError

    def tree_init(self, weight_tree):
        """Slots for every array of a weight tree: a list, in `jax.tree_util.tree_leaves` order."""
        return [self.init(w) for w in jax.tree_util.tree_leaves(weight_tree)]

    def tree_update(self, step, grad_tree, weight_tree, slots, opt_params):
        """Applies `update` to every array; returns `(new_weight_tree, new_slots)`.

        Args:
          step: int32[] or int, the number of steps done before this one (0 on the first).
          grad_tree: gradients, the same tree structure as `weight_tree`.
          slots: from `tree_init` (or the previous `tree_update`).
          opt_params: dict of hyperparameters, usually `self.opt_params`.
        """
        weights, treedef = jax.tree_util.tree_flatten(weight_tree)
        grads = treedef.flatten_up_to(grad_tree)
        updated = [self.update(step, g, w, s, opt_params)
                   for g, w, s in zip(grads, weights, slots)]
        new_weights = jax.tree_util.tree_unflatten(treedef, [w for w, _ in updated])
        return new_weights, [s for _, s in updated]


class SGD(Optimizer):
    """Stochastic gradient descent: w <- w - learning_rate * g. No slots."""

    def init(self, weights):
        return None

    def update(self, step, grads, weights, slots, opt_params):
        new_weights = weights - (opt_params["learning_rate"] * grads).astype(weights.dtype)
        return new_weights, None


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015, Algorithm 1) with Trax's decoupled weight decay.

    For each weight array, with g its gradient and t = step + 1:

        m <- b1 * m + (1 - b1) * g              first moment estimate
        v <- b2 * v + (1 - b2) * g**2           second moment estimate
        mhat = m / (1 - b1**t)                  bias corrections
        vhat = v / (1 - b2**t)
        w <- (1 - weight_decay_rate) * w - learning_rate * mhat / (sqrt(vhat) + eps)

    With `weight_decay_rate=0` this is exactly Algorithm 1 (and `optax.adam`).
    Defaults are Trax's: learning_rate 1e-4, weight_decay_rate 1e-5, b1 0.9,
    b2 0.999, eps 1e-5. Slots: `(m, v)`, both shaped like the weights.
    """

    def __init__(self, learning_rate: float = 0.0001, weight_decay_rate: float = 1e-5,
                 b1: float = 0.9, b2: float = 0.999, eps: float = 1e-5):
        super().__init__(learning_rate=learning_rate, weight_decay_rate=weight_decay_rate,
                         b1=b1, b2=b2, eps=eps)

    def init(self, weights):
        return jnp.zeros_like(weights), jnp.zeros_like(weights)

    def update(self, step, grads, weights, slots, opt_params):
        m, v = slots
        learning_rate = opt_params["learning_rate"]
        weight_decay_rate = opt_params["weight_decay_rate"]
        b1, b2, eps = opt_params["b1"], opt_params["b2"], opt_params["eps"]
        m = (1 - b1) * grads + b1 * m                 # First moment estimate.
        v = (1 - b2) * (grads ** 2) + b2 * v          # Second moment estimate.
        mhat = m / (1 - b1 ** (step + 1))             # Bias correction.
        vhat = v / (1 - b2 ** (step + 1))
        new_weights = ((1 - weight_decay_rate) * weights
                       - learning_rate * mhat / (jnp.sqrt(vhat) + eps)).astype(weights.dtype)
        return new_weights, (m, v)
