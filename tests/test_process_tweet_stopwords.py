"""process_tweet's `stopwords` argument (the capstone keeps the negations with it) and its cache of
tokenized tweets. Needs NLTK's stopwords (`$COURSE_DATA_DIR`, which `make test` sets)."""
from __future__ import annotations

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


def test_process_tweet_tokenizes_a_tweet_once_for_every_stopword_list():
    tweet = "a tweet that this test alone tokenizes :) #zebras"
    before = preprocess._tokens.cache_info()
    with_defaults = data.process_tweet(tweet)
    with_none = data.process_tweet(tweet, stopwords=set())
    after = preprocess._tokens.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 1)
    assert with_defaults == ["tweet", "test", "alon", "token", ":)", "zebra"]
    assert with_none == ["a", "tweet", "that", "thi", "test", "alon", "token", ":)", "zebra"]
