"""What the benchmarks share: the repository's root, a stopwatch, the tweets as batches, the capstone's model."""
from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


class Stopwatch:
    """Seconds of wall time spent inside `with watch:` blocks, summed, and the CPU seconds of this
    process's threads in them (`cpu_seconds`: less disturbed by other load on a shared machine)."""

    def __init__(self):
        self.seconds = self.cpu_seconds = 0.0

    def __enter__(self):
        self._start, self._cpu_start = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.seconds += time.perf_counter() - self._start
        self.cpu_seconds += time.process_time() - self._cpu_start


def tweet_batches(ids_pos, ids_neg, batch_size: int, seed: int = 0):
    """Endless padded batches of the course's shape: half positive, half negative, shuffled each pass.

    `ids_pos`, `ids_neg`: sequences of token id sequences. Yields (int32[batch, max_len], int32[batch],
    float32[batch]).

    Raises (at the first batch):
      ValueError: `batch_size` is not a positive even number (it is split in two halves).
    """
    if batch_size < 2 or batch_size % 2:
        raise ValueError(f"batch_size={batch_size}: it must be even, half positive and half negative.")
    rng = random.Random(seed)
    half = batch_size // 2
    order_pos, order_neg = list(range(len(ids_pos))), list(range(len(ids_neg)))
    i, j = len(order_pos), len(order_neg)  # start with a shuffle
    while True:
        if i + half > len(order_pos):
            rng.shuffle(order_pos)
            i = 0
        if j + half > len(order_neg):
            rng.shuffle(order_neg)
            j = 0
        rows = [ids_pos[k] for k in order_pos[i:i + half]] + [ids_neg[k] for k in order_neg[j:j + half]]
        i, j = i + half, j + half
        inputs = np.zeros((batch_size, max(1, max(len(r) for r in rows))), dtype=np.int32)
        for row, ids in zip(inputs, rows):
            row[:len(ids)] = ids
        targets = np.array([1] * half + [0] * half, dtype=np.int32)
        yield inputs, targets, np.ones(batch_size, dtype=np.float32)


def classifier(vocab_size: int, d: int = 256):
    from course_lib import layers as tl
    return tl.Serial(tl.Embedding(vocab_size, d), tl.Mean(axis=1), tl.Dense(2), tl.LogSoftmax())


def masked_classifier(vocab_size: int, d: int = 256):
    """The capstone's model for bucketed batches: the mean of the real tokens' embeddings."""
    from course_lib import layers as tl
    return tl.Serial(tl.Branch(tl.Embedding(vocab_size, d), None), tl.MaskedMean(), tl.Dense(2),
                     tl.LogSoftmax())


class CompileCounter:
    """XLA compilations (JAX's backend_compile events): how many, and their seconds, while `on`."""

    EVENT = "/jax/core/compile/backend_compile_duration"

    def __init__(self):
        from jax import monitoring
        self.count, self.seconds, self.on = 0, 0.0, False
        monitoring.register_event_duration_secs_listener(self._listen)

    def _listen(self, event, seconds, **kwargs):
        if self.on and event == self.EVENT:
            self.count += 1
            self.seconds += seconds


def prepared_tweets(cache_dir=None):
    """The course's data, tokenized once: (vocab, train ids positive, train ids negative,
    validation ids, validation labels); ids are int32 arrays, one per tweet.

    With `cache_dir`, `encode_texts` keeps the token ids there (course_lib's on-disk cache) and
    reads them back on the next call, instead of tokenizing again."""
    from course_lib import data
    positive, negative = data.load_twitter_samples()
    train_pos, train_neg, val_pos, val_neg = data.train_val_split(positive, negative)

    def encode(texts, name, **options):
        if cache_dir is None:
            return data.encode_texts(texts, **options)
        return data.encode_texts(texts, cache_name=f"twitter_samples/{name}", cache_dir=cache_dir, **options)

    train = encode(train_pos + train_neg, "train")
    val = encode(val_pos + val_neg, "validation", vocab=train.vocab)
    n_pos = len(train_pos)
    return (train.vocab, [train[i] for i in range(n_pos)], [train[i] for i in range(n_pos, len(train))],
            val, [1] * len(val_pos) + [0] * len(val_neg))
