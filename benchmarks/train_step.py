"""The training step: course_lib's Loop against hand-written JAX (jax.jit + optax.adam), and the floor.

All three run in this process, on the same batches of real tweets (the capstone's
model: vocabulary ~9k, embedding 256, batch 16):

  course_lib_us   `training.Loop.run` (its whole loop: batch in, jit-compiled step, counters)
  handwritten_us  what a professional would write: one `jax.jit` function with
                  `jax.value_and_grad` and `optax.adam`, buffers donated, over the same batches
  floor_us        one elementwise pass that reads weights, gradients and Adam's two moments and
                  writes weights and moments, for the same number of parameters: no step can be faster

Adam is the same on both sides (learning rate 0.01, b1 0.9, b2 0.999, eps 1e-5, no weight decay).
Every shape is compiled before timing. Each repeat times both loops on the same steps, one after
the other, the first one alternating between repeats; `ratio` is course_lib / hand-written in wall
time (target <= 1), the median of the repeats' ratios, and `cpu_ratio` the same in CPU time of this
process, which other load on a shared machine disturbs less.
"""
from __future__ import annotations

import itertools
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks.common import classifier, prepared_tweets, tweet_batches

BATCH, LR, B1, B2, EPS = 16, 0.01, 0.9, 0.999, 1e-5


def handwritten_step(optimizer):
    def forward(params, x):
        embeddings, _, (w, b), _ = params
        features = jnp.take(embeddings, x, axis=0, mode="clip").mean(axis=1)
        return jax.nn.log_softmax(features @ w + b)

    def loss(params, x, y, weights):
        log_probs = forward(params, x)
        picked = jnp.take_along_axis(log_probs, y[:, None], axis=1)[:, 0]
        return -jnp.sum(picked * weights) / jnp.sum(weights)

    def step(params, state, x, y, weights):
        value, grads = jax.value_and_grad(loss)(params, x, y, weights)
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state, value

    return jax.jit(step, donate_argnums=(0, 1))


def floor_pass(n_params: int):
    """One fused elementwise Adam pass over `n_params` float32 values."""
    def adam_pass(w, m, v, g):
        m = B1 * m + (1 - B1) * g
        v = B2 * v + (1 - B2) * g * g
        return w - LR * m / (jnp.sqrt(v) + EPS), m, v

    return jax.jit(adam_pass, donate_argnums=(0, 1, 2))


def run(repeats: int = 15, steps: int = 200) -> dict:
    from course_lib import layers as tl, optimizers, shapes, training

    vocab, train_pos, train_neg, _, _ = prepared_tweets()
    batches = list(itertools.islice(tweet_batches(train_pos, train_neg, BATCH), steps))

    model = classifier(len(vocab))
    task = training.TrainTask(itertools.cycle(batches), tl.CrossEntropyLoss(),
                              optimizers.Adam(LR, b1=B1, b2=B2, eps=EPS, weight_decay_rate=0.0),
                              n_steps_per_checkpoint=10 ** 9)
    loop = training.Loop(model, task)

    optimizer = optax.adam(LR, b1=B1, b2=B2, eps=EPS)
    reference = classifier(len(vocab))
    params, _ = reference.init(shapes.signature(batches[0][0]))
    params = jax.tree_util.tree_map(jnp.copy, params)
    state = optimizer.init(params)
    step = handwritten_step(optimizer)

    n_params = sum(int(np.prod(w.shape)) for w in jax.tree_util.tree_leaves(params))
    flat = [jnp.zeros(n_params, jnp.float32) for _ in range(4)]
    adam_pass = floor_pass(n_params)

    def timed(work):
        """(wall, CPU) microseconds per step of `work()`; CPU time counts this process's threads only,
        so it is less sensitive to other load on the machine."""
        wall, cpu = time.perf_counter(), time.process_time()
        work()
        return ((time.perf_counter() - wall) / steps * 1e6, (time.process_time() - cpu) / steps * 1e6)

    def loop_steps():
        loop.run(steps)
        jax.block_until_ready(loop.model.weights)

    def handwritten_steps():
        nonlocal params, state
        for x, y, w in batches:
            params, state, _ = step(params, state, x, y, w)
        jax.block_until_ready(params)

    def floor_steps():
        w, m, v, g = flat
        for _ in range(steps):
            w, m, v = adam_pass(w, m, v, g)
        jax.block_until_ready(w)
        flat[:3] = [w, m, v]

    loop_steps(), handwritten_steps(), floor_steps()  # compile every shape first
    runs = {key: [] for key in ("course_lib_us", "handwritten_us", "floor_us", "ratio",
                                "course_lib_cpu_us", "handwritten_cpu_us", "cpu_ratio")}
    for repeat in range(repeats):
        if repeat % 2:  # alternate which goes first, so that neither always gets a warmer machine
            theirs, ours = timed(handwritten_steps), timed(loop_steps)
        else:
            ours, theirs = timed(loop_steps), timed(handwritten_steps)
        runs["course_lib_us"].append(ours[0])
        runs["handwritten_us"].append(theirs[0])
        runs["ratio"].append(ours[0] / theirs[0])
        runs["course_lib_cpu_us"].append(ours[1])
        runs["handwritten_cpu_us"].append(theirs[1])
        runs["cpu_ratio"].append(ours[1] / theirs[1])
        runs["floor_us"].append(timed(floor_steps)[0])
    median = {k: statistics.median(v) for k, v in runs.items()}
    return {**median, "n_params": n_params, "batch_size": BATCH, "vocab_size": len(vocab),
            "steps_per_run": steps, "runs": runs}
