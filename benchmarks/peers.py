"""The train step as others write it, for `train_step`: the same model, loss and Adam in Flax NNX
(`nnx.jit`) and in Equinox (`eqx.filter_jit`), each its library's own idiom with buffers donated.

The model is the benchmark's `classifier`: Embedding(V, d) -> mean over the tokens -> Dense(2) ->
log-softmax; the loss the weighted mean negative log-likelihood; Adam from optax. Each `make_*`
returns `steps(batches) -> None`, which trains on the batches and waits for the result, or, when
the library is not installed, a str that says why it is skipped.
"""
from __future__ import annotations

import importlib.util

import jax
import jax.numpy as jnp


def _loss(log_probs, y, weights):
    picked = jnp.take_along_axis(log_probs, y[:, None], axis=1)[:, 0]
    return -jnp.sum(picked * weights) / jnp.sum(weights)


def missing(module: str, extra: str) -> str | None:
    """Why a peer is skipped: its package is not installed (None if it is)."""
    if importlib.util.find_spec(module) is None:
        return f"{module} is not installed ({extra})"
    return None


def make_nnx(vocab_size: int, d: int, optimizer):
    """Flax NNX: an `nnx.Module`, `nnx.Optimizer`, `nnx.value_and_grad` and `nnx.jit`, donated."""
    why = missing("flax", "pip install flax, in the dev extra")
    if why:
        return why
    from flax import nnx

    class Classifier(nnx.Module):
        def __init__(self, rngs):
            self.embed = nnx.Embed(vocab_size, d, rngs=rngs)
            self.dense = nnx.Linear(d, 2, rngs=rngs)

        def __call__(self, x):
            return jax.nn.log_softmax(self.dense(self.embed(x).mean(axis=1)))

    model = Classifier(nnx.Rngs(0))
    trainer = nnx.Optimizer(model, optimizer, wrt=nnx.Param)

    @nnx.jit(donate_argnums=(0, 1))
    def step(model, trainer, x, y, weights):
        loss, grads = nnx.value_and_grad(lambda m: _loss(m(x), y, weights))(model)
        trainer.update(model, grads)
        return loss

    def steps(batches):
        for x, y, weights in batches:
            loss = step(model, trainer, x, y, weights)
        jax.block_until_ready((loss, nnx.state(model)))

    return steps


def make_equinox(vocab_size: int, d: int, optimizer):
    """Equinox: an `eqx.Module`, `eqx.filter_value_and_grad` and `eqx.filter_jit(donate='all')`."""
    why = missing("equinox", "the bench extra: pip install -e '.[bench]', which `make setup` does")
    if why:
        return why
    import equinox as eqx

    class Classifier(eqx.Module):
        embed: eqx.nn.Embedding
        dense: eqx.nn.Linear

        def __init__(self, key):
            k1, k2 = jax.random.split(key)
            self.embed = eqx.nn.Embedding(vocab_size, d, key=k1)
            self.dense = eqx.nn.Linear(d, 2, key=k2)

        def __call__(self, x):                      # x: int32[batch, seq_len]
            features = jnp.take(self.embed.weight, x, axis=0).mean(axis=1)
            return jax.nn.log_softmax(jax.vmap(self.dense)(features))

    state = {"model": Classifier(jax.random.PRNGKey(0))}
    state["opt"] = optimizer.init(eqx.filter(state["model"], eqx.is_array))

    @eqx.filter_jit(donate="all")
    def step(model, opt_state, x, y, weights):
        loss, grads = eqx.filter_value_and_grad(lambda m: _loss(m(x), y, weights))(model)
        updates, opt_state = optimizer.update(grads, opt_state, eqx.filter(model, eqx.is_array))
        return eqx.apply_updates(model, updates), opt_state, loss

    def steps(batches):
        model, opt_state = state["model"], state["opt"]
        for x, y, weights in batches:
            model, opt_state, loss = step(model, opt_state, x, y, weights)
        state["model"], state["opt"] = model, opt_state
        jax.block_until_ready((loss, model))

    return steps
