"""What the benchmarks share: timing with repeats, the tweets as batches, the capstone's model."""
from __future__ import annotations

import random
import statistics
import time

import numpy as np


def repeat(measure, repeats: int) -> dict:
    """Calls `measure()` (which returns a number) `repeats` times: {'median': ..., 'runs': [...]}."""
    runs = [float(measure()) for _ in range(repeats)]
    return {"median": statistics.median(runs), "runs": runs}


class Stopwatch:
    """Seconds of wall time spent inside `with watch:` blocks, summed."""

    def __init__(self):
        self.seconds = 0.0

    def __enter__(self):
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds += time.perf_counter() - self._start


def tweet_batches(ids_pos, ids_neg, batch_size: int, seed: int = 0):
    """Endless padded batches of the course's shape: half positive, half negative, shuffled each pass.

    Yields (int32[batch, max_len], int32[batch], float32[batch]).
    """
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
        width = max(1, max(len(r) for r in rows))
        inputs = np.array([r + [0] * (width - len(r)) for r in rows], dtype=np.int32)
        targets = np.array([1] * half + [0] * half, dtype=np.int32)
        yield inputs, targets, np.ones(batch_size, dtype=np.float32)


def evaluation_batches(ids_pos, ids_neg, batch_size: int):
    """The validation set once, in order, as padded batches (the last one may be smaller)."""
    rows = [(r, 1) for r in ids_pos] + [(r, 0) for r in ids_neg]
    for start in range(0, len(rows), batch_size):
        chunk = rows[start:start + batch_size]
        width = max(1, max(len(r) for r, _ in chunk))
        yield (np.array([r + [0] * (width - len(r)) for r, _ in chunk], dtype=np.int32),
               np.array([label for _, label in chunk], dtype=np.int32),
               np.ones(len(chunk), dtype=np.float32))


def classifier(vocab_size: int, d: int = 256):
    from course_lib import layers as tl
    return tl.Serial(tl.Embedding(vocab_size, d), tl.Mean(axis=1), tl.Dense(2), tl.LogSoftmax())


def prepared_tweets():
    """The course's data, ready: (vocab, train ids pos/neg, validation ids pos/neg)."""
    from course_lib import data
    positive, negative = data.load_twitter_samples()
    train_pos, train_neg, val_pos, val_neg = data.train_val_split(positive, negative)
    vocab = data.build_vocab(train_pos + train_neg)
    unk = vocab[data.UNK]

    def ids(tweets):
        return [[vocab.get(w, unk) for w in data.process_tweet(t)] for t in tweets]

    return vocab, ids(train_pos), ids(train_neg), ids(val_pos), ids(val_neg)
