"""Finding, fetching and reading NLTK's twitter_samples and stopwords corpora."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import nltk

CORPORA = {
    # NLTK package name -> a file that is there once the package is installed
    "twitter_samples": "corpora/twitter_samples/positive_tweets.json",
    "stopwords": "corpora/stopwords",
}
FETCH_COMMAND = "make data   (or: python -m course_lib.data --data-dir DIR)"


class CorpusNotFoundError(FileNotFoundError):
    """The corpus is in none of the data directories tried; the message lists them."""


def default_data_dir() -> Path:
    """Where the corpora are read from and downloaded to, the first of:

    1. `$COURSE_DATA_DIR`, if set;
    2. `nltk_data/` in the repository checkout, when course_lib runs from one (the
       directory above `course_lib/` holds `pyproject.toml`);
    3. `course_lib/nltk_data` in the user's cache: `$XDG_CACHE_HOME` if set to an
       absolute path, else `~/.cache` (the XDG Base Directory rule).

    Never `site-packages`: an installed course_lib has no checkout around it.
    """
    if os.environ.get("COURSE_DATA_DIR"):
        return Path(os.environ["COURSE_DATA_DIR"]).expanduser()
    checkout = _package_parent()
    if (checkout / "pyproject.toml").is_file():
        return checkout / "nltk_data"
    return _user_cache_dir() / "course_lib" / "nltk_data"


def _package_parent() -> Path:
    """The directory that holds the `course_lib` package: a checkout, or site-packages."""
    return Path(__file__).resolve().parents[2]


def _user_cache_dir() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if xdg and Path(xdg).is_absolute():   # the XDG spec ignores a relative path
        return Path(xdg)
    return Path.home() / ".cache"


def _candidates(data_dir) -> list[Path]:
    """Where to look: `data_dir` alone if given, else the default and then NLTK's own search path."""
    if data_dir is not None:
        return [Path(data_dir).expanduser()]
    return [default_data_dir()] + [Path(p) for p in nltk.data.path]


def _has(directory: Path, package: str) -> bool:
    marker = directory / CORPORA[package]
    return marker.exists() or marker.with_suffix(".zip").exists() or \
        Path(str(marker) + ".zip").exists()


def find_data_dir(package: str, data_dir=None) -> Path:
    """The first data directory that holds `package`; registers it with NLTK.

    Raises:
      CorpusNotFoundError: no directory tried holds it (the message names them all
        and the command that fetches the corpus).
    """
    tried = _candidates(data_dir)
    for directory in tried:
        if _has(directory, package):
            resolved = str(directory.resolve())
            if resolved not in nltk.data.path:
                # NLTK >= 3.10 only reads corpora from directories on nltk.data.path.
                nltk.data.path.insert(0, resolved)
            return directory
    listing = "\n".join(f"  - {d}" for d in tried)
    if "google.colab" in sys.modules:   # in Colab there is no checkout, no make: say what to run there
        raise CorpusNotFoundError(
            f"NLTK corpus '{package}' not found. Directories tried:\n{listing}\n"
            "In Colab, run the notebook's first code cell (the Colab set-up cell: in a notebook "
            "that uses the tweets, it downloads them), or run this in a cell:\n"
            f"    import nltk; nltk.download({package!r}, download_dir={str(tried[0])!r})")
    raise CorpusNotFoundError(
        f"NLTK corpus '{package}' not found. Directories tried:\n{listing}\n"
        f"Fetch it with: {FETCH_COMMAND}\n"
        "or point COURSE_DATA_DIR at an NLTK data directory that holds it.")


def load_twitter_samples(data_dir=None) -> tuple[list[str], list[str]]:
    """Returns `(positive, negative)`: NLTK's 5,000 positive and 5,000 negative tweets, as str.

    Read with NLTK's corpus reader (`twitter_samples.strings`), in corpus order.

    Raises:
      CorpusNotFoundError: the corpus is not in `data_dir` (or, when None, in
        `default_data_dir()` or NLTK's search path).
    """
    root = find_data_dir("twitter_samples", data_dir)
    reader = nltk.corpus.reader.TwitterCorpusReader(
        str(root.resolve() / "corpora" / "twitter_samples"), r".*_tweets\.json")
    return reader.strings("positive_tweets.json"), reader.strings("negative_tweets.json")


def load_stopwords(data_dir=None, language: str = "english") -> frozenset[str]:
    """NLTK's stopword list for `language` (179 English words), as a frozenset."""
    find_data_dir("stopwords", data_dir)
    return frozenset(nltk.corpus.stopwords.words(language))


def fetch(data_dir=None, quiet: bool = False) -> Path:
    """Downloads the corpora that are missing from `data_dir` (default: `default_data_dir()`).

    Does nothing (and needs no network) when both are already there.
    Returns the data directory.

    Raises:
      CorpusNotFoundError: a download failed (no network, say); the message says what to do.
    """
    directory = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    for package in CORPORA:
        if _has(directory, package):
            if not quiet:
                print(f"{package}: present in {directory}")
            continue
        directory.mkdir(parents=True, exist_ok=True)
        ok = nltk.download(package, download_dir=str(directory), quiet=quiet,
                           raise_on_error=False)
        if not ok or not _has(directory, package):
            raise CorpusNotFoundError(
                f"Could not download NLTK corpus '{package}' into {directory} "
                "(is there a network connection?). On a machine without one, copy an NLTK "
                "data directory that holds it and set COURSE_DATA_DIR to it.")
    return directory
