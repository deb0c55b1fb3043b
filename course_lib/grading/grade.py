"""Grading one notebook: read, reconcile, run, score. The result is plain JSON data.

    grade_notebook(path, Assignment('tweet_sentiment'))
    -> {"notebook": ..., "assignment": "tweet_sentiment", "score": 28.0, "max_score": 28.0,
        "status": "graded", "reason": None,
        "tests": [{"grade_id": "tweet_to_tensor_visible", "points": 1.0, "max_points": 1.0,
                   "passed": True, "message": ""}, ...]}

A test cell passes when running it raises no error (nbgrader's rule, except that
warnings printed to stderr do not fail a test). Its points are all or nothing.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from course_lib.grading.assignment import Assignment
from course_lib.grading.execute import Limits, run_cells
from course_lib.grading.notebooks import Ungradable, read_submission, reconcile

MAX_MESSAGE = 1000  # characters of a failure message kept


def grade_notebook(path, assignment: Assignment, limits: Limits | None = None) -> dict:
    """Grades the notebook at `path` against `assignment`'s tests, hidden ones included.

    Never raises for a bad submission: it comes back with status 'ungradable' and the reason.
    """
    path = Path(path)
    try:
        submission = read_submission(path)
        name = _source_for(path, submission, assignment)
    except Ungradable as error:
        return _result(path, assignment, assignment.notebook_names[0], "ungradable", error.reason,
                       {}, f"not graded: {error.reason}")
    rebuilt = reconcile(submission, assignment.sources[name], assignment.release(name))
    with tempfile.TemporaryDirectory(prefix="course-grade-") as scratch:
        run = run_cells(rebuilt.cells, Path(scratch), limits)
    outcomes = {}
    for grade_id, index in rebuilt.test_index.items():
        if index in run.errors:
            outcomes[grade_id] = (False, run.errors[index])
        elif index >= run.finished:
            outcomes[grade_id] = (False, f"not run: {run.stopped}")
        else:
            outcomes[grade_id] = (True, "")
    notes = rebuilt.notes + ([run.stopped] if run.stopped else [])
    return _result(path, assignment, name, "graded", "; ".join(notes) or None, outcomes,
                   "not run: the test cell is missing from the source")


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
    tests = []
    for test in assignment.tests(notebook):
        passed, message = outcomes.get(test.grade_id, (False, missing_message))
        tests.append({"grade_id": test.grade_id, "points": test.points if passed else 0.0,
                      "max_points": test.points, "passed": passed,
                      "message": message[:MAX_MESSAGE]})
    return {"notebook": str(path), "assignment": assignment.name,
            "score": sum(t["points"] for t in tests), "max_score": assignment.max_score(notebook),
            "status": status, "reason": reason, "tests": tests}
