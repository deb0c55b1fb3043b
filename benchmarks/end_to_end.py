"""End to end: seconds from the raw tweets on disk to a model with >= 0.99 validation accuracy.

The clock runs through reading the corpus, preprocessing, building the vocabulary,
initializing the weights, compiling and training (batch 16, Adam 0.01, embedding 256: the
capstone's recipe); imports are not timed. Every 10 steps the clock stops while the accuracy
on the 2,000 validation tweets is measured. Each repeat runs in a fresh Python process. A
repeat that has not reached the target after MAX_STEPS steps is an error. Three variants:

  baseline      the old recipe: each batch padded to its longest tweet (11 lengths in the first
                40 steps, so the step compiles 11 times), `tl.Mean`, the weights initialized op
                by op (as `Layer.init` did before it compiled the whole model), no token cache
  buckets_cold  the capstone's recipe: batches padded to BUCKETS (`data.pad_to_buckets`),
                `tl.MaskedMean`, `Layer.init` compiled once, the tokens written to an empty
                on-disk cache (`encode_texts(..., cache_name=...)`)
  buckets_warm  the same, the tokens read from that cache (the second run of a notebook)

Each repeat runs the three in a rotating order. `compiles` counts XLA compilations while the
clock runs (JAX's backend_compile events); the bucketed variants must compile at most
MAX_COMPILES times, else it is an error. `ratio_*` is a variant's median seconds over the
baseline's; `cpu_ratio_*` the same in CPU seconds of the process (compiling and training threads
included), which other load on a shared machine disturbs less.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

from benchmarks.common import ROOT

TARGET, CHECK_EVERY, MAX_STEPS = 0.99, 10, 2000
BUCKETS = (16, 32, 64)
MAX_COMPILES = 6
VARIANTS = ("baseline", "buckets_cold", "buckets_warm")


def once(variant: str = "buckets_warm", cache_dir: str | None = None) -> dict:
    import jax
    import numpy as np

    from benchmarks.common import (CompileCounter, Stopwatch, classifier, masked_classifier, prepared_tweets,
                                   tweet_batches)
    from course_lib import data, layers as tl, optimizers, shapes, training
    from course_lib.layers.compiled_init import compiled_init

    baseline = variant == "baseline"
    compiles = CompileCounter()
    clock, parts = Stopwatch(), {}

    def part(name, work):
        watch = Stopwatch()
        with watch:
            result = work()
        parts[name] = parts.get(name, 0.0) + watch.seconds
        return result

    with clock:
        compiles.on = True
        vocab, train_pos, train_neg, val_ids, val_labels = part(
            "tokenize_s", lambda: prepared_tweets(None if baseline else cache_dir))
        batches = tweet_batches(train_pos, train_neg, 16)
        if baseline:
            model = classifier(len(vocab))
        else:
            model = masked_classifier(len(vocab))
            batches = data.pad_to_buckets(batches, buckets=BUCKETS)
        first = next(batches)

        def init():
            compiled_init.active = baseline    # True: every layer's init runs op by op
            try:
                jax.block_until_ready(model.init(shapes.signature(first[0]))[0])
            finally:
                compiled_init.active = False

        part("init_s", init)

        def stream():
            yield first
            yield from batches

        task = training.TrainTask(stream(), tl.CrossEntropyLoss(), optimizers.Adam(0.01),
                                  n_steps_per_checkpoint=10 ** 9)
        loop = part("loop_s", lambda: training.Loop(model, task))
        compiles.on = False
    validation = list(data.padded_batches(val_ids, val_labels, 500, **({} if baseline else {"buckets": BUCKETS})))
    predict = jax.jit(lambda w, x: model(x, weights=w).argmax(axis=-1))
    accuracy = 0.0
    while accuracy < TARGET and loop.step < MAX_STEPS:
        with clock:
            compiles.on = True
            part("train_s", lambda: (loop.run(CHECK_EVERY), jax.block_until_ready(model.weights)))
            compiles.on = False
        correct = sum(float(((np.asarray(predict(model.weights, x)) == y) * w).sum()) for x, y, w in validation)
        accuracy = correct / len(val_labels)
    return {"variant": variant, "seconds": clock.seconds, "cpu_seconds": clock.cpu_seconds, "steps": loop.step,
            "accuracy": accuracy,
            "compiles": compiles.count, "compile_s": compiles.seconds, **parts}


def _run_once(variant: str, cache_dir: str) -> dict:
    env = dict(os.environ, TQDM_DISABLE="1")  # tqdm reads it when imported, in the new process
    process = subprocess.run([sys.executable, "-m", "benchmarks.end_to_end", "--variant", variant,
                              "--cache-dir", cache_dir], capture_output=True, text=True, env=env, cwd=ROOT)
    if process.returncode != 0:
        raise RuntimeError(f"end_to_end {variant} failed:\n{process.stderr[-3000:]}")
    result = json.loads(process.stdout.strip().splitlines()[-1])
    if result["accuracy"] < TARGET:
        raise RuntimeError(f"end_to_end {variant}: validation accuracy {result['accuracy']:.4f} after "
                           f"{result['steps']} steps, short of the target {TARGET}: "
                           f"no seconds_to_99 to report.")
    if variant != "baseline" and result["compiles"] > MAX_COMPILES:
        raise RuntimeError(f"end_to_end {variant}: {result['compiles']} XLA compilations while training, "
                           f"more than {MAX_COMPILES}: something compiles again (a new shape or a new "
                           f"function each step?).")
    return result


def run(repeats: int = 3, variants=VARIANTS) -> dict:
    runs = []
    for repeat in range(repeats):
        with tempfile.TemporaryDirectory(prefix="token-cache-") as cache_dir:
            order = list(variants[repeat % len(variants):]) + list(variants[:repeat % len(variants)])
            if "buckets_warm" in order and order.index("buckets_warm") < order.index("buckets_cold"):
                order.remove("buckets_cold")        # cold must fill the cache before warm reads it
                order.insert(order.index("buckets_warm"), "buckets_cold")
            runs.extend(_run_once(variant, cache_dir) for variant in order)
    result = {}
    for variant in variants:
        mine = [r for r in runs if r["variant"] == variant]
        result[variant] = {key: statistics.median(r[key] for r in mine)
                           for key in ("seconds", "cpu_seconds", "steps", "compiles", "compile_s", "tokenize_s", "init_s",
                                       "loop_s", "train_s")}
    if "baseline" in variants:
        for variant in variants:
            if variant != "baseline":
                result[f"ratio_{variant}"] = result[variant]["seconds"] / result["baseline"]["seconds"]
                result[f"cpu_ratio_{variant}"] = result[variant]["cpu_seconds"] / result["baseline"]["cpu_seconds"]
    best = "buckets_warm" if "buckets_warm" in variants else variants[-1]
    return {"seconds_to_99": result[best]["seconds"], "buckets": list(BUCKETS), **result, "runs": runs}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--variant", choices=VARIANTS, default="buckets_warm")
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args()
    print(json.dumps(once(args.variant, args.cache_dir)))
