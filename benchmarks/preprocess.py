"""Preprocessing throughput: tweets per second through `process_tweet` and the vocabulary.

All 10,000 tweets go through `process_tweet` (clean, tokenize, drop stopwords, stem) and
then `build_vocab` over the 8,000 training tweets processes those again, as the course
does. The stem cache and the tweets' remembered tokens are emptied before each repeat, so every
repeat starts cold.
"""
from __future__ import annotations

import statistics
import time


def run(repeats: int = 5) -> dict:
    from course_lib import data
    from course_lib.data import preprocess

    positive, negative = data.load_twitter_samples()
    tweets = positive + negative
    train_pos, train_neg, _, _ = data.train_val_split(positive, negative)
    runs = []
    for _ in range(repeats):
        preprocess._tools.cache_clear()
        preprocess._memo.clear()   # the tweets' tokens too
        preprocess._tools()  # the stopwords and tokenizer are loaded once per process, not per tweet
        start = time.perf_counter()
        for tweet in tweets:
            data.process_tweet(tweet)
        data.build_vocab(train_pos + train_neg)
        runs.append((len(tweets) + len(train_pos) + len(train_neg)) / (time.perf_counter() - start))
    return {"tweets_per_s": statistics.median(runs), "runs": runs}
