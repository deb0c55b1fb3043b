"""TFDS text-classification datasets (IMDB reviews, Sentiment140) as plain Python lists.

    from course_lib import data
    texts, labels = data.load_tfds_text("imdb_reviews", "train")   # 25,000 str, 25,000 ints 0/1

Reading needs `tensorflow_datasets` (the `dev` extras: `pip install -e '.[dev]'`, or
`pip install tensorflow-datasets`) but not TensorFlow: it goes through `tfds.data_source`,
which reads a dataset prepared in the ArrayRecord format with NumPy only. Preparing one
(downloading it and writing the files) does need TensorFlow, once, e.g. on Colab:

    pip install tensorflow tensorflow-datasets
    tfds build imdb_reviews --file_format=array_record --data_dir=DIR

Offline, `mock_tfds_text()` makes `load_tfds_text` return made-up examples instead
(TFDS's own mock, `tfds.testing.mock_data`, with examples in each dataset's encoding).
"""
from __future__ import annotations

import contextlib
import logging
import zlib
from dataclasses import dataclass

import numpy as np

INSTALL_COMMAND = "pip install tensorflow-datasets"


@dataclass(frozen=True)
class TextDataset:
    """How to read one TFDS text-classification dataset.

    Attributes:
      name: the TFDS name, e.g. 'imdb_reviews'.
      text_feature: the feature that holds the text (bytes, UTF-8, in the prepared data).
      label_feature: the feature that holds the label (an int).
      labels: raw label -> the course's label (0 negative, 1 positive), or None for
        examples that are dropped. A raw label not in it is an error.
      about: one line on the data, for messages and the notebook.
    """
    name: str
    text_feature: str
    label_feature: str
    labels: dict
    about: str


DATASETS = {
    "imdb_reviews": TextDataset(
        "imdb_reviews", "text", "label", {0: 0, 1: 1},
        "IMDB movie reviews: splits 'train' and 'test', 25,000 each, half positive "
        "(label 0 = negative, 1 = positive). The 'unsupervised' split has no labels."),
    "sentiment140": TextDataset(
        "sentiment140", "text", "polarity", {0: 0, 2: None, 4: 1},
        "Sentiment140 tweets, labelled by their emoticons: 'train' has 1,600,000 (polarity "
        "0 = negative, 4 = positive), 'test' 498 labelled by hand, 139 of them neutral "
        "(polarity 2), which are dropped."),
}


class DatasetNotPreparedError(FileNotFoundError):
    """The dataset is not in the TFDS data directory in a format read without TensorFlow
    (missing, or in TFRecord files only); the message says how to prepare it."""


def load_tfds_text(name: str, split: str, data_dir=None) -> tuple[list[str], list[int]]:
    """Reads a TFDS text-classification dataset: `(texts, labels)`, in the dataset's order.

    Args:
      name: 'imdb_reviews' or 'sentiment140' (the keys of `DATASETS`).
      split: a TFDS split: 'train', 'test', or a slice such as 'train[:10%]' or 'test[:500]'.
      data_dir: the TFDS data directory that holds the prepared dataset; None: TFDS's
        default (`$TFDS_DATA_DIR`, else `~/tensorflow_datasets`).

    Returns:
      `texts`: list[str], one per example (decoded from UTF-8; undecodable bytes become
      U+FFFD); `labels`: list[int], 0 (negative) or 1 (positive), as long as `texts`.
      Sentiment140's neutral tweets (polarity 2, only in 'test') are left out of both.

    Nothing is downloaded: TFDS reads the files already in `data_dir`, with NumPy only
    (no TensorFlow), at about 0.1 ms per example (2 s for 25,000 reviews).

    Raises:
      ValueError: an unsupported `name`, an unknown split, or a label that the dataset
        should not have (e.g. -1 in imdb_reviews' unlabelled 'unsupervised' split).
      ModuleNotFoundError: tensorflow_datasets is not installed (the message says how).
      DatasetNotPreparedError: the dataset is not prepared in `data_dir` in the
        ArrayRecord format (the message gives the `tfds build` command).
    """
    spec = _spec(name)
    tfds = _import_tfds()
    try:
        source = tfds.data_source(name, split=split, data_dir=data_dir, download=False)
    except (NotImplementedError, FileNotFoundError, KeyError, AssertionError) as error:
        # What TFDS raises depends on what it finds (nothing, TFRecord files, ...): ask it.
        message = _not_prepared_message(tfds, spec, data_dir)
        if message is None:
            raise
        raise DatasetNotPreparedError(message) from error
    texts, labels = [], []
    for index, example in enumerate(_examples(source)):
        raw = int(np.asarray(example[spec.label_feature]))
        if raw not in spec.labels:
            raise ValueError(
                f"{name} split {split!r}, example {index}: {spec.label_feature} = {raw}, but "
                f"this dataset's labels are {sorted(spec.labels)}. {spec.about}")
        if spec.labels[raw] is not None:
            texts.append(_as_str(example[spec.text_feature]))
            labels.append(spec.labels[raw])
    return texts, labels


