"""The training step: course_lib's Loop against hand-written JAX, Flax NNX and Equinox, and the floor.

All run in this process, on the same batches of real tweets (the capstone's model: vocabulary
~9k, embedding 256, batch 16, each batch padded to its longest tweet):

  course_lib_us   `training.Loop.run` (its whole loop: batch in, jit-compiled step, counters)
  handwritten_us  what a professional would write: one `jax.jit` function with
                  `jax.value_and_grad` and `optax.adam`, buffers donated, over the same batches
  nnx_us          Flax NNX: `nnx.Optimizer` and `nnx.jit`, donated (benchmarks/peers.py)
  equinox_us      Equinox: `eqx.filter_jit(donate='all')` (the bench extra; skipped, with the
                  reason in `skipped`, when equinox is not installed)
  floor_us        the memory floor: the bytes a step must move, reading the weights and Adam's
                  two moments and writing them back (6 arrays of n_params float32), over the
                  memory bandwidth measured in the same repeat (a large array copy, read + write)
  adam_pass_us    one jit-compiled elementwise Adam pass (reads weights, gradients, moments,
                  writes weights and moments) for the same number of parameters

Adam is the same everywhere (learning rate 0.01, b1 0.9, b2 0.999, eps 1e-5, no weight decay).
Every shape is compiled before timing. Each repeat times the loops on the same steps, one after
the other, in an order that rotates between repeats; `ratio` is course_lib / hand-written in wall
time (target <= 1), the median of the repeats' ratios, `cpu_ratio` the same in CPU time of this
process (which other load on a shared machine disturbs less), `ratio_to_floor` course_lib / floor
(each repeat's own), `floor_best_us` the floor at the best bandwidth of all repeats and
`ratio_to_best_floor` the median course_lib step over it.
"""
from __future__ import annotations

import itertools
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks import peers
from benchmarks.common import classifier, prepared_tweets, tweet_batches

BATCH, LR, B1, B2, EPS = 16, 0.01, 0.9, 0.999, 1e-5
FLOOR_ARRAYS = 6                 # weights, first and second moments: each read once and written once
COPY_BYTES = 256 * 2 ** 20       # the array copied to measure memory bandwidth: well past the caches


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


def memory_bandwidth(n_bytes: int = COPY_BYTES, tries: int = 3) -> float:
    """Bytes per second that a large array copy moves (it reads and writes each byte): the best of
    `tries` copies of `n_bytes`, with NumPy (one core) and with XLA (which may use them all)."""
    source = np.ones(n_bytes // 4, np.float32)
    target = np.empty_like(source)
    on_device = jnp.asarray(source)
    copy = jax.jit(lambda x: x + 0.0)   # not folded away: XLA keeps the add (it changes -0.0)
    jax.block_until_ready(copy(on_device))
    best = float("inf")
    for _ in range(tries):
        start = time.perf_counter()
        np.copyto(target, source)
        best = min(best, time.perf_counter() - start)
        start = time.perf_counter()
        jax.block_until_ready(copy(on_device))
        best = min(best, time.perf_counter() - start)
    return 2 * n_bytes / best


def run(repeats: int = 15, steps: int = 200, copy_bytes: int = COPY_BYTES) -> dict:
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

    def adam_pass_steps():
        w, m, v, g = flat
        for _ in range(steps):
            w, m, v = adam_pass(w, m, v, g)
        jax.block_until_ready(w)
        flat[:3] = [w, m, v]

    contenders = {"course_lib": loop_steps, "handwritten": handwritten_steps}
    skipped = {}
    for name, make in (("nnx", peers.make_nnx), ("equinox", peers.make_equinox)):
        made = make(len(vocab), 256, optimizer)
        if isinstance(made, str):
            skipped[name] = made
            print(f"  train_step: {name} skipped: {made}", file=sys.stderr, flush=True)
        else:
            contenders[name] = lambda made=made: made(batches)
    for work in (*contenders.values(), adam_pass_steps):   # compile every shape first
        work()
    floor_bytes = FLOOR_ARRAYS * 4 * n_params
    runs = {key: [] for key in ("course_lib_cpu_us", "handwritten_cpu_us", "ratio", "cpu_ratio", "floor_us",
                                "adam_pass_us", "bandwidth_gb_s", "ratio_to_floor",
                                *(f"{name}_us" for name in contenders))}
    names = list(contenders)
    for repeat in range(repeats):
        order = names[repeat % len(names):] + names[:repeat % len(names)]  # rotate who goes first
        times = {name: timed(contenders[name]) for name in order}
        for name in names:
            runs[f"{name}_us"].append(times[name][0])
        runs["course_lib_cpu_us"].append(times["course_lib"][1])
        runs["handwritten_cpu_us"].append(times["handwritten"][1])
        runs["ratio"].append(times["course_lib"][0] / times["handwritten"][0])
        runs["cpu_ratio"].append(times["course_lib"][1] / times["handwritten"][1])
        runs["adam_pass_us"].append(timed(adam_pass_steps)[0])
        bandwidth = memory_bandwidth(copy_bytes)
        runs["bandwidth_gb_s"].append(bandwidth / 1e9)
        runs["floor_us"].append(floor_bytes / bandwidth * 1e6)
        runs["ratio_to_floor"].append(times["course_lib"][0] / runs["floor_us"][-1])
    median = {k: statistics.median(v) for k, v in runs.items()}
    # The floor at the best bandwidth seen in any repeat: what the machine can do when no one else
    # competes for its memory (on a busy machine the per-repeat floor is lower than it could be).
    median["floor_best_us"] = floor_bytes / (max(runs["bandwidth_gb_s"]) * 1e9) * 1e6
    median["ratio_to_best_floor"] = median["course_lib_us"] / median["floor_best_us"]
    for name in names[2:]:
        median[f"ratio_to_{name}"] = statistics.median(
            a / b for a, b in zip(runs["course_lib_us"], runs[f"{name}_us"]))
    return {**median, "n_params": n_params, "floor_bytes": floor_bytes, "batch_size": BATCH,
            "vocab_size": len(vocab), "steps_per_run": steps, "peers_skipped": skipped,
            "runs": runs}
