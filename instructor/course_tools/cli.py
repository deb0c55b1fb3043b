"""`course-grade ASSIGNMENT NOTEBOOK [NOTEBOOK ...] [--json] [--unsafe]`: grade notebooks.

Grades each notebook against the assignment's tests, hidden ones included, in a
sandbox (see course_tools.sandbox). Prints, for each notebook, its total and
each test's grade_id, points, max points, pass/fail and failure message; with
--json, JSON Lines: one result per notebook (see course_tools.grade), each on
its own line, printed as soon as that notebook is graded. A notebook the grader
fails on, or that is not a regular file (a symbolic link, a FIFO, a device: never
followed or read), gets a result with status "error" and the reason, and the
others are still graded.
Exits 0 whenever grading ran, whatever the scores; 1 if the grader itself failed on
a notebook or one was not a regular file; 2 when it could not run (unknown assignment,
no release, invalid grading.toml, no sandbox).
"""
from __future__ import annotations

import argparse
import json
import sys

from pathlib import Path

from course_tools import collect, sandbox
from course_tools.assignment import Assignment, AssignmentNotFound
from course_tools.execute import GraderError
from course_tools.grade import check


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="course-grade", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("assignment", help="the assignment's name, e.g. tweet_sentiment")
    parser.add_argument("notebooks", nargs="+", metavar="NOTEBOOK", help="notebooks to grade")
    parser.add_argument("--json", action="store_true", help="print the results as JSON Lines")
    parser.add_argument("--unsafe", action="store_true",
                        help="run notebooks without the sandbox (only for notebooks you trust)")
    parser.add_argument("--course-dir", default=None,
                        help="the course directory (holding solutions/); found from the current one by default")
    args = parser.parse_args(argv)
    try:
        assignment = Assignment(args.assignment, args.course_dir)
        limits = check(assignment)
        if not args.unsafe:
            sandbox.check()
    except (AssignmentNotFound, FileNotFoundError, ValueError, sandbox.SandboxUnavailable) as error:
        print(f"course-grade: {error}", file=sys.stderr)
        return 2
    failures = 0
    for path in args.notebooks:
        try:
            result = grade_file(Path(path), assignment, limits, sandboxed=not args.unsafe)
        except Exception as error:  # that notebook's result; the others are still graded
            result = error_result(path, assignment, error)
            print(f"course-grade: {collect.printable(path)}: {result['reason']}", file=sys.stderr, flush=True)
            failures += 1
        print(json.dumps(result) if args.json else format_result(result), flush=True)
    return 1 if failures else 0


def grade_file(path: Path, assignment: Assignment, limits, sandboxed: bool) -> dict:
    """Grades the notebook at `path`, read only if it is a regular file (collect.read_regular).

    Raises:
      collect.NotCollected: `path` is a symbolic link, a FIFO, a device, a folder, or cannot be read.
      execute.GraderError: the grader failed.
    """
    content = collect.read_regular(path.parent, [path.name])
    return collect.grade_bytes(content, path, assignment, limits, sandboxed)


def error_result(path, assignment: Assignment, error: Exception) -> dict:
    """The result of a notebook that was not graded: status 'error', no tests, the reason."""
    if isinstance(error, collect.NotCollected):
        reason = f"not graded: {error.reason}"
    elif isinstance(error, GraderError):
        reason = f"the grader failed, no grade: {error}"
    else:
        reason = f"the grader failed, no grade: {type(error).__name__}: {error}"
    name = Path(path).stem if Path(path).stem in assignment.notebook_names else assignment.notebook_names[0]
    return {"notebook": str(path), "assignment": assignment.name, "score": 0.0,
            "max_score": assignment.max_score(name), "status": "error", "reason": reason, "tests": []}


def format_result(result: dict) -> str:
    """A result as text: a header line, then one line per test."""
    lines = [f"{result['notebook']}: {result['score']:g} / {result['max_score']:g} points "
             f"({result['status']}{': ' + result['reason'] if result['reason'] else ''})"]
    width = max((len(t["grade_id"]) for t in result["tests"]), default=10)
    for test in result["tests"]:
        mark = "PASS" if test["passed"] else "FAIL"
        message = test["message"].splitlines()[0] if test["message"] else ""
        lines.append(f"  {mark}  {test['grade_id']:<{width}}  {test['points']:g} / {test['max_points']:g}"
                     f"{'  ' + message if message else ''}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