@contextlib.contextmanager
def mock_tfds_text(num_examples: int = 256, seed: int = 0):
    """Within it, `load_tfds_text` (and `tfds.data_source`) returns made-up examples, offline.

    A wrapper of TFDS's `tfds.testing.mock_data(as_data_source_fn=...)`: nothing is read
    from disk or downloaded. Each split of each dataset of `DATASETS` holds `num_examples`
    examples with the real feature names and encodings (text as UTF-8 bytes; IMDB's label
    0/1, Sentiment140's polarity 0/2/4 with about 1 in 10 neutral), whose texts are 4 to 15
    words drawn from small lists of filler words and of positive or negative ones (none in
    a neutral tweet), so that a classifier can learn them. The same (`seed`, dataset, split) gives the same examples;
    the split string, slices included, only seeds them.

    Not real data: use it for tests and for trying the pipeline without the download.

    Raises:
      ModuleNotFoundError: tensorflow_datasets is not installed.
    """
    tfds = _import_tfds()

    def as_data_source(builder, split=None, **kwargs):
        if split is None:
            return {s: as_data_source(builder, s) for s in ("train", "test")}
        return _mock_examples(builder.name, str(split), num_examples, seed)

    # TFDS warns that the mocked datasets have no metadata files ('Variant folder ... has no
    # dataset_info.json'): true, and expected here, so its logger is quiet meanwhile.
    absl_logger = logging.getLogger("absl")
    level = absl_logger.level
    absl_logger.setLevel(logging.ERROR)
    try:
        with tfds.testing.mock_data(num_examples=num_examples, as_data_source_fn=as_data_source):
            yield
    finally:
        absl_logger.setLevel(level)


# -- helpers ------------------------------------------------------------------------------------

_FILLER = ("the", "movie", "film", "story", "plot", "actor", "scene", "today", "was", "this",
           "and", "it", "a", "of", "my", "day", "show", "music", "ending", "really")
_POSITIVE = ("great", "love", "wonderful", "best", "enjoyed", "brilliant", "happy", "fun")
_NEGATIVE = ("awful", "hate", "boring", "worst", "terrible", "waste", "sad", "dull")


def _mock_examples(name: str, split: str, n: int, seed: int) -> list[dict]:
    """`n` made-up examples of dataset `name` (see `mock_tfds_text`), as the data source
    of prepared data returns them: dicts of bytes and NumPy ints."""
    spec = _spec(name)
    rng = np.random.default_rng([seed, zlib.crc32(name.encode()), zlib.crc32(split.encode())])
    neutral = [raw for raw, label in spec.labels.items() if label is None]
    examples = []
    for i in range(n):
        sentiment = int(rng.integers(2))
        is_neutral = bool(neutral) and rng.random() < 0.1
        words = list(rng.choice(_FILLER, size=int(rng.integers(4, 11))))
        if not is_neutral:
            cue = _POSITIVE if sentiment else _NEGATIVE
            for word in rng.choice(cue, size=int(rng.integers(2, 6))):
                words.insert(int(rng.integers(len(words) + 1)), word)
        raw = neutral[0] if is_neutral else [r for r, lab in spec.labels.items() if lab == sentiment][0]
        example = {spec.text_feature: " ".join(words).encode("utf-8"),
                   spec.label_feature: np.int64(raw) if name == "imdb_reviews" else np.int32(raw)}
        if name == "sentiment140":
            example.update(date=b"Mon Apr 06 22:19:45 PDT 2009", query=b"NO_QUERY",
                           user=f"user{i}".encode())
        examples.append(example)
    return examples


