"""process_tweet's `stopwords` argument (the capstone keeps the negations with it) and its cache of
tokenized tweets. Needs NLTK's stopwords (`$COURSE_DATA_DIR`, which `make test` sets)."""
from __future__ import annotations

import collections
import json
import os

import pytest

from course_lib import data
from course_lib.data import preprocess


def test_process_tweet_drops_nltks_stopwords_by_default_negations_included():
    assert data.process_tweet("I am not happy, I don't like it") == ["happi", "like"]


def test_process_tweet_drops_only_the_stopwords_it_is_given():
    # Stems by hand (Porter): happy -> happi; the rest stay as they are.
    assert data.process_tweet("I am not happy, I don't like it", stopwords={"i", "am", "it"}) == [
        "not", "happi", "don't", "like"]
    assert data.process_tweet("I am not happy", stopwords=[]) == ["i", "am", "not", "happi"]


def test_process_tweet_with_a_stopword_list_leaves_the_default_list_alone():
    data.process_tweet("not the end", stopwords=set())
    assert data.process_tweet("not the end") == ["end"]


def test_process_tweet_tokenizes_a_tweet_once_for_every_stopword_list(monkeypatch):
    tweet = "a tweet that this test alone tokenizes :) #zebras"
    tokenized = []
    tokenize = preprocess._tokenize
    monkeypatch.setattr(preprocess, "_tokenize", lambda text: tokenized.append(text) or tokenize(text))
    with_defaults = data.process_tweet(tweet)
    with_none = data.process_tweet(tweet, stopwords=set())
    assert tokenized == [tweet]
    assert with_defaults == ["tweet", "test", "alon", "token", ":)", "zebra"]
    assert with_none == ["a", "tweet", "that", "thi", "test", "alon", "token", ":)", "zebra"]


# The token memo: the tweets a process has tokenized, written to a file that another process reads
# (the grader fills one from the released notebooks' own cells; each grading kernel reads it).

def test_a_saved_token_memo_spares_another_process_the_tokenizer(tmp_path):
    import subprocess
    import sys
    tweets = ["@someone Loving the #sunshine today :) http://t.co/x", "RT I am not happy... $GE :(",
              "waaaaaay too many cats", "an emoji only tweet :-D"]
    memo = tmp_path / "tokens.json"
    program = r'''
import json, sys
from course_lib.data import preprocess
tweets = json.loads(sys.argv[1])
if sys.argv[2] == "save":
    results = [preprocess.process_tweet(t) for t in tweets]
    print(json.dumps({"saved": preprocess.save_token_memo(sys.argv[3]), "results": results}))
else:
    tokenized = []
    tokenize = preprocess._tokenize
    preprocess._tokenize = lambda text: tokenized.append(text) or tokenize(text)
    results = [preprocess.process_tweet(t) for t in tweets + ["a tweet not in the memo"]]
    print(json.dumps({"tokenized": tokenized, "results": results}))
'''
    def run(*args, env_memo=None):
        env = {key: value for key, value in os.environ.items() if key != preprocess.TOKEN_MEMO_ENV}
        if env_memo:
            env[preprocess.TOKEN_MEMO_ENV] = str(env_memo)
        done = subprocess.run([sys.executable, "-c", program, json.dumps(tweets), *args], env=env,
                              capture_output=True, text=True, check=True)
        return json.loads(done.stdout.splitlines()[-1])

    saved = run("save", str(memo))
    assert saved["saved"] == len(tweets)
    loaded = run("load", env_memo=memo)
    assert loaded["results"][:len(tweets)] == saved["results"]
    assert loaded["tokenized"] == ["a tweet not in the memo"]
    without = run("load")
    assert without["tokenized"] == tweets + ["a tweet not in the memo"]
    assert without["results"] == loaded["results"]


@pytest.fixture
def empty_memo(monkeypatch):
    monkeypatch.setattr(preprocess, "_memo", collections.OrderedDict())
    return preprocess._memo


def forged_memo(path, key):
    path.write_text(json.dumps({"key": key, "tokens": {"forged tweet :)": ["forg", "word"]}}))
    return path


def test_a_token_memo_is_read_only_when_its_key_is_this_preprocessing_and_nltk(tmp_path, empty_memo):
    # The positive control: with this module's key, the memo's tokens are what process_tweet uses.
    assert preprocess.load_token_memo(forged_memo(tmp_path / "ours.json", preprocess.token_memo_key())) == 1
    assert data.process_tweet("forged tweet :)") == ["forg", "word"]
    empty_memo.clear()
    # Written by another version of this module or of NLTK: ignored, the tweet is tokenized.
    assert preprocess.load_token_memo(forged_memo(tmp_path / "other.json", "0" * 16)) == 0
    assert data.process_tweet("forged tweet :)") == ["forg", "tweet", ":)"]


@pytest.mark.parametrize("content", [None, "", "not json", "[]", '{"key": 1}', '{"tokens": {}}',
                                     '{"key": "KEY", "tokens": {"a": "not a list"}}'])
def test_a_missing_or_malformed_token_memo_is_ignored(tmp_path, empty_memo, content):
    path = tmp_path / "memo.json"
    if content is not None:
        path.write_text(content.replace("KEY", preprocess.token_memo_key()))
    assert preprocess.load_token_memo(path) == 0
    assert empty_memo == {}


def test_the_token_memo_keeps_at_most_memo_size_tweets(monkeypatch, empty_memo):
    monkeypatch.setattr(preprocess, "MEMO_SIZE", 3)
    for word in ("one", "two", "three", "four"):
        data.process_tweet(f"tweet {word}")
    assert list(empty_memo) == ["tweet two", "tweet three", "tweet four"]
