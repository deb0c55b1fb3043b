"""Grading one notebook: read, reconcile, run in the sandbox, score. The result is plain JSON data.

    grade_notebook(path, Assignment('tweet_sentiment'))
    -> {"notebook": ..., "assignment": "tweet_sentiment", "score": 28.0, "max_score": 28.0,
        "status": "graded", "reason": None,
        "tests": [{"grade_id": "tweet_to_tensor_visible", "points": 1.0, "max_points": 1.0,
                   "passed": True, "message": ""}, ...]}

A test cell passes when its judge raises no error (nbgrader's rule, applied to the judge,
which runs here, outside the learner's kernel: see judge.py). Its points are all or nothing.
Messages never carry a line of a hidden test's code.
"""
from __future__ import annotations

import re
import weakref
from pathlib import Path

from course_lib.data.corpus import default_data_dir
from course_tools import compile_cache, judge, limits as limits_module
from course_tools.assignment import Assignment, grade_id, is_fixed, is_test
from course_tools.execute import run_cells
from course_tools.notebooks import Ungradable, read_submission, reconcile
from course_tools.sandbox import kernel_environment

MAX_MESSAGE = 1000  # characters of a failure message kept
_HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)


def grade_notebook(path, assignment: Assignment, limits=None, sandboxed: bool = True,
                   content: bytes | None = None) -> dict:
    """Grades the notebook at `path` against `assignment`'s tests, hidden ones included.

    Args:
      content: the notebook's bytes, if already read (then `path` only names it).
      limits: limits.Limits; by default those of grading.toml for this assignment.
      sandboxed: run the kernel in the sandbox; False only for trusted notebooks (--unsafe).

    The notebook may read course_lib's default NLTK data directory.

    Never raises for a bad submission: it comes back with status 'ungradable' and the reason.

    Raises:
      execute.GraderError: the grader itself failed (no result should be recorded).
      sandbox.SandboxUnavailable: no sandbox can be made here.
      FileNotFoundError, ValueError: the assignment cannot be graded (see `check`).
    """
    path = Path(path)
    try:
        submission = read_submission(path, content)
        name = _source_for(path, submission, assignment)
    except Ungradable as error:
        return _result(path, assignment, assignment.notebook_names[0], "ungradable", error.reason,
                       {}, f"not graded: {error.reason}")
    source = assignment.sources[name]
    rebuilt = reconcile(submission, source, assignment.release(name))
    imports, tests, hidden = _cached(assignment, ("code", name), lambda: _instructor_code(source))
    data_dir = default_data_dir()
    cache = _cached(assignment, ("compile cache", str(data_dir)),
                    lambda: compile_cache.cache_for(assignment, kernel_environment(data_dir))) if sandboxed else None
    run = run_cells(rebuilt.cells, tests={index: tests[gid] for gid, index in rebuilt.test_index.items()},
                    imports=imports,
                    limits=limits or _cached(assignment, ("limits",), lambda: check(assignment)),
                    sandboxed=sandboxed, data_dir=data_dir, compile_cache=cache)
    outcomes = {}
    for gid, index in rebuilt.test_index.items():
        if index in run.errors:
            outcomes[gid] = (False, scrub(run.errors[index], hidden))
        elif index >= run.finished:
            outcomes[gid] = (False, f"not run: {run.stopped}")
        else:
            outcomes[gid] = (True, "")
    notes = rebuilt.notes + run.limits_hit + ([run.stopped] if run.stopped else [])
    result = _result(path, assignment, name, "graded", "; ".join(notes) or None, outcomes,
                     "not run: the test cell is missing from the source")
    return dict(result, seconds={what: round(seconds, 3) for what, seconds in run.seconds.items()})