def _spec(name: str) -> TextDataset:
    if name not in DATASETS:
        raise ValueError(f"Unsupported dataset {name!r}: load_tfds_text knows {sorted(DATASETS)} "
                         "(their text and label features and label meanings are in DATASETS).")
    return DATASETS[name]


def _import_tfds():
    """`tensorflow_datasets`, imported on first use so that course_lib does not need it."""
    try:
        import tensorflow_datasets
    except ImportError as error:
        raise ModuleNotFoundError(
            f"Loading TFDS datasets needs tensorflow_datasets (not TensorFlow): run "
            f"`{INSTALL_COMMAND}` (in a notebook: `%pip install tensorflow-datasets`), or install "
            "the course's dev extras with `pip install -e '.[dev]'`.",
            name="tensorflow_datasets") from error
    return tensorflow_datasets


def _not_prepared_message(tfds, spec: TextDataset, data_dir) -> str | None:
    """Why the dataset cannot be read without TensorFlow, and what to do; None if it can."""
    builder = tfds.builder(spec.name, data_dir=data_dir)
    where = builder.data_dir
    flag = f" --data_dir={data_dir}" if data_dir is not None else ""
    build = f"tfds build {spec.name} --file_format=array_record{flag}"
    if builder.is_prepared():
        formats = builder.info.available_file_formats() or {builder.info.file_format}
        if formats & set(tfds.core.FileFormat.with_random_access()):
            return None
        problem = (f"TFDS dataset '{spec.name}' is prepared in {where}, but in the "
                   f"{', '.join(sorted(str(f.value) for f in formats if f))} format, which only "
                   "TensorFlow reads.")
        build = (f"tfds convert_format --dataset_version_dir={where} "
                 "--out_file_format=array_record")
    else:
        problem = f"TFDS dataset '{spec.name}' is not prepared in {where} (nothing is downloaded here)."
    return (
        f"{problem}\nPrepare it once, in the ArrayRecord format, with TensorFlow and (to "
        "download it) network access; Colab has both:\n"
        f"    pip install tensorflow tensorflow-datasets importlib_resources\n    {build}\n"
        "then load it with that data_dir (without one, TFDS's default is read: $TFDS_DATA_DIR, "
        "else ~/tensorflow_datasets); a data directory prepared elsewhere can be copied here. "
        "Reading it needs no TensorFlow. To try the pipeline offline, load inside "
        "`with course_lib.data.mock_tfds_text():` (made-up examples).")


def _examples(source, chunk: int = 1024):
    """Yields the examples of a TFDS data source (or any sequence), in order.

    Reads `chunk` records per `__getitems__` call (4 times faster than one by one on
    ArrayRecord files); one by one where that fails, as in TFDS 4.9's mock data source,
    whose `__getitems__` raises TypeError.
    """
    read_many = getattr(source, "__getitems__", None)
    for start in range(0, len(source), chunk):
        keys = list(range(start, min(start + chunk, len(source))))
        if read_many is not None:
            try:
                records = read_many(keys)
            except TypeError:
                read_many = None
        if read_many is None:
            records = [source[k] for k in keys]
        yield from records


def _as_str(value) -> str:
    """A text feature's value (bytes, str, or a 0-d NumPy array of them) as str."""
    if isinstance(value, np.ndarray):
        value = value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
