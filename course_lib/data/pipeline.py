"""The text pipeline shared by the tweets and the TFDS datasets: tokens, vocabulary, ids, batches.

    encoded = encode_texts(train_texts, max_vocab_size=20_000, cache_name="imdb_reviews/train")
    test_ids = encode_texts(test_texts, vocab=encoded.vocab, cache_name="imdb_reviews/test")
    train_batches = padded_batches(encoded, train_labels, 64, shuffle=True, loop=True, seed=0)
    inputs, targets, weights = next(train_batches)  # int32[64, seq_len], int32[64], float32[64]

Tokenizing a large corpus takes minutes, so `encode_texts` can keep its result (the token
ids and the vocabulary) on disk: give it a `cache_name`, and a second call with the same
texts, tokenizer and vocabulary options reads the file instead of tokenizing again.

This is not the capstone's `data_generator` (half positive, half negative tweets per
batch): `padded_batches` does not look at the labels, it batches the examples as they come
(or in a seeded random order).
"""
from __future__ import annotations

import re
import warnings
import zipfile
from array import array
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from course_lib.data import cache
from course_lib.data.preprocess import EOS, PAD, UNK, build_vocab, process_tweet

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)*")
_HTML_TAG = re.compile(r"<[^>]*>")


def simple_tokenize(text: str) -> list[str]:
    """Lower-cases `text`, drops HTML tags (IMDB's '<br />') and returns its words.

    A word is a run of letters and digits, with apostrophes inside it ("isn't"). No stopwords
    are dropped and nothing is stemmed, so, unlike `process_tweet`, it needs no NLTK data.

        simple_tokenize("Loved it!<br />Best film of 2009, isn't it?")
        -> ['loved', 'it', 'best', 'film', 'of', '2009', "isn't", 'it']
    """
    return _WORD.findall(_HTML_TAG.sub(" ", text.lower()))


@dataclass(frozen=True, eq=False)
class EncodedTexts:
    """Texts as token ids: a read-only sequence of int32 arrays, one per text.

    Attributes:
      tokens: int32[total_tokens], the ids of all texts one after the other.
      offsets: int64[n_texts + 1]; text i is `tokens[offsets[i]:offsets[i + 1]]`.
      vocab: word -> id, with '__PAD__' = 0, '__</e>__' = 1, '__UNK__' = 2.
      from_cache: True if read from the cache file, False if tokenized by this call.
      cache_path: the cache file read or written; None without a cache_name (or if writing failed).
    """
    tokens: np.ndarray
    offsets: np.ndarray
    vocab: dict = field(repr=False)
    from_cache: bool = False
    cache_path: Path | None = None

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> np.ndarray:
        """The ids of text `i`: int32[its number of tokens] (a view, not a copy)."""
        if not -len(self) <= i < len(self):
            raise IndexError(f"text {i} of {len(self)}")
        i %= len(self)
        return self.tokens[self.offsets[i]:self.offsets[i + 1]]

    @property
    def lengths(self) -> np.ndarray:
        """int64[n_texts]: the number of tokens of each text."""
        return np.diff(self.offsets)