def check(assignment: Assignment) -> limits_module.Limits:
    """Checks that `assignment` can be graded, and returns its limits (from grading.toml).

    Raises:
      FileNotFoundError: a release is missing or out of date with its source (`make release`).
      judge.AuthoringError: a test cell cannot be judged as written (see `authoring_problems`).
      ValueError: grading.toml is invalid for this assignment.
    """
    for name in assignment.notebook_names:
        assignment.release(name)
        problems = authoring_problems(assignment.sources[name])
        if problems:
            raise judge.AuthoringError(f"{assignment.name}/{name}: " + "; ".join(problems))
    return limits_module.load(assignment.course_dir, assignment.name)


def authoring_problems(source) -> list[str]:
    """What in a source notebook's test cells would not work when judged outside the kernel:
    each judge may use only its imports, the instructor's imports, builtins and its probes."""
    imports, tests, _ = _instructor_code(source)
    provided = judge.imported_names(imports) if imports else set()
    problems = []
    for test in tests.values():
        unknown = judge.check(test, provided)
        if unknown:
            problems.append(f"test cell '{test.grade_id}' uses {', '.join(unknown)} outside its probes; the "
                            "grader runs that part outside the learner's kernel: read them in a @probe")
    return problems


# What is the same for every submission of an assignment, computed once per Assignment object.
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _cached(assignment: Assignment, key: tuple, compute):
    values = _CACHE.setdefault(assignment, {})
    if key not in values:
        values[key] = compute()
    return values[key]


def _instructor_code(source) -> tuple:
    """(the instructor's visible cells' imports, grade_id -> judge.Test of each test cell, the
    hidden lines).

    Raises:
      judge.AuthoringError: a test cell is not valid Python.
    """
    instructor = [c.source for c in source.cells if c.cell_type == "code" and is_fixed(c)]
    tests = {grade_id(c): judge.split(grade_id(c), c.source) for c in source.cells if is_test(c)}
    return (judge.imports_of([c for c in instructor if "BEGIN HIDDEN" not in c]), tests, hidden_lines(source))


def hidden_lines(source) -> list[str]:
    """The lines of code of the hidden tests of a source notebook (stripped; short ones left out)."""
    lines = []
    for cell in source.cells:
        for block in _HIDDEN.findall(cell.source):
            lines += [line.strip() for line in block.splitlines() if len(line.strip()) >= 12]
    return sorted(set(lines), key=len, reverse=True)


def scrub(message: str, hidden: list[str]) -> str:
    """`message` without any line of hidden test code in it. It is cut to MAX_MESSAGE characters
    only afterwards (in `_result`), so that no hidden line survives half cut."""
    for line in hidden:
        if line in message:
            message = message.replace(line, "[hidden test code]")
    return message


def _source_for(path: Path, submission, assignment: Assignment) -> str:
    """Which source notebook a submission answers: by file name, else the only one, else by grade_ids."""
    names = assignment.notebook_names
    if path.stem in names:
        return path.stem
    if len(names) == 1:
        return names[0]
    ids = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in submission.cells}
    overlap = {name: len(ids & {t.grade_id for t in assignment.tests(name)}) for name in names}
    best = max(overlap, key=overlap.get)
    if overlap[best] == 0:
        raise Ungradable(f"cannot tell which of the notebooks {names} '{path.name}' answers: "
                         "submit it under its original name")
    return best


def _result(path, assignment, notebook, status, reason, outcomes, missing_message) -> dict:
    """The result as JSON data; every message is cut to MAX_MESSAGE characters here (after scrubbing)."""
    tests = []
    for test in assignment.tests(notebook):
        passed, message = outcomes.get(test.grade_id, (False, missing_message))
        tests.append({"grade_id": test.grade_id, "points": test.points if passed else 0.0,
                      "max_points": test.points, "passed": passed, "message": _text(message[:MAX_MESSAGE])})
    return {"notebook": str(path), "assignment": assignment.name,
            "score": sum(t["points"] for t in tests), "max_score": assignment.max_score(notebook),
            "status": status, "reason": _text(reason) if reason else reason, "tests": tests}


def _text(text: str) -> str:
    """`text` as valid Unicode: a lone surrogate (from a kernel's JSON) becomes '?'."""
    return text.encode("utf-8", "replace").decode("utf-8")
