"""The course's tweet preprocessing, vocabulary and train/validation split."""
from __future__ import annotations

import functools
import re
import string

from nltk.stem import PorterStemmer
from nltk.tokenize import TweetTokenizer

from course_lib.data.corpus import load_stopwords

PAD, EOS, UNK = "__PAD__", "__</e>__", "__UNK__"

_TICKER = re.compile(r"\$\w*")                 # stock tickers like $GE
_OLD_RETWEET = re.compile(r"^RT[\s]+")         # old-style retweet marker "RT "
_URL = re.compile(r"https?://[^\s\n\r]+")      # hyperlinks
_HASH = re.compile(r"#")                       # keep the word of a hashtag, drop the '#'


@functools.lru_cache(maxsize=1)
def _tools():
    """The tokenizer, a memoized stemmer and the stopword set, built once.

    Stemming the same word again gives the same stem, and tweets reuse few words,
    so remembering stems halves the time of `process_tweet`.
    """
    tokenizer = TweetTokenizer(preserve_case=False, strip_handles=True, reduce_len=True)
    stem = functools.lru_cache(maxsize=1 << 16)(PorterStemmer().stem)
    return tokenizer, stem, load_stopwords(), frozenset(string.punctuation)


@functools.lru_cache(maxsize=1 << 15)
def _tokens(tweet: str) -> tuple[str, ...]:
    """Steps 1 and 2 of `process_tweet` (cleaning, tokenizing), remembered: preprocessing the
    same tweets again with another stopword list (or for another epoch) skips the tokenizer,
    most of `process_tweet`'s time."""
    tokenizer = _tools()[0]
    tweet = _TICKER.sub("", tweet)
    tweet = _OLD_RETWEET.sub("", tweet)
    tweet = _URL.sub("", tweet)
    tweet = _HASH.sub("", tweet)
    return tuple(tokenizer.tokenize(tweet))


def process_tweet(tweet: str, stopwords=None) -> list[str]:
    """Cleans, tokenizes and stems a tweet: the course's preprocessing.

    1. Removes stock tickers ($GE), the old-style retweet marker (RT), URLs and '#'.
    2. Tokenizes with NLTK's TweetTokenizer(preserve_case=False, strip_handles=True,
       reduce_len=True): lower case, @handles dropped, 'waaaaay' -> 'waaay'.
    3. Drops the stopwords (NLTK's English list unless `stopwords` is given) and single
       punctuation characters.
    4. Stems each word with NLTK's PorterStemmer.

    Emoticons such as ':)' are kept: they are tokens too.

        process_tweet('@Lamb2ja Hey James! How odd :/ ...')  ->  ['hey', 'jame', 'odd', ':/', ...]
        process_tweet('I am not happy')                                  ->  ['happi']
        process_tweet('I am not happy', stopwords={'i', 'am'})           ->  ['not', 'happi']

    Args:
      tweet: the tweet's text.
      stopwords: the words to drop (compared before stemming, in lower case), any collection
        of str; None: NLTK's English stopwords (`data.load_stopwords()`), which include
        negations such as 'not', 'no' and "don't".

    The URL pattern stops at the first whitespace; the course's first version
    (r'https?:\\/\\/.*[\\r\\n]*') also deleted the rest of the line after a URL.

    The stopwords are read once per process, from the first data directory that has them.

    Raises:
      CorpusNotFoundError: NLTK's stopwords corpus is not installed (see `data.fetch`).
    """
    _, stem, default_stopwords, punctuation = _tools()
    drop = default_stopwords if stopwords is None else stopwords
    return [stem(word) for word in _tokens(tweet) if word not in drop and word not in punctuation]


def build_vocab(tweets, process=process_tweet) -> dict[str, int]:
    """Maps every word of `tweets` (after `process`) to an id, in order of first appearance.

    The first three ids are reserved: {'__PAD__': 0, '__</e>__': 1, '__UNK__': 2}.
    Padding uses id 0; words not in the vocabulary map to the UNK id.
    """
    vocab = {PAD: 0, EOS: 1, UNK: 2}
    for tweet in tweets:
        for word in process(tweet):
            vocab.setdefault(word, len(vocab))
    return vocab


def train_val_split(positive, negative, n_train: int = 4000):
    """The course's split: the first `n_train` tweets of each class train, the rest validate.

    Returns:
      `(train_pos, train_neg, val_pos, val_neg)`: with the 5,000 + 5,000 tweets,
      4,000 + 4,000 for training and 1,000 + 1,000 for validation.
    """
    return positive[:n_train], negative[:n_train], positive[n_train:], negative[n_train:]
