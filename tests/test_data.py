"""course_lib.data: finding and fetching the corpora, the tweets, preprocessing, vocabulary, split.

Tests on the real corpus read the NLTK data directory `default_data_dir()`
(`$COURSE_DATA_DIR`, which `make test` sets); `process_tweet` needs its stopwords.
"""
import json
from pathlib import Path

import nltk
import pytest

import course_lib
from course_lib import data
from course_lib.data import corpus as corpus_module

POSITIVE = ["I love this :)", 'Quotes "inside" and unicode é… fine', "#happy day"]
NEGATIVE = ["hopeless for tmr :(", "so sad today"]

FOLLOW_FRIDAY = ("#FollowFriday @France_Inte @PKuchly57 @Milipol_Paris for being top engaged members "
                 "in my community this week :)")


@pytest.fixture(autouse=True)
def restore_nltk_path(monkeypatch):
    """Finding a corpus registers its directory with NLTK; undo that after each test."""
    monkeypatch.setattr(nltk.data, "path", list(nltk.data.path))


def write_twitter_samples(root: Path, positive=POSITIVE, negative=NEGATIVE) -> Path:
    """Writes a tiny twitter_samples corpus in NLTK's layout (JSON lines with a "text" field)."""
    corpus = root / "corpora" / "twitter_samples"
    corpus.mkdir(parents=True)
    for name, tweets in (("positive_tweets.json", positive), ("negative_tweets.json", negative)):
        lines = [json.dumps({"text": t, "id": i}) for i, t in enumerate(tweets)]
        (corpus / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def nltk_data_dir() -> Path:
    """The real NLTK data directory; the tests that need it fail (not skip) without it."""
    directory = data.default_data_dir()
    if not (directory / "corpora" / "twitter_samples" / "positive_tweets.json").exists():
        pytest.fail(f"No twitter_samples corpus in {directory}: run `make data`, or set "
                    "COURSE_DATA_DIR to an NLTK data directory that holds it.")
    return directory


# -- finding, loading and fetching corpora ----------------------------------------------------


def test_load_twitter_samples_returns_the_texts_in_corpus_order(tmp_path):
    positive, negative = data.load_twitter_samples(data_dir=write_twitter_samples(tmp_path))
    assert list(positive) == POSITIVE
    assert list(negative) == NEGATIVE


def test_load_twitter_samples_reads_course_data_dir_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(write_twitter_samples(tmp_path)))
    positive, negative = data.load_twitter_samples()
    assert list(positive) == POSITIVE and list(negative) == NEGATIVE


def test_a_missing_corpus_in_data_dir_raises_corpus_not_found_naming_the_dir_and_the_fetch_command(tmp_path):
    empty = tmp_path / "empty"
    with pytest.raises(data.CorpusNotFoundError) as info:
        data.load_twitter_samples(data_dir=empty)
    message = str(info.value)
    assert "twitter_samples" in message
    assert str(empty) in message
    assert "make data" in message and "python -m course_lib.data" in message
    assert isinstance(info.value, FileNotFoundError)


def test_a_missing_corpus_lists_every_directory_tried(tmp_path, monkeypatch):
    default, first, second = tmp_path / "default", tmp_path / "nltk_one", tmp_path / "nltk_two"
    monkeypatch.setenv("COURSE_DATA_DIR", str(default))
    monkeypatch.setattr(nltk.data, "path", [str(first), str(second)])
    with pytest.raises(data.CorpusNotFoundError) as info:
        data.load_twitter_samples()
    message = str(info.value)
    for directory in (default, first, second):
        assert str(directory) in message
    assert message.index(str(default)) < message.index(str(first)) < message.index(str(second))
    assert "make data" in message


def test_default_data_dir_honours_course_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "somewhere"))
    assert data.default_data_dir() == tmp_path / "somewhere"
    monkeypatch.setenv("COURSE_DATA_DIR", "~/course_nltk")
    assert data.default_data_dir() == Path.home() / "course_nltk"


def test_default_data_dir_without_the_variable_is_nltk_data_in_the_repository(monkeypatch):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    repository = Path(course_lib.__file__).resolve().parents[1]
    assert data.default_data_dir() == repository / "nltk_data"


