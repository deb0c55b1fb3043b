"""Grading's JAX compilation cache (course_tools.compile_cache): the learner's kernel reads it and
cannot write to it, and only public code fills it: no answer, no test, hidden or visible.

Each check runs in a real sandboxed kernel (execute.run_cells) over a real JAX cache, and compares
the cache's files, name by name and byte by byte, before and after.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_lib.data import default_data_dir
from course_tools import compile_cache, execute, grade, sandbox
from course_tools.assignment import Assignment
from course_tools.judge import split
from grading_support import add_exercise, new_course, nbgrader_cell, write

# The same source in the filling process and in the kernel: the same computation, the same key.
DEFINE = "import jax, jax.numpy as jnp\ndef seven(x):\n    return x * 2.0 + 7.0\n"
COMPILE = "jax.jit(seven)(jnp.ones(7, jnp.float32)).block_until_ready()\n"
HITS = """
hits = []
jax.monitoring.register_event_listener(lambda event, **kwargs: hits.append(event))
"""


def snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def filled(tmp_path_factory) -> Path:
    """A JAX cache filled, as the grader fills one, with `seven` compiled for float32[7]."""
    folder = tmp_path_factory.mktemp("cache") / "entries"
    folder.mkdir()
    env = {**sandbox.kernel_environment(None), **compile_cache.filling_settings(folder), "HOME": str(folder.parent)}
    code = f"import course_lib\nexec(compile({DEFINE!r}, '<cell>', 'exec'))\n{COMPILE}"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=folder.parent)
    assert any(name.startswith("jit_seven") for name in snapshot(folder)), "the cache was not filled"
    return folder


def in_kernel(code: str) -> str:
    """`code` as a cell whose functions have the same source file as the filling process's."""
    return f"exec(compile({code!r}, '<cell>', 'exec'))"


WRITES = """
import errno, os
cache = os.environ["JAX_COMPILATION_CACHE_DIR"]
entries = os.listdir(cache)
assert entries, "the kernel sees no entries"
attempts = {"create": lambda: open(os.path.join(cache, "poison-cache"), "wb").write(b"x"),
            "overwrite": lambda: open(os.path.join(cache, entries[0]), "r+b").write(b"poison"),
            "delete": lambda: os.remove(os.path.join(cache, entries[0])),
            "rename": lambda: os.rename(os.path.join(cache, entries[0]), os.path.join(cache, "other")),
            "chmod": lambda: os.chmod(cache, 0o777)}
for what, attempt in attempts.items():
    try:
        attempt()
    except OSError as error:
        assert error.errno in (errno.EROFS, errno.EACCES, errno.EPERM), (what, error)
    else:
        raise AssertionError(f"the kernel could {what} in the cache")
"""

FORCED_WRITE = """
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)   # ask JAX to write everything
import warnings
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    jax.jit(lambda x: x * 3.0 - 1.0)(jnp.ones(11, jnp.float32)).block_until_ready()
"""


def test_a_learners_kernel_reads_the_cache_and_cannot_write_to_it(filled):
    before = snapshot(filled)
    read = in_kernel(DEFINE + HITS + COMPILE + "assert '/jax/compilation_cache/cache_hits' in hits, hits\n")
    run = execute.run_cells([read, WRITES, in_kernel(DEFINE + FORCED_WRITE)], sandboxed=True, compile_cache=filled)
    assert run.errors == {} and run.finished == 3, run.errors
    assert snapshot(filled) == before


def test_a_hidden_tests_compilation_does_not_land_in_the_cache(filled):
    before = snapshot(filled)
    hidden = split("seven_hidden", "@probe\ndef compiled(values):\n    import jax, jax.numpy as jnp\n"
                                   "    return jax.jit(lambda v: v * 3.25 + 0.5)(jnp.asarray(values))\n\n"
                                   "import numpy as np\nassert np.allclose(compiled(np.ones(13, np.float32)), 3.75)")
    run = execute.run_cells([in_kernel(DEFINE), "", in_kernel(FORCED_WRITE.replace("x * 3.0", "x * 4.0"))],
                            tests={1: hidden}, imports="import numpy as np", sandboxed=True, compile_cache=filled)
    assert run.errors == {} and run.finished == 3, run.errors
    assert snapshot(filled) == before