def encode_texts(texts, *, vocab: dict | None = None, tokenizer=process_tweet,
                 max_vocab_size: int | None = None, min_count: int = 1,
                 cache_name: str | None = None, cache_dir=None) -> EncodedTexts:
    """Tokenizes `texts`, builds the vocabulary (unless given) and maps every token to its id.

    Args:
      texts: a sequence of str (e.g. the training split).
      vocab: word -> id to use (e.g. the training split's, for the test split); words not in
        it get the id of '__UNK__'. None: build it from `texts`.
      tokenizer: str -> list[str]; the course's `process_tweet` by default (it needs NLTK's
        stopwords), `simple_tokenize` needs no data.
      max_vocab_size: with `vocab=None`, keep at most this many ids, the 3 reserved ones
        included: the most frequent words (ties: the first seen). None: no limit.
      min_count: with `vocab=None`, keep only words seen at least this many times.
      cache_name: names the cached result, e.g. 'imdb_reviews/train'. None: no cache.
      cache_dir: where cache files go; None: `cache.default_cache_dir()`.

    The vocabulary is `build_vocab`'s: '__PAD__' 0, '__</e>__' 1, '__UNK__' 2, then the kept
    words in order of first appearance. With no limits it equals `build_vocab(texts, tokenizer)`.

    The cache file `<cache_dir>/<cache_name>-<key>.npz` (NumPy arrays, the vocabulary as
    JSON; no pickle) is reused when its key matches: the cache_name, the tokenizer (its name
    and code, see `tokenizer_id`), `vocab` or the vocabulary options, and a SHA-256 of the
    texts. Any change of these gives another file; an unreadable or inconsistent file is
    rebuilt, with a warning. Files are written whole or not at all (a temporary file, then
    an atomic rename); old ones are never deleted: delete the folder to free the space.

    Returns:
      EncodedTexts: `len(result) == len(texts)`; `result[i]` is int32[n_tokens(text i)].

    Raises:
      TypeError: a text is not a str, or the tokenizer does not return a list of str.
      ValueError: `vocab` has no '__UNK__', `max_vocab_size` < 3 or `min_count` < 1.
      CorpusNotFoundError: the tokenizer is `process_tweet` and NLTK's stopwords are not
        installed (`python -m course_lib.data`).
    """
    if vocab is not None and UNK not in vocab:
        raise ValueError(f"vocab has no {UNK!r}: words not in it need that id.")
    if max_vocab_size is not None and max_vocab_size < 3:
        raise ValueError(f"max_vocab_size={max_vocab_size}: it counts the 3 reserved ids "
                         f"({PAD}, {EOS}, {UNK}), so it must be at least 3.")
    if min_count < 1:
        raise ValueError(f"min_count={min_count}: it must be at least 1.")
    texts = list(texts)
    if cache_name is None:
        return _encode(texts, vocab, tokenizer, max_vocab_size, min_count)

    cache_key = cache.key(cache_name, tokenizer, vocab, max_vocab_size, min_count, texts)
    path = cache.path(cache_dir, cache_name, cache_key)
    if path.exists():
        try:
            tokens, offsets, cached_vocab = cache.read(path, cache_key, len(texts))
            return EncodedTexts(tokens, offsets, cached_vocab, True, path)
        except (OSError, ValueError, TypeError, KeyError, EOFError, zipfile.BadZipFile) as error:
            warnings.warn(f"Rebuilding the unreadable cache file {path}: {error}", stacklevel=2)
    encoded = _encode(texts, vocab, tokenizer, max_vocab_size, min_count)
    written = cache.write(path, cache_key, encoded.tokens, encoded.offsets, encoded.vocab)
    return EncodedTexts(encoded.tokens, encoded.offsets, encoded.vocab, False,
                        path if written else None)