def test_default_data_dir_in_a_checkout_is_nltk_data_beside_pyproject(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'course'\n")
    monkeypatch.setattr(corpus_module, "_package_parent", lambda: tmp_path)
    assert data.default_data_dir() == tmp_path / "nltk_data"


def test_default_data_dir_of_an_installed_course_lib_is_the_user_cache_not_site_packages(
        tmp_path, monkeypatch):
    site_packages = tmp_path / "lib" / "site-packages"       # no pyproject.toml there
    site_packages.mkdir(parents=True)
    home = tmp_path / "home"
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(corpus_module, "_package_parent", lambda: site_packages)
    assert data.default_data_dir() == home / ".cache" / "course_lib" / "nltk_data"
    assert site_packages not in data.default_data_dir().parents


def test_default_data_dir_honours_xdg_cache_home_when_absolute(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(corpus_module, "_package_parent", lambda: tmp_path / "site-packages")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data.default_data_dir() == tmp_path / "xdg" / "course_lib" / "nltk_data"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")     # ignored, as the XDG spec says
    assert data.default_data_dir() == tmp_path / "home" / ".cache" / "course_lib" / "nltk_data"


def test_course_data_dir_wins_over_the_checkout_and_the_cache(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("")
    monkeypatch.setattr(corpus_module, "_package_parent", lambda: tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "chosen"))
    assert data.default_data_dir() == tmp_path / "chosen"


def test_fetch_without_a_data_dir_downloads_into_the_user_cache_when_installed(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(corpus_module, "_package_parent", lambda: tmp_path / "site-packages")
    targets = []

    def fake_download(package, download_dir, **kwargs):
        targets.append(download_dir)
        if package == "twitter_samples":
            write_twitter_samples(Path(download_dir))
        else:
            (Path(download_dir) / "corpora" / "stopwords").mkdir(parents=True)
        return True

    monkeypatch.setattr(nltk, "download", fake_download)
    expected = tmp_path / "xdg" / "course_lib" / "nltk_data"
    assert data.fetch(quiet=True) == expected
    assert targets == [str(expected), str(expected)]


def _no_download(*args, **kwargs):
    raise AssertionError(f"nltk.download was called: {args} {kwargs}")


def test_fetch_does_nothing_and_needs_no_network_when_both_corpora_are_present(tmp_path, monkeypatch):
    root = write_twitter_samples(tmp_path)
    (root / "corpora" / "stopwords").mkdir()
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    monkeypatch.setattr(nltk, "download", _no_download)
    assert data.fetch(root, quiet=True) == root
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before


def test_fetch_finds_both_corpora_in_the_real_data_dir_without_downloading(nltk_data_dir, monkeypatch, capsys):
    monkeypatch.setattr(nltk, "download", _no_download)
    assert data.fetch(nltk_data_dir) == nltk_data_dir
    out = capsys.readouterr().out
    assert "twitter_samples: present" in out and "stopwords: present" in out


def test_fetch_downloads_missing_corpora_and_explains_a_failed_download(tmp_path, monkeypatch):
    calls = []

    def failing_download(package, download_dir=None, **kwargs):
        calls.append((package, download_dir))
        return False

    monkeypatch.setattr(nltk, "download", failing_download)
    with pytest.raises(data.CorpusNotFoundError) as info:
        data.fetch(tmp_path / "new", quiet=True)
    assert calls == [("twitter_samples", str(tmp_path / "new"))]
    message = str(info.value)
    assert "twitter_samples" in message and "network" in message and "COURSE_DATA_DIR" in message


def test_load_stopwords_is_nltks_english_list_as_a_frozenset(nltk_data_dir):
    stopwords = data.load_stopwords()
    assert isinstance(stopwords, frozenset)
    assert {"i", "me", "the", "and", "is", "you", "for", "this", "not"} <= stopwords
    assert not {"happy", "sad", "love", "week"} & stopwords


def test_load_stopwords_from_a_dir_without_them_raises_corpus_not_found(tmp_path):
    with pytest.raises(data.CorpusNotFoundError, match="stopwords"):
        data.load_stopwords(data_dir=tmp_path)


# -- process_tweet -------------------------------------------------------------------------


def test_process_tweet_drops_hashtag_signs_handles_and_stopwords_and_stems_the_rest():
    assert data.process_tweet(FOLLOW_FRIDAY) == [
        "followfriday", "top", "engag", "member", "commun", "week", ":)"]


def test_process_tweet_removes_urls_up_to_the_next_whitespace():
    assert data.process_tweet("Great movie https://t.co/abc123 tonight") == ["great", "movi", "tonight"]
    assert data.process_tweet("Look http://t.co/x great day") == ["look", "great", "day"]


def test_process_tweet_removes_the_old_style_retweet_marker_and_handles():
    assert data.process_tweet("RT @user: Loving the new album") == ["love", "new", "album"]


def test_process_tweet_removes_stock_tickers():
    assert data.process_tweet("$GE shares rising fast") == ["share", "rise", "fast"]


def test_process_tweet_reduces_runs_of_a_letter_to_three():
    assert data.process_tweet("waaaaay cooool") == ["waaay", "coool"]


def test_process_tweet_drops_stopwords_and_punctuation_and_lowercases():
    assert data.process_tweet("This is a TEST .") == ["test"]
    assert data.process_tweet("I am so happy , and you ?") == ["happi"]


def test_process_tweet_keeps_emoticons_and_numbers():
    tweet = ("@Lamb2ja Hey James! How odd :/ Please call our Contact Centre on 02392441234 "
             "and we will be able to assist you :) Many thanks!")
    assert data.process_tweet(tweet) == [
        "hey", "jame", "odd", ":/", "pleas", "call", "contact", "centr", "02392441234",
        "abl", "assist", ":)", "mani", "thank"]


# -- build_vocab and train_val_split ---------------------------------------------------------


def test_build_vocab_starts_with_the_three_reserved_tokens():
    assert data.build_vocab([]) == {"__PAD__": 0, "__</e>__": 1, "__UNK__": 2}
    assert (data.PAD, data.EOS, data.UNK) == ("__PAD__", "__</e>__", "__UNK__")


def test_build_vocab_numbers_words_in_order_of_first_appearance():
    vocab = data.build_vocab(["b a b", "c a d"], process=str.split)
    assert vocab == {"__PAD__": 0, "__</e>__": 1, "__UNK__": 2, "b": 3, "a": 4, "c": 5, "d": 6}


def test_build_vocab_processes_tweets_with_process_tweet_by_default():
    vocab = data.build_vocab(["Loving the new album :)", "new songs :)"])
    assert vocab == {"__PAD__": 0, "__</e>__": 1, "__UNK__": 2,
                     "love": 3, "new": 4, "album": 5, ":)": 6, "song": 7}


def test_train_val_split_takes_the_first_n_train_of_each_class_for_training():
    positive = [f"p{i}" for i in range(10)]
    negative = [f"n{i}" for i in range(7)]
    train_pos, train_neg, val_pos, val_neg = data.train_val_split(positive, negative, n_train=4)
    assert train_pos == ["p0", "p1", "p2", "p3"]
    assert train_neg == ["n0", "n1", "n2", "n3"]
    assert val_pos == [f"p{i}" for i in range(4, 10)]
    assert val_neg == ["n4", "n5", "n6"]


# -- the real corpus -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(nltk_data_dir):
    return data.load_twitter_samples()


def test_the_corpus_has_5000_positive_and_5000_negative_tweets(corpus):
    positive, negative = corpus
    assert len(positive) == 5000 and len(negative) == 5000
    assert all(isinstance(t, str) for t in positive + negative)


def test_the_corpus_starts_with_the_follow_friday_and_hopeless_tweets(corpus):
    positive, negative = corpus
    assert positive[0] == FOLLOW_FRIDAY
    assert negative[0] == "hopeless for tmr :("


def test_the_course_example_tweet_2277_processes_as_in_the_lecture(corpus):
    positive, _ = corpus
    assert data.process_tweet(positive[2277]) == [
        "beauti", "sunflow", "sunni", "friday", "morn", ":)", "sunflow", "favourit", "happi",
        "friday", "…"]


def test_the_default_split_is_4000_train_and_1000_validation_per_class(corpus):
    positive, negative = corpus
    train_pos, train_neg, val_pos, val_neg = data.train_val_split(positive, negative)
    assert (len(train_pos), len(train_neg), len(val_pos), len(val_neg)) == (4000, 4000, 1000, 1000)
    assert train_pos + val_pos == positive and train_neg + val_neg == negative


def test_the_training_vocabulary_has_contiguous_unique_ids_one_per_distinct_word(corpus):
    positive, negative = corpus
    train_pos, train_neg, _, _ = data.train_val_split(positive, negative)
    words = set()

    def process_and_record(tweet):
        tokens = data.process_tweet(tweet)
        words.update(tokens)
        return tokens

    vocab = data.build_vocab(train_pos + train_neg, process=process_and_record)
    assert len(set(vocab.values())) == len(vocab)
    assert sorted(vocab.values()) == list(range(len(vocab)))
    assert len(vocab) == 3 + len(words)
    assert set(vocab) == words | {"__PAD__", "__</e>__", "__UNK__"}
    assert vocab["followfriday"] == 3          # the first word of the first training tweet