def test_a_kernel_without_the_sandbox_gets_no_cache(filled):
    # The test session may give unsandboxed kernels a cache of its own (tests/conftest.py): not this one.
    run = execute.run_cells(["import os\n"
                             f"assert {str(filled.parent)!r} not in os.environ.get('JAX_COMPILATION_CACHE_DIR', '')\n"
                             f"assert {str(filled)!r} not in str(os.environ)"],
                            sandboxed=False, compile_cache=filled)
    assert run.errors == {}


def test_only_the_released_instructor_cells_fill_it(tmp_path):
    notebook = add_exercise()
    notebook.cells.insert(1, nbgrader_cell("code", "import jax.numpy as jnp\nPUBLIC = jnp.arange(5.0) * 4.5",
                                           "public_demo"))
    released = nbformat.from_dict(notebook)
    for cell in released.cells:
        if "BEGIN SOLUTION" in cell.source:
            cell.source = "def add(a, b):\n    raise NotImplementedError()"
    kept = [cell.metadata["nbgrader"]["grade_id"] for cell in released.cells if compile_cache.public(cell)]
    assert kept == ["imports", "public_demo"]


def test_grading_fills_the_cache_once_from_the_release_and_grades_with_it(tmp_path):
    notebook = add_exercise(hidden="@probe\ndef jitted(v):\n    import jax\n"
                                   "    return jax.jit(lambda u: u * 9.5)(v)\n\n"
                                   "assert float(jitted(2.0)) == 19.0\nassert added(-2, 2) == 0")
    (tmp_path / "course").mkdir()
    course = new_course(tmp_path / "course", {"seven": {"seven": notebook}})
    assignment = Assignment("seven", course)
    submission = write(assignment.sources["seven"], tmp_path / "seven.ipynb")
    result = grade.grade_notebook(submission, assignment)
    assert result["score"] == result["max_score"] == 3
    own = [p for p in compile_cache.root(course).iterdir() if p.name.startswith("seven-")]
    assert len(own) == 1
    before = snapshot(own[0])
    assert before, "the cache is empty"
    again = grade.grade_notebook(submission, Assignment("seven", course))
    assert again["score"] == 3 and snapshot(own[0]) == before      # the hidden test's jit added nothing


def test_the_switch_turns_the_cache_off(tmp_path, monkeypatch):
    monkeypatch.setenv(compile_cache.SWITCH, "0")
    assert compile_cache.cache_for(Assignment("layers"), sandbox.kernel_environment(None)) is None


def test_the_tweets_the_released_cells_tokenize_are_remembered_beside_it_and_read_by_the_kernel(tmp_path):
    public, answer, hidden = "a public tweet the release shows :)", "an answer's own tweet", "a hidden test's tweet"
    notebook = add_exercise(hidden=f"@probe\ndef processed(text):\n    from course_lib import data\n"
                                   f"    return data.process_tweet(text)\n\n"
                                   f"assert processed({hidden!r}) == ['hidden', \"test'\", 'tweet']\n"
                                   "assert added(-2, 2) == 0")
    notebook.cells.insert(1, nbgrader_cell("code", f"from course_lib import data\nPUBLIC = data.process_tweet({public!r})",
                                           "public_tweets"))
    notebook.cells[2].source = notebook.cells[2].source.replace(
        "    return a + b", f"    data.process_tweet({answer!r})\n    return a + b")
    (tmp_path / "course").mkdir()
    course = new_course(tmp_path / "course", {"tweets": {"tweets": notebook}})
    assignment = Assignment("tweets", course)
    result = grade.grade_notebook(write(assignment.sources["tweets"], tmp_path / "tweets.ipynb"), assignment)
    assert result["score"] == result["max_score"] == 3, result
    own = next(p for p in compile_cache.root(course).iterdir() if p.name.startswith("tweets-"))
    memo = json.loads((own / compile_cache.TOKEN_MEMO).read_text())
    assert list(memo["tokens"]) == [public]        # neither the answer's tweet nor the hidden test's
    # A grading kernel reads it: the tweet is remembered before anything in the kernel processed it.
    check = ("from course_lib.data import preprocess\npreprocess.process_tweet('something else')\n"
             f"assert {public!r} in preprocess._memo, list(preprocess._memo)")
    run = execute.run_cells([check], sandboxed=True, data_dir=default_data_dir(), compile_cache=own)
    assert run.errors == {}, run.errors
