"""`--merge`: recording results that were graded elsewhere (`course-grade ... --json`) in this course.

Each result is checked as a submission collected here would be (its notebook at
submitted/<student>/<assignment>/<notebook>.ipynb, a regular file of a valid student, tests that are
its assignment's) before anything is recorded, then recorded as autograde records its own (autograde.record).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from course_tools import collect, gradebook
from course_tools.assignment import AssignmentNotFound

if TYPE_CHECKING:
    from course_tools.autograde import Course


def merge(course: Course, result_files, out=sys.stdout) -> list[dict]:
    """Records results made elsewhere (`course-grade ... --json`: JSON Lines, or one JSON object or list)
    for notebooks at submitted/<student>/<assignment>/<notebook>.ipynb in this course (see `_validate`).

    All of them are read and checked before any is recorded: a bad file records nothing. A result
    whose status is 'error' (the grader failed on that notebook) is not recorded but listed.

    Raises:
      ValueError: a file is not JSON, or holds something that is not a valid result (the message says what).
      OSError: a file cannot be read.
      NotAllGraded: after recording the others, some results were grader failures, or some were
        recorded but not in full (see Course.notes).
    """
    from course_tools import autograde   # here: autograde imports this module
    course.start_run()
    course.late_penalty()      # a broken configuration stops before anything is recorded
    incoming, failed = [], []
    roster = gradebook.roster(course.db)
    for file in result_files:
        for where, result in read_results(file):
            if isinstance(result, dict) and result.get("status") == "error":
                failed.append(f"{where}: {collect.printable(str(result.get('notebook')))}: the grader failed: "
                              f"{collect.printable(str(result.get('reason')))}")
                continue
            try:
                incoming.append(_validate(course, result, roster))
            except ValueError as error:
                raise ValueError(f"{where}: {error}") from None
    results = []
    for result in incoming:
        results.append(autograde.record(course, result))
        print(f"merged {result['student']} {result['assignment']}: {result['score']:g} / {result['max_score']:g}",
              file=out)
    if results:
        gradebook.export_csv(course.db, course.csv)
    for line in failed:
        print(f"not merged: {line}", file=out)
    for note in course.notes:
        print(note, file=out)
    if failed or course.notes:
        raise autograde.NotAllGraded(f"{len(failed) + len(course.notes)} not graded or not recorded in full (grade "
                           "them again, or fix what is said):\n  " + "\n  ".join(failed + course.notes), results)
    return results


def read_results(file) -> list[tuple[str, object]]:
    """(where, value) of each result in a file of `course-grade --json` output: JSON Lines (one result a
    line), or a single JSON object or list (as written before JSON Lines). `where` is 'file:line'.

    Raises:
      ValueError: the file, or one of its lines, is not JSON.
    """
    text = Path(file).read_text(encoding="utf-8")
    try:
        content = json.loads(text)
    except ValueError:
        content = None
    else:
        if isinstance(content, list):
            return [(f"{file}", value) for value in content]
        return [(f"{file}", content)]
    values = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                values.append((f"{file}:{number}", json.loads(line)))
            except ValueError as error:
                raise ValueError(f"{file}: not JSON at line {number}: {error}") from None
    if not values:
        raise ValueError(f"{file}: not JSON: it is empty")
    return values


def _validate(course: Course, result, roster) -> dict:
    """Checks a result's shape, that its tests are its assignment's, and that its notebook is at
    <student>/<assignment>/<notebook>.ipynb, where <notebook> is one of the assignment's, <student> a
    valid id and this course's submitted/<student>/<assignment>/<notebook>.ipynb a regular file;
    returns the result with its student and the path of that file.

    Raises:
      ValueError: what is wrong with it.
    """
    keys = {"notebook", "assignment", "score", "max_score", "status", "reason", "tests"}
    if not isinstance(result, dict) or not keys <= set(result):
        raise ValueError(f"not a course-grade result: {str(result)[:200]}")
    if not all(isinstance(result[key], str) for key in ("notebook", "assignment", "status")) \
            or not isinstance(result["tests"], list) or not _number(result["score"]) \
            or not _number(result["max_score"]) or not isinstance(result["reason"], (str, type(None))):
        raise ValueError(f"a result with values of the wrong type: {str(result)[:200]}")
    if result["status"] not in ("graded", "ungradable"):
        raise ValueError(f"a result with an unknown status {result['status']!r}")
    parts = Path(result["notebook"]).parts[-3:]
    if len(parts) != 3 or parts[1] != result["assignment"] or parts[0] in ("", ".", "..", "/"):
        raise ValueError(f"{collect.printable(result['notebook'])} is not at "
                         f"<student>/{result['assignment']}/<notebook>.ipynb, so its student is unknown")
    try:
        assignment = course.assignment(result["assignment"])
    except AssignmentNotFound as error:
        raise ValueError(str(error)) from None
    expected = {test.grade_id for name in assignment.notebook_names for test in assignment.tests(name)}
    for test in result["tests"]:
        if not isinstance(test, dict) or not {"grade_id", "points", "max_points", "passed", "message"} <= set(test) \
                or not _number(test["points"]) or not _number(test["max_points"]) \
                or not isinstance(test["passed"], bool) or not isinstance(test["message"], str):
            raise ValueError(f"not a course-grade test result: {str(test)[:200]}")
        if test["grade_id"] not in expected:
            raise ValueError(f"the result for {collect.printable(result['notebook'])} has a test "
                             f"{test['grade_id']!r} that {assignment.name} does not have")
        if not 0 <= test["points"] <= test["max_points"]:
            raise ValueError(f"points out of range in {test['grade_id']}")
    local = course.submitted.joinpath(*parts)
    if local.suffix != ".ipynb" or local.stem not in assignment.notebook_names:
        raise ValueError(f"{collect.printable(result['notebook'])}: not graded: not a notebook of "
                         f"{assignment.name} (its notebooks: {', '.join(assignment.notebook_names)})")
    problem = collect.student_problem(parts[0], roster)
    try:
        if problem:
            raise collect.NotCollected(problem)
        collect.check_regular(course.submitted, parts)
    except collect.NotCollected as error:
        raise ValueError(f"{collect.printable(str(local))}: not graded: {error.reason}") from None
    return dict(result, student=parts[0], notebook=str(local))


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
