"""The tweets and their preprocessing.

    from course_lib import data
    positive, negative = data.load_twitter_samples()     # 5,000 + 5,000 tweets (str)
    data.process_tweet(positive[0])                      # ['followfriday', 'top', 'engag', ...]
    vocab = data.build_vocab(train_x)                    # {'__PAD__': 0, '__</e>__': 1, '__UNK__': 2, ...}

The corpus lives in an NLTK data directory: `COURSE_DATA_DIR` if set, else
`nltk_data/` in the course repository; `python -m course_lib.data` (or
`make data`) downloads it there with `nltk.download`.
"""
from course_lib.data.corpus import (
    CorpusNotFoundError, default_data_dir, fetch, load_stopwords, load_twitter_samples,
)
from course_lib.data.preprocess import (
    PAD, EOS, UNK, build_vocab, process_tweet, train_val_split,
)

__all__ = [
    "load_twitter_samples", "load_stopwords", "fetch", "default_data_dir", "CorpusNotFoundError",
    "process_tweet", "build_vocab", "train_val_split", "PAD", "EOS", "UNK",
]
