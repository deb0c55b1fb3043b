"""course_lib.data.tfds and course_lib.data.pipeline: TFDS text datasets through the course's pipeline.

Offline: the TFDS datasets come from TFDS's mock (`tfds.testing.mock_data`), with its own
random examples or with examples written here, read through `tfds.data_source` without
TensorFlow. One test uses the course's `process_tweet`, which needs NLTK's stopwords
(`make test` fetches them into `$COURSE_DATA_DIR`).
"""
from __future__ import annotations

import itertools
import json
import sys
import zipfile

import numpy as np
import pytest
import tensorflow_datasets as tfds

from course_lib import data, layers as tl, optimizers, training
from course_lib.data import cache

PAD, EOS, UNK = "__PAD__", "__</e>__", "__UNK__"


def hand_made_source(examples_by_dataset: dict):
    """An `as_data_source_fn` for tfds.testing.mock_data: dataset name -> its list of examples."""
    def as_data_source(builder, split=None, **kwargs):
        return examples_by_dataset[builder.name]
    return as_data_source


def counting(tokenize=data.simple_tokenize):
    """A tokenizer that records each text it is called on, and that list."""
    calls = []

    def tokenizer(text):
        calls.append(text)
        return tokenize(text)
    return tokenizer, calls


def capstone_classifier(vocab_size):
    return tl.Serial(tl.Embedding(vocab_size, 256), tl.Mean(axis=1), tl.Dense(2), tl.LogSoftmax())


# -- loading TFDS datasets ----------------------------------------------------------------------


def test_imdb_reviews_mock_examples_load_as_str_texts_with_their_labels():
    with tfds.testing.mock_data(num_examples=6):
        raw = list(tfds.data_source("imdb_reviews", split="train"))
        texts, labels = data.load_tfds_text("imdb_reviews", "train")

    assert texts == [str(example["text"]) for example in raw]
    assert labels == [int(example["label"]) for example in raw]
    assert all(type(t) is str for t in texts) and all(type(y) is int for y in labels)
    assert set(labels) <= {0, 1}


@pytest.mark.parametrize("name, examples, expected_texts, expected_labels", [
    ("imdb_reviews",
     [{"text": b"Loved it", "label": np.int64(1)}, {"text": b"Dull", "label": np.int64(0)}],
     ["Loved it", "Dull"], [1, 0]),
    ("sentiment140",
     [{"text": b"sad day", "polarity": np.int32(0)}, {"text": b"great day", "polarity": np.int32(4)},
      {"text": b"just a day", "polarity": np.int32(2)}, {"text": b"caf\xc3\xa9 time", "polarity": np.int32(4)},
      {"text": b"bad", "polarity": np.int32(0)}],
     ["sad day", "great day", "caf\u00e9 time", "bad"], [0, 1, 1, 0]),
], ids=["imdb_reviews: label 1 positive, 0 negative",
        "sentiment140: polarity 4 positive, 0 negative, 2 dropped"])
def test_labels_map_to_1_positive_and_0_negative_and_texts_decode_from_utf8(
        name, examples, expected_texts, expected_labels):
    with tfds.testing.mock_data(as_data_source_fn=hand_made_source({name: examples})):
        texts, labels = data.load_tfds_text(name, "test")
    assert texts == expected_texts
    assert labels == expected_labels


def test_a_label_outside_the_datasets_encoding_raises_value_error_naming_it():
    unlabelled = [{"text": b"an unlabelled review", "label": np.int64(-1)}]
    with tfds.testing.mock_data(as_data_source_fn=hand_made_source({"imdb_reviews": unlabelled})):
        with pytest.raises(ValueError, match=r"label = -1.*\[0, 1\].*'unsupervised' split has no labels"):
            data.load_tfds_text("imdb_reviews", "unsupervised")
    # A polarity between the dataset's 0, 2 and 4, after a valid example.
    odd_polarity = [{"text": b"fine", "polarity": np.int32(4)}, {"text": b"meh", "polarity": np.int32(1)}]
    with tfds.testing.mock_data(as_data_source_fn=hand_made_source({"sentiment140": odd_polarity})):
        with pytest.raises(ValueError, match=r"polarity = 1, but this dataset's labels are \[0, 2, 4\]"):
            data.load_tfds_text("sentiment140", "train")


def test_an_unsupported_dataset_raises_value_error_listing_the_supported_ones():
    with pytest.raises(ValueError, match=r"'imdb'.*\['imdb_reviews', 'sentiment140'\]"):
        data.load_tfds_text("imdb", "train")


