"""The course's tweet preprocessing, vocabulary and train/validation split."""
from __future__ import annotations

import collections
import functools
import hashlib
import json
import os
import re
import string
import tempfile
from pathlib import Path

import nltk
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
    if os.environ.get(TOKEN_MEMO_ENV):
        load_token_memo(os.environ[TOKEN_MEMO_ENV])
    return tokenizer, stem, load_stopwords(), frozenset(string.punctuation)


MEMO_SIZE = 1 << 15             # tweets whose tokens `_tokens` remembers; the oldest go first
TOKEN_MEMO_ENV = "COURSE_TOKEN_MEMO"
_memo: collections.OrderedDict[str, tuple[str, ...]] = collections.OrderedDict()


def _tokens(tweet: str) -> tuple[str, ...]:
    """Steps 1 and 2 of `process_tweet` (cleaning, tokenizing), remembered: preprocessing the
    same tweets again with another stopword list (or for another epoch) skips the tokenizer,
    most of `process_tweet`'s time."""
    tokens = _memo.get(tweet)
    if tokens is None:
        tokens = _tokenize(tweet)
        if len(_memo) >= MEMO_SIZE:
            _memo.popitem(last=False)
        _memo[tweet] = tokens
    return tokens


def _tokenize(tweet: str) -> tuple[str, ...]:
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


def token_memo_key() -> str:
    """What the tokens of step 2 depend on: this module's source (its patterns, the tokenizer's
    options) and NLTK's version. 16 hex digits of their SHA-256."""
    digest = hashlib.sha256(Path(__file__).read_bytes() + b"\0" + nltk.__version__.encode())
    return digest.hexdigest()[:16]


def save_token_memo(path) -> int:
    """Writes the tweets tokenized so far in this process, and their tokens, to `path` (JSON,
    written atomically), for `load_token_memo` in another process; returns how many.

    The grader uses it (course_tools.compile_cache): the tweets that the released notebooks'
    own cells tokenize, kept beside the compilation cache and read by each grading kernel.

    Raises:
      OSError: the file could not be written.
    """
    path = Path(path)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, prefix=path.name,
                                     suffix=".tmp", delete=False) as handle:
        try:
            json.dump({"key": token_memo_key(), "tokens": _memo}, handle, ensure_ascii=False)
            handle.flush()
            os.chmod(handle.name, 0o644)     # as a file is usually made (mkstemp makes it 0o600)
            os.replace(handle.name, path)
        except BaseException:
            os.unlink(handle.name)
            raise
    return len(_memo)


def load_token_memo(path) -> int:
    """Remembers the tokens in a file written by `save_token_memo`, so that `process_tweet`
    does not tokenize those tweets again; returns how many were read.

    A file that is missing, unreadable, malformed or written for another `token_memo_key()`
    (another version of this module or of NLTK) is ignored: 0, and tweets are tokenized as
    usual. `$COURSE_TOKEN_MEMO`, if set, names a file read once per process, the first time a
    tweet is processed.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            stored = json.load(handle)
        if stored["key"] != token_memo_key():
            return 0
        tokens = [(tweet, tuple(words)) for tweet, words in stored["tokens"].items()
                  if isinstance(words, list) and all(isinstance(word, str) for word in words)]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return 0
    tokens = tokens[:max(0, MEMO_SIZE - len(_memo))]
    for tweet, words in tokens:
        _memo.setdefault(tweet, words)
    return len(tokens)
