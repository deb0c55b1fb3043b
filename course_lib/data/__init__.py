"""The tweets (and bigger TFDS text datasets) and their preprocessing.

    from course_lib import data
    positive, negative = data.load_twitter_samples()     # 5,000 + 5,000 tweets (str)
    data.process_tweet(positive[0])                      # ['followfriday', 'top', 'engag', ...]
    vocab = data.build_vocab(train_x)                    # {'__PAD__': 0, '__</e>__': 1, '__UNK__': 2, ...}

Bigger datasets go through the same pipeline (pipeline.py, tfds.py):

    texts, labels = data.load_tfds_text("imdb_reviews", "train")   # needs tensorflow_datasets
    encoded = data.encode_texts(texts, tokenizer=data.simple_tokenize, cache_name="imdb_reviews/train")
    batches = data.padded_batches(encoded, labels, 64, shuffle=True, loop=True, max_len=256)

The corpus lives in an NLTK data directory, `default_data_dir()`: `COURSE_DATA_DIR` if
set, else `nltk_data/` in the course repository when course_lib runs from a checkout,
else `~/.cache/course_lib/nltk_data` (under `$XDG_CACHE_HOME` if set);
`python -m course_lib.data` (or `make data`) downloads it there with `nltk.download`.
"""
from course_lib.data.corpus import (
    CorpusNotFoundError, default_data_dir, fetch, load_stopwords, load_twitter_samples,
)
from course_lib.data.cache import default_cache_dir, tokenizer_id
from course_lib.data.pipeline import EncodedTexts, encode_texts, pad_to_buckets, padded_batches, simple_tokenize
from course_lib.data.preprocess import (
    PAD, EOS, UNK, build_vocab, process_tweet, train_val_split,
)
from course_lib.data.tfds import (
    DATASETS as TFDS_DATASETS, DatasetNotPreparedError, load_tfds_text, mock_tfds_text,
)

__all__ = [
    "load_twitter_samples", "load_stopwords", "fetch", "default_data_dir", "CorpusNotFoundError",
    "process_tweet", "build_vocab", "train_val_split", "PAD", "EOS", "UNK",
    "simple_tokenize", "encode_texts", "EncodedTexts", "padded_batches", "pad_to_buckets", "default_cache_dir",
    "tokenizer_id", "load_tfds_text", "mock_tfds_text", "TFDS_DATASETS", "DatasetNotPreparedError",
]