def test_without_tensorflow_datasets_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)   # `import` now fails
    with pytest.raises(ModuleNotFoundError, match="pip install tensorflow-datasets"):
        data.load_tfds_text("imdb_reviews", "train")


def test_an_unprepared_dataset_raises_not_prepared_with_its_dir_and_the_tfds_build_command(tmp_path):
    data_dir = tmp_path / "tfds"
    with pytest.raises(data.DatasetNotPreparedError) as info:
        data.load_tfds_text("sentiment140", "train", data_dir=data_dir)
    message = str(info.value)
    assert f"is not prepared in {data_dir / 'sentiment140'}" in message
    assert f"tfds build sentiment140 --file_format=array_record --data_dir={data_dir}" in message
    assert "mock_tfds_text" in message
    assert isinstance(info.value, FileNotFoundError)
    assert not (data_dir / "downloads").exists(), "nothing was downloaded"


def test_loading_works_where_tensorflow_cannot_be_imported(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow", None)            # `import tensorflow` now fails
    with tfds.testing.mock_data(num_examples=2):
        texts, labels = data.load_tfds_text("imdb_reviews", "train")
    assert len(texts) == len(labels) == 2


def test_mock_tfds_text_gives_the_same_examples_for_the_same_seed_and_split_only():
    with data.mock_tfds_text(num_examples=50, seed=1):
        train = data.load_tfds_text("sentiment140", "train")
        again = data.load_tfds_text("sentiment140", "train")
        test = data.load_tfds_text("sentiment140", "test")
    with data.mock_tfds_text(num_examples=50, seed=2):
        other_seed = data.load_tfds_text("sentiment140", "train")

    assert train == again
    assert train != test and train != other_seed
    texts, labels = train
    assert len(texts) == len(labels) < 50, "the neutral tweets (polarity 2) are dropped"
    assert set(labels) == {0, 1}


# -- tokenizing, vocabulary, ids ------------------------------------------------------------------


def test_simple_tokenize_lowercases_drops_html_tags_and_keeps_apostrophes_inside_words():
    assert data.simple_tokenize("Loved it!<br /><br />Best film of 2009, isn't it? 'Yes'") == [
        "loved", "it", "best", "film", "of", "2009", "isn't", "it", "yes"]


def test_without_limits_the_vocabulary_is_build_vocabs_and_each_word_gets_its_id():
    texts = ["b a b", "c b a", "d"]
    encoded = data.encode_texts(texts, tokenizer=data.simple_tokenize)

    assert encoded.vocab == {PAD: 0, EOS: 1, UNK: 2, "b": 3, "a": 4, "c": 5, "d": 6}
    assert encoded.vocab == data.build_vocab(texts, process=data.simple_tokenize)
    assert [row.tolist() for row in encoded] == [[3, 4, 3], [5, 3, 4], [6]]
    assert encoded[0].dtype == np.int32 and encoded.lengths.tolist() == [3, 3, 1]
    assert encoded[-1].tolist() == [6] and len(encoded) == 3


def test_min_count_keeps_words_seen_that_often_and_maps_the_others_to_unk():
    encoded = data.encode_texts(["b a b", "c b a", "d"], tokenizer=data.simple_tokenize, min_count=2)
    assert encoded.vocab == {PAD: 0, EOS: 1, UNK: 2, "b": 3, "a": 4}
    assert [row.tolist() for row in encoded] == [[3, 4, 3], [2, 3, 4], [2]]


def test_max_vocab_size_keeps_the_most_frequent_words_breaking_ties_by_first_appearance():
    texts = ["d c b a b", "c b a", "b"]          # counts: d 1, c 2, b 4, a 2
    encoded = data.encode_texts(texts, tokenizer=data.simple_tokenize, max_vocab_size=5)
    # 5 ids = 3 reserved + b (4 times) + c (2 times, seen before a); in order of first appearance
    assert encoded.vocab == {PAD: 0, EOS: 1, UNK: 2, "c": 3, "b": 4}
    assert [row.tolist() for row in encoded] == [[2, 3, 4, 2, 4], [3, 4, 2], [4]]

    only_reserved = data.encode_texts(texts, tokenizer=data.simple_tokenize, max_vocab_size=3)
    assert only_reserved.vocab == {PAD: 0, EOS: 1, UNK: 2}
    assert set(only_reserved.tokens.tolist()) == {2}


def test_a_given_vocabulary_is_used_as_it_is_with_unknown_words_as_unk():
    vocab = {PAD: 0, EOS: 1, UNK: 2, "good": 3, "film": 4}
    encoded = data.encode_texts(["Good film", "bad film", ""], vocab=vocab, tokenizer=data.simple_tokenize)
    assert encoded.vocab == vocab
    assert [row.tolist() for row in encoded] == [[3, 4], [2, 4], []]


def test_encode_texts_with_the_default_tokenizer_matches_the_capstones_build_vocab():
    # process_tweet needs NLTK's stopwords (make data; COURSE_DATA_DIR).
    tweets = ["#FollowFriday @France_Inte top engaged members :)", "hopeless for tmr :(", "top :)"]
    encoded = data.encode_texts(tweets)
    vocab = data.build_vocab(tweets)
    assert encoded.vocab == vocab
    assert [row.tolist() for row in encoded] == [[vocab[w] for w in data.process_tweet(t)] for t in tweets]


def test_encode_texts_rejects_bytes_bad_tokenizers_and_bad_options():
    with pytest.raises(TypeError, match=r"text 1 is a bytes.*decode it first"):
        data.encode_texts(["fine", b"bytes"], tokenizer=data.simple_tokenize)
    with pytest.raises(TypeError, match="must return a list of str"):
        data.encode_texts(["a b"], tokenizer=str.upper)
    with pytest.raises(ValueError, match="vocab has no '__UNK__'"):
        data.encode_texts(["a"], vocab={PAD: 0, "a": 1}, tokenizer=data.simple_tokenize)
    with pytest.raises(ValueError, match="max_vocab_size=2"):
        data.encode_texts(["a"], tokenizer=data.simple_tokenize, max_vocab_size=2)
    with pytest.raises(ValueError, match="min_count=0"):
        data.encode_texts(["a"], tokenizer=data.simple_tokenize, min_count=0)


# -- padded batches ---------------------------------------------------------------------------------


def rows(batch):
    return tuple(np.asarray(a).tolist() for a in batch)


def test_in_order_batches_pad_with_zeros_and_fill_the_last_batch_with_zero_weight_rows():
    batches = list(data.padded_batches([[5, 6, 7], [8], [9, 10]], [1, 0, 1], batch_size=2))

    assert len(batches) == 2
    assert rows(batches[0]) == ([[5, 6, 7], [8, 0, 0]], [1, 0], [1.0, 1.0])
    assert rows(batches[1]) == ([[9, 10], [0, 0]], [1, 0], [1.0, 0.0])
    inputs, targets, weights = batches[1]
    assert (inputs.dtype, targets.dtype, weights.dtype) == (np.int32, np.int32, np.float32)


def test_max_len_cuts_long_examples_and_pads_every_batch_to_max_len():
    batches = list(data.padded_batches([[5, 6, 7], [8], [9, 10]], [1, 0, 1], batch_size=2, max_len=2))
    assert rows(batches[0]) == ([[5, 6], [8, 0]], [1, 0], [1.0, 1.0])
    assert rows(batches[1]) == ([[9, 10], [0, 0]], [1, 0], [1.0, 0.0])


def test_without_loop_every_example_comes_exactly_once_in_order_or_shuffled():
    ids, labels = [[100 + i] for i in range(7)], [i % 2 for i in range(7)]
    for shuffle in (False, True):
        batches = list(data.padded_batches(ids, labels, batch_size=3, shuffle=shuffle, seed=3))
        seen = [(row[0], label) for inputs, targets, weights in batches
                for row, label, weight in zip(inputs.tolist(), targets.tolist(), weights) if weight == 1]

        assert len(batches) == 3 and all(b[0].shape == (3, 1) for b in batches)
        assert sorted(seen) == [(100 + i, i % 2) for i in range(7)]
        # The oracle: in order, or one permutation drawn from the seed.
        order = np.random.default_rng(3).permutation(7) if shuffle else np.arange(7)
        assert [first for first, _ in seen] == (100 + order).tolist()
    assert np.random.default_rng(3).permutation(7).tolist() != list(range(7)), "seed 3 must shuffle"


def test_training_batches_loop_forever_full_each_pass_a_new_permutation_of_the_seed():
    ids, labels = [[10 + i] for i in range(6)], [0, 1, 0, 1, 0, 1]
    batches = list(itertools.islice(
        data.padded_batches(ids, labels, batch_size=4, shuffle=True, loop=True, seed=7), 3))

    rng = np.random.default_rng(7)                 # the oracle: two passes, two permutations
    order = np.concatenate([rng.permutation(6), rng.permutation(6)])
    assert [b[0][:, 0].tolist() for b in batches] == [(10 + order[i:i + 4]).tolist() for i in (0, 4, 8)]
    assert [b[1].tolist() for b in batches] == [(order[i:i + 4] % 2).tolist() for i in (0, 4, 8)]
    assert all(b[2].tolist() == [1.0] * 4 for b in batches)


def test_the_same_seed_gives_the_same_batches_and_another_seed_another_order():
    ids, labels = [[i + 1] for i in range(20)], [0] * 20

    def first_batches(seed):
        stream = data.padded_batches(ids, labels, batch_size=5, shuffle=True, loop=True, seed=seed)
        return [b[0].tolist() for b in itertools.islice(stream, 8)]

    assert first_batches(1) == first_batches(1)
    assert first_batches(1) != first_batches(2)


def test_looping_in_order_carries_on_across_passes():
    batches = itertools.islice(data.padded_batches([[1], [2], [3]], [0, 1, 0], batch_size=2, loop=True), 3)
    assert [b[0][:, 0].tolist() for b in batches] == [[1, 2], [3, 1], [2, 3]]


def test_examples_without_tokens_become_rows_of_padding_at_least_one_wide():
    (inputs, targets, weights), = data.padded_batches([[], []], [1, 0], batch_size=2)
    assert inputs.tolist() == [[0], [0]] and weights.tolist() == [1.0, 1.0]


def test_padded_batches_rejects_mismatched_lengths_no_examples_and_sizes_below_one_when_called():
    for args, kwargs, match in [(([[1]], [0, 1], 1), {}, "1 id sequences but 2 labels"),
                                (([], [], 1), {}, "no examples"),
                                (([[1]], [0], 0), {}, "batch_size=0"),
                                (([[1]], [0], 1), {"max_len": 0}, "max_len=0")]:
        with pytest.raises(ValueError, match=match):
            data.padded_batches(*args, **kwargs)


# -- the cache ------------------------------------------------------------------------------------

TEXTS = ["A good film", "a bad film", "Good, good!"]


def test_a_second_call_reads_the_cache_without_tokenizing_again(tmp_path):
    tokenizer, calls = counting()
    first = data.encode_texts(TEXTS, tokenizer=tokenizer, cache_name="toy/train", cache_dir=tmp_path)
    second = data.encode_texts(TEXTS, tokenizer=tokenizer, cache_name="toy/train", cache_dir=tmp_path)

    assert (first.from_cache, second.from_cache) == (False, True)
    assert len(calls) == 3, "only the first call tokenized"
    assert second.vocab == first.vocab == {PAD: 0, EOS: 1, UNK: 2, "a": 3, "good": 4, "film": 5, "bad": 6}
    assert [r.tolist() for r in second] == [r.tolist() for r in first] == [[3, 4, 5], [3, 6, 5], [4, 4]]
    assert second.cache_path == first.cache_path and first.cache_path.parent == tmp_path


@pytest.mark.parametrize("change", [
    {"texts": TEXTS[:2] + ["Good, good?"]},
    {"texts": TEXTS[:2]},
    {"min_count": 2},
    {"max_vocab_size": 4},
    {"vocab": {PAD: 0, EOS: 1, UNK: 2, "good": 3}},
    {"cache_name": "toy/test"},
], ids=["one character of the texts", "fewer texts", "min_count", "max_vocab_size",
        "a given vocabulary", "the dataset and split name"])
def test_changing_the_texts_the_vocabulary_options_or_the_name_rebuilds_the_cache(tmp_path, change):
    tokenizer, calls = counting()
    data.encode_texts(TEXTS, tokenizer=tokenizer, cache_name="toy/train", cache_dir=tmp_path)
    options = {"texts": TEXTS, "cache_name": "toy/train"} | change
    again = data.encode_texts(tokenizer=tokenizer, cache_dir=tmp_path, **options)

    assert not again.from_cache
    assert calls == TEXTS + list(options["texts"]), "the second call tokenized again"
    del options["cache_name"]
    uncached = data.encode_texts(tokenizer=data.simple_tokenize, **options)
    assert again.vocab == uncached.vocab
    assert [r.tolist() for r in again] == [r.tolist() for r in uncached]
    assert len(list(tmp_path.glob("*.npz"))) == 2, "the first file stays, the second is new"


def test_another_tokenizer_rebuilds_the_cache(tmp_path):
    lower, lower_calls = counting(data.simple_tokenize)
    upper, upper_calls = counting(lambda text: text.upper().split())
    data.encode_texts(TEXTS, tokenizer=lower, cache_name="toy/train", cache_dir=tmp_path)
    encoded = data.encode_texts(TEXTS, tokenizer=upper, cache_name="toy/train", cache_dir=tmp_path)

    assert not encoded.from_cache and len(upper_calls) == 3
    assert encoded.vocab == {PAD: 0, EOS: 1, UNK: 2, "A": 3, "GOOD": 4, "FILM": 5, "BAD": 6, "GOOD,": 7,
                             "GOOD!": 8}


def test_tokenizer_id_follows_the_code_not_the_object():
    def define(body):
        namespace = {}
        exec(f"def tokenize(text):\n    return {body}\n", namespace)
        return namespace["tokenize"]

    assert data.tokenizer_id(define("text.split()")) == data.tokenizer_id(define("text.split()"))
    assert data.tokenizer_id(define("text.split()")) != data.tokenizer_id(define("text.lower().split()"))
    assert data.tokenizer_id(data.process_tweet).startswith("course_lib.data.preprocess.process_tweet@")
    with_version = counting()[0]
    with_version.cache_version = "stopwords-v2"
    assert data.tokenizer_id(with_version) != data.tokenizer_id(counting()[0])


def corrupt_by_garbage(path):
    path.write_bytes(b"not a zip file at all")


def corrupt_by_truncation(path):
    path.write_bytes(path.read_bytes()[:200])


def corrupt_by_pickled_object_array(path):
    with open(path, "wb") as handle:   # an .npz whose arrays need pickle to load
        np.savez(handle, key=np.array([{"a": 1}], dtype=object), vocab=np.zeros(1),
                 tokens=np.zeros(1), offsets=np.zeros(1))


def corrupt_by_a_plain_npy_array(path):
    with open(path, "wb") as handle:   # np.load gives an array, not the archive of arrays
        np.save(handle, np.arange(3))


def corrupt_by_tokens_outside_the_vocabulary(path):
    with np.load(path, allow_pickle=False) as stored:
        arrays = dict(stored)
    arrays["tokens"] = arrays["tokens"] + 100
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


@pytest.mark.parametrize("corrupt", [corrupt_by_garbage, corrupt_by_truncation,
                                     corrupt_by_pickled_object_array, corrupt_by_a_plain_npy_array,
                                     corrupt_by_tokens_outside_the_vocabulary])
def test_an_unreadable_or_inconsistent_cache_file_is_rebuilt_with_a_warning(tmp_path, corrupt):
    tokenizer, calls = counting()
    first = data.encode_texts(TEXTS, tokenizer=tokenizer, cache_name="toy/train", cache_dir=tmp_path)
    corrupt(first.cache_path)

    with pytest.warns(UserWarning, match="Rebuilding the unreadable cache file"):
        rebuilt = data.encode_texts(TEXTS, tokenizer=tokenizer, cache_name="toy/train", cache_dir=tmp_path)
    reread = data.encode_texts(TEXTS, tokenizer=tokenizer, cache_name="toy/train", cache_dir=tmp_path)

    assert (rebuilt.from_cache, reread.from_cache) == (False, True)
    assert len(calls) == 6
    assert [r.tolist() for r in reread] == [r.tolist() for r in first]


def test_the_cache_file_holds_arrays_and_json_that_load_without_pickle(tmp_path):
    encoded = data.encode_texts(TEXTS, tokenizer=data.simple_tokenize, cache_name="toy/train[:3]",
                                cache_dir=tmp_path)

    assert [p.name for p in tmp_path.iterdir()] == [encoded.cache_path.name]
    assert encoded.cache_path.name.startswith("toy_train_3_-") and encoded.cache_path.suffix == ".npz"
    with zipfile.ZipFile(encoded.cache_path) as archive:
        assert sorted(archive.namelist()) == ["key.npy", "offsets.npy", "tokens.npy", "vocab.npy"]
    with np.load(encoded.cache_path, allow_pickle=False) as stored:
        assert stored["tokens"].tolist() == [3, 4, 5, 3, 6, 5, 4, 4]
        assert stored["offsets"].tolist() == [0, 3, 6, 8]
        assert json.loads(stored["vocab"].tobytes()) == encoded.vocab
        key = json.loads(stored["key"].tobytes())
    assert key["name"] == "toy/train[:3]" and key["texts"]["count"] == 3
    assert key["tokenizer"] == data.tokenizer_id(data.simple_tokenize)
    assert key["vocab"] == {"max_size": None, "min_count": 1}


def test_a_failed_cache_write_warns_leaves_no_file_and_still_returns_the_ids(tmp_path, monkeypatch):
    def failing_replace(source, destination):
        raise OSError("disk full")
    monkeypatch.setattr(cache.os, "replace", failing_replace)

    with pytest.warns(UserWarning, match="Could not write the cache file.*disk full"):
        encoded = data.encode_texts(TEXTS, tokenizer=data.simple_tokenize, cache_name="toy/train",
                                    cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []
    assert encoded.cache_path is None and [r.tolist() for r in encoded] == [[3, 4, 5], [3, 6, 5], [4, 4]]


def test_the_default_cache_dir_is_course_cache_dir_else_dot_cache_course_lib(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    assert data.default_cache_dir() == tmp_path / "cache"
    encoded = data.encode_texts(TEXTS, tokenizer=data.simple_tokenize, cache_name="toy/train")
    assert encoded.cache_path.parent == tmp_path / "cache"

    monkeypatch.delenv("COURSE_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data.default_cache_dir() == tmp_path / "home" / ".cache" / "course_lib"


def test_without_a_cache_name_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    encoded = data.encode_texts(TEXTS, tokenizer=data.simple_tokenize)
    assert encoded.cache_path is None and not encoded.from_cache and list(tmp_path.iterdir()) == []


# -- end to end: TFDS mock data -> pipeline -> the capstone's classifier in training.Loop -----------


@pytest.mark.parametrize("name, mock", [
    ("imdb_reviews", lambda: tfds.testing.mock_data(num_examples=40)),
    ("sentiment140", lambda: data.mock_tfds_text(num_examples=40)),
], ids=["imdb_reviews with TFDS's random mock", "sentiment140 with mock_tfds_text"])
def test_mock_tfds_data_trains_the_capstone_classifier_through_the_pipeline(tmp_path, name, mock):
    with mock():
        train_texts, train_labels = data.load_tfds_text(name, "train")
        test_texts, test_labels = data.load_tfds_text(name, "test")
    train = data.encode_texts(train_texts, tokenizer=data.simple_tokenize, cache_name=f"{name}/train",
                              cache_dir=tmp_path)
    test = data.encode_texts(test_texts, vocab=train.vocab, tokenizer=data.simple_tokenize,
                             cache_name=f"{name}/test", cache_dir=tmp_path)
    batch_size, max_len = 8, 12
    train_task = training.TrainTask(
        data.padded_batches(train, train_labels, batch_size, shuffle=True, loop=True, seed=0, max_len=max_len),
        tl.CrossEntropyLoss(), optimizers.Adam(0.01), n_steps_per_checkpoint=2)
    eval_task = training.EvalTask(
        data.padded_batches(test, test_labels, batch_size, loop=True, max_len=max_len),
        [tl.CrossEntropyLoss(), tl.Accuracy()])
    model = capstone_classifier(len(train.vocab))
    loop = training.Loop(model, train_task, eval_tasks=[eval_task], output_dir=tmp_path / "model")
    loop.run(n_steps=4)

    assert loop.step == 4
    train_losses = loop.history.get("train", "metrics/CrossEntropyLoss")
    assert [step for step, _ in train_losses] == [1, 2, 4]
    assert all(np.isfinite(value) for _, value in train_losses)
    # The last eval (at step 4, with the final weights) ran on the eval stream's third batch
    # (evals at steps 1, 2 and 4, one batch each): its accuracy, computed here from the model's outputs.
    eval_inputs, eval_targets, eval_weights = list(itertools.islice(
        data.padded_batches(test, test_labels, batch_size, loop=True, max_len=max_len), 3))[-1]
    predicted = np.asarray(model(eval_inputs)).argmax(axis=1)
    by_hand = np.sum(eval_weights * (predicted == eval_targets)) / np.sum(eval_weights)
    (last_step, last_accuracy), = loop.history.get("eval", "metrics/Accuracy")[-1:]
    assert last_step == 4 and last_accuracy == pytest.approx(by_hand, abs=1e-6)
    inputs, _, _ = next(data.padded_batches(test, test_labels, batch_size, max_len=max_len))
    log_probs = np.asarray(model(inputs))
    assert inputs.shape == (8, 12) and log_probs.shape == (8, 2)
    np.testing.assert_allclose(np.exp(log_probs).sum(axis=1), 1.0, rtol=1e-5)
    assert model.sublayers[0].weights.shape == (len(train.vocab), 256)