def padded_batches(ids, labels, batch_size: int, *, shuffle: bool = False, loop: bool = False,
                   seed: int = 0, max_len: int | None = None, buckets=None):
    """Yields batches `(inputs, targets, weights)` of the examples, whatever their labels.

    Args:
      ids: a sequence of id sequences, one per example (an `EncodedTexts`, or lists of ints).
      labels: a sequence of int labels, as long as `ids`.
      batch_size: examples per batch.
      shuffle: visit the examples in a random order, a new one each pass (seeded by `seed`);
        False: in order.
      loop: pass over the examples again and again, forever (for training, and for an
        `EvalTask`, which draws batches as long as training runs); False: once.
      seed: seeds the shuffling; the same seed gives the same batches.
      max_len: cut longer examples to their first `max_len` ids and pad every batch to
        `max_len` (one shape: the jit-compiled step compiles once). None: pad each batch to
        its longest example (at least 1).
      buckets: increasing padded lengths, e.g. (16, 32, 64): each batch is padded to the
        smallest of them that holds its longest example (longer examples are cut to the last
        one), so a jit-compiled step sees at most `len(buckets)` shapes and compiles at most
        that many times (see `pad_to_buckets`). Cannot be combined with `max_len`.

    Yields:
      inputs: int32[batch_size, seq_len], each row an example's ids followed by 0s (`__PAD__`);
      targets: int32[batch_size], the labels;
      weights: float32[batch_size], 1.0 for an example, 0.0 for a filler row.

    With `loop=False` every example appears exactly once, and the last batch is topped up
    with filler rows (all 0s, label 0, weight 0), so that all batches have `batch_size` rows
    and weighted metrics count only the examples. With `loop=True` the passes follow each
    other without filler: a batch may hold the end of one pass and the start of the next.

    Raises (when called, before the first batch):
      ValueError: no examples, `ids` and `labels` of different lengths, `batch_size` < 1,
        `max_len` < 1, or `buckets` not increasing positive ints (or given with `max_len`).
    """
    if len(ids) != len(labels):
        raise ValueError(f"padded_batches: {len(ids)} id sequences but {len(labels)} labels.")
    if len(ids) == 0:
        raise ValueError("padded_batches: there are no examples.")
    if batch_size < 1 or (max_len is not None and max_len < 1):
        raise ValueError(f"padded_batches: batch_size={batch_size} and max_len={max_len} "
                         "must be at least 1.")
    if buckets is not None:
        if max_len is not None:
            raise ValueError("padded_batches: give max_len (one length) or buckets (a few), not both.")
        buckets = _checked_buckets("padded_batches", buckets)
    return _padded_batches(ids, np.asarray(labels, dtype=np.int32), batch_size, shuffle, loop, seed,
                           max_len, buckets)


def pad_to_buckets(batches, buckets=(16, 32, 64), pad_id: int = 0):
    """Pads each batch's inputs up to the smallest bucket length that holds them.

    A jitted training step compiles once per input shape. Batches padded to their own longest
    example have many lengths (11 in the capstone's first 40 steps), so the step compiles again
    and again; padded to a few bucket lengths, it compiles at most `len(buckets)` times. With a
    masked mean (`tl.MaskedMean`) the extra padding changes no prediction.

        stream = data.pad_to_buckets(data_generator(...), buckets=(16, 32, 64))

    Args:
      batches: an iterable of tuples whose first item is `inputs: int[batch, seq_len]` (e.g.
        `(inputs, targets, weights)` from a data generator); the other items pass unchanged.
      buckets: increasing padded lengths. An input longer than the last is cut to it.
      pad_id: the id that fills the new columns (`__PAD__` is 0).

    Yields:
      the same tuples with `inputs: int32[batch, bucket]`, `bucket` the smallest of `buckets`
      with `bucket >= seq_len` (the last one if none is).

    Raises:
      ValueError (when called): `buckets` empty, not increasing, or not positive ints.
      ValueError (when iterated): a batch that is not a tuple with a 2-D `inputs` first.
    """
    buckets = _checked_buckets("pad_to_buckets", buckets)
    return _pad_to_buckets(batches, buckets, pad_id)


def _pad_to_buckets(batches, buckets, pad_id):
    for batch in batches:
        if not isinstance(batch, (tuple, list)) or not batch or np.ndim(batch[0]) != 2:
            raise ValueError("pad_to_buckets: each batch must be a tuple (inputs, ...) with "
                             f"inputs int[batch, seq_len]; got {type(batch).__name__}"
                             + (f" with inputs of shape {np.shape(batch[0])}"
                                if isinstance(batch, (tuple, list)) and batch else "") + ".")
        inputs = np.asarray(batch[0])
        width = _bucket(inputs.shape[1], buckets)
        padded = np.full((inputs.shape[0], width), pad_id, dtype=np.int32)
        padded[:, :min(width, inputs.shape[1])] = inputs[:, :width]
        yield (padded, *batch[1:])


def _checked_buckets(caller, buckets) -> tuple[int, ...]:
    buckets = tuple(buckets)
    if (not buckets or not all(isinstance(b, (int, np.integer)) and b >= 1 for b in buckets)
            or any(a >= b for a, b in zip(buckets, buckets[1:]))):
        raise ValueError(f"{caller}: buckets must be increasing positive ints, e.g. (16, 32, 64); "
                         f"got {buckets!r}.")
    return tuple(int(b) for b in buckets)


