"""The on-disk cache of `encode_texts`: its key, and NumPy files written atomically (no pickle)."""
from __future__ import annotations

import functools
import hashlib
import inspect
import json
import marshal
import os
import re
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

from course_lib.data.preprocess import UNK

FORMAT = 1          # bump when the cache file's layout changes: old files are then ignored


def default_cache_dir() -> Path:
    """`$COURSE_CACHE_DIR` if set, else `~/.cache/course_lib`."""
    if os.environ.get("COURSE_CACHE_DIR"):
        return Path(os.environ["COURSE_CACHE_DIR"]).expanduser()
    return Path.home() / ".cache" / "course_lib"


def key(cache_name: str, tokenizer, vocab, max_vocab_size, min_count, texts) -> dict:
    """What a cached result depends on: the name, the tokenizer's code, the vocabulary or its
    options, and the texts (their count and SHA-256)."""
    return {"format": FORMAT, "name": cache_name, "tokenizer": tokenizer_id(tokenizer),
            "vocab": ({"given": _sha256_json(vocab)} if vocab is not None else
                      {"max_size": max_vocab_size, "min_count": min_count}),
            "texts": {"count": len(texts), "sha256": _texts_sha256(texts)}}


def path(cache_dir, cache_name: str, cache_key: dict) -> Path:
    """`<cache_dir>/<cache_name>-<16 hex digits of the key>.npz`."""
    folder = Path(cache_dir if cache_dir is not None else default_cache_dir()).expanduser()
    return folder / f"{re.sub(r'[^A-Za-z0-9._-]+', '_', cache_name)}-{_sha256_json(cache_key)[:16]}.npz"


def tokenizer_id(tokenizer) -> str:
    """Identifies a tokenizer's code for the cache key: 'module.name@<12 hex digits>'.

    The digits hash the source of the tokenizer's whole module (so that a change in a helper
    it calls counts too), or, when that is not available (a notebook cell), of the function
    itself or of its bytecode. A `functools.partial` adds its arguments, and a closure the
    functions and constants it captured (other captured values only by type). A
    `cache_version` attribute on the tokenizer is appended: set one (or delete the cache)
    when its behaviour changes in a way the code does not show, e.g. another NLTK version
    or stopword list.
    """
    return _tokenizer_id(tokenizer, set())


def _sha256_json(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False)
                          .encode("utf-8", "surrogatepass")).hexdigest()


def _texts_sha256(texts) -> str:
    """SHA-256 of the texts, each preceded by its length, so that no two lists collide."""
    sha = hashlib.sha256()
    for text in texts:
        data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else repr(text).encode()
        sha.update(len(data).to_bytes(8, "little"))
        sha.update(data)
    return sha.hexdigest()


def _json_array(value) -> np.ndarray:
    return np.frombuffer(json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass"),
                         dtype=np.uint8)


def _from_json_array(array) -> object:
    return json.loads(np.asarray(array, dtype=np.uint8).tobytes().decode("utf-8", "surrogatepass"))


def write(path: Path, key: dict, tokens, offsets, vocab) -> bool:
    """Writes the cache file atomically; True if written. On failure it warns and leaves
    no file behind (the result is still returned, uncached)."""
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=path.stem, suffix=".tmp",
                                         delete=False) as handle:
            temporary = Path(handle.name)
            np.savez(handle, key=_json_array(key), vocab=_json_array(vocab), tokens=tokens, offsets=offsets)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        return True
    except OSError as error:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        warnings.warn(f"Could not write the cache file {path}: {error}", stacklevel=3)
        return False


def read(path: Path, key: dict, n_texts: int):
    """Reads and checks a cache file: (tokens, offsets, vocab).

    Raises:
      ValueError (or OSError, TypeError, KeyError, zipfile.BadZipFile, EOFError): it is
        unreadable, was written for another key, or its arrays are inconsistent.
    """
    with np.load(path, allow_pickle=False) as stored:
        stored_key = _from_json_array(stored["key"])
        vocab = _from_json_array(stored["vocab"])
        tokens, offsets = stored["tokens"], stored["offsets"]
    if stored_key != key:
        raise ValueError("it was written for another key")
    if not (isinstance(vocab, dict) and vocab.get(UNK) is not None
            and all(isinstance(v, int) for v in vocab.values())):
        raise ValueError("its vocabulary is not a word -> id mapping with __UNK__")
    if tokens.dtype != np.int32 or tokens.ndim != 1 or offsets.dtype != np.int64 or \
            offsets.shape != (n_texts + 1,):
        raise ValueError("its arrays have the wrong dtype or shape")
    if offsets[0] != 0 or offsets[-1] != len(tokens) or np.any(np.diff(offsets) < 0):
        raise ValueError("its offsets do not split the tokens")
    if len(tokens) and (tokens.min() < 0 or tokens.max() > max(vocab.values())):
        raise ValueError("its token ids are outside the vocabulary")
    return tokens, offsets, vocab


def _tokenizer_id(tokenizer, seen: set) -> str:
    if id(tokenizer) in seen:               # a function that captured itself (recursion)
        return "<recursive>"
    seen = seen | {id(tokenizer)}
    if isinstance(tokenizer, functools.partial):
        return (f"partial({_tokenizer_id(tokenizer.func, seen)}, {tokenizer.args!r}, "
                f"{sorted(tokenizer.keywords.items())!r})")
    captured = ""
    if inspect.isfunction(tokenizer) and tokenizer.__closure__:
        captured = "(" + ", ".join(_captured_id(cell, seen) for cell in tokenizer.__closure__) + ")"
    return _code_id(tokenizer) + captured


def _captured_id(cell, seen: set) -> str:
    try:
        value = cell.cell_contents
    except ValueError:                      # an empty cell
        return "<empty>"
    if callable(value) and not isinstance(value, type):
        return _tokenizer_id(value, seen)
    if value is None or isinstance(value, (bool, int, float, str, bytes, tuple, frozenset)):
        return repr(value)
    return f"<{type(value).__qualname__}>"


def _code_id(tokenizer) -> str:
    """'module.qualname@<12 hex digits of the SHA-256 of its module's source>' (see tokenizer_id)."""
    function = tokenizer if inspect.isroutine(tokenizer) else type(tokenizer)
    name = f"{getattr(function, '__module__', '?')}.{getattr(function, '__qualname__', '?')}"
    code = None
    module = sys.modules.get(getattr(function, "__module__", None))
    for target in (module, function):
        try:
            code = inspect.getsource(target).encode("utf-8")
            break
        except (OSError, TypeError):
            continue
    if code is None:
        code = marshal.dumps(function.__code__) if hasattr(function, "__code__") else repr(function).encode()
    version = getattr(tokenizer, "cache_version", None)
    return f"{name}@{hashlib.sha256(code).hexdigest()[:12]}" + (f"#{version}" if version is not None else "")