def _bucket(length: int, buckets) -> int:
    """The smallest bucket length >= `length`, or the last bucket."""
    return next((b for b in buckets if b >= length), buckets[-1])


# -- helpers ------------------------------------------------------------------------------------


def _encode(texts, vocab, tokenizer, max_vocab_size, min_count) -> EncodedTexts:
    """Tokenizes each text once, numbering words in order of first appearance, then maps
    those numbers to vocabulary ids with one array lookup."""
    first_seen: dict[str, int] = {}      # word -> its number, in order of first appearance
    counts = array("q")                  # number -> how many times the word appears
    numbers, offsets = array("i"), array("q", [0])
    for index, text in enumerate(tqdm(texts, desc="Tokenizing", unit="text",
                                      disable=len(texts) < 20_000)):
        if not isinstance(text, str):
            raise TypeError(f"text {index} is a {type(text).__name__}, not a str"
                            + (": decode it first, e.g. text.decode('utf-8')." if isinstance(text, bytes) else "."))
        words = tokenizer(text)
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise TypeError(f"the tokenizer must return a list of str; for text {index} it returned "
                            f"{words!r:.200}.")
        for word in words:
            number = first_seen.setdefault(word, len(first_seen))
            if number == len(counts):
                counts.append(0)
            counts[number] += 1
            numbers.append(number)
        offsets.append(len(numbers))
    words = list(first_seen)
    if vocab is None:
        vocab = build_vocab([_kept_words(words, counts, max_vocab_size, min_count)], process=list)
    unk = vocab[UNK]
    to_id = np.array([vocab.get(word, unk) for word in words] or [unk], dtype=np.int32)
    tokens = to_id[np.frombuffer(numbers, dtype=np.int32)] if numbers else np.empty(0, np.int32)
    return EncodedTexts(tokens.astype(np.int32), np.frombuffer(offsets, dtype=np.int64).copy(),
                        dict(vocab))


def _kept_words(words, counts, max_vocab_size, min_count) -> list[str]:
    """The words to give ids, in order of first appearance (the reserved names excluded)."""
    candidates = [i for i, word in enumerate(words)
                  if counts[i] >= min_count and word not in (PAD, EOS, UNK)]
    if max_vocab_size is not None:
        by_count = sorted(candidates, key=lambda i: -counts[i])   # stable: ties by first appearance
        candidates = sorted(by_count[:max_vocab_size - 3])
    return [words[i] for i in candidates]


def _padded_batches(ids, labels, batch_size, shuffle, loop, seed, max_len, buckets=None):
    """The generator behind `padded_batches` (its arguments checked)."""
    rng = np.random.default_rng(seed)
    n = len(ids)

    def one_pass():
        return rng.permutation(n) if shuffle else np.arange(n)

    if not loop:
        order = one_pass()
        for start in range(0, n, batch_size):
            yield _batch(ids, labels, order[start:start + batch_size], batch_size, max_len, buckets)
        return
    pending = np.empty(0, dtype=np.int64)
    while True:
        while len(pending) < batch_size:
            pending = np.concatenate([pending, one_pass()])
        chosen, pending = pending[:batch_size], pending[batch_size:]
        yield _batch(ids, labels, chosen, batch_size, max_len, buckets)


def _batch(ids, labels, chosen, batch_size, max_len, buckets=None):
    cut = buckets[-1] if buckets else max_len
    rows = [np.asarray(ids[i], dtype=np.int32)[:cut] for i in chosen]
    width = max_len if max_len is not None else max([len(r) for r in rows] + [1])
    if buckets:
        width = _bucket(width, buckets)
    inputs = np.zeros((batch_size, width), dtype=np.int32)
    for row, values in enumerate(rows):
        inputs[row, :len(values)] = values
    targets = np.zeros(batch_size, dtype=np.int32)
    targets[:len(chosen)] = labels[chosen]
    weights = np.zeros(batch_size, dtype=np.float32)
    weights[:len(chosen)] = 1.0
    return inputs, targets, weights
