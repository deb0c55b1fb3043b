"""`course-grade ASSIGNMENT NOTEBOOK [NOTEBOOK ...] [--json] [--unsafe]`: grade notebooks.

Grades each notebook against the assignment's tests, hidden ones included, in a
sandbox (see course_lib.grading.sandbox). Prints, for each notebook, its total and
each test's grade_id, points, max points, pass/fail and failure message; with
--json, a JSON list with one result per notebook (see course_lib.grading.grade).
Exits 0 whenever grading ran, whatever the scores; 1 if the grader itself failed on
a notebook; 2 when it could not run (unknown assignment, no release, invalid grading.toml,
no sandbox).
"""
from __future__ import annotations

import argparse
import json
import sys

from course_lib.grading import sandbox
from course_lib.grading.assignment import Assignment, AssignmentNotFound
from course_lib.grading.execute import GraderError
from course_lib.grading.grade import check, grade_notebook


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="course-grade", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("assignment", help="the assignment's name, e.g. tweet_sentiment")
    parser.add_argument("notebooks", nargs="+", metavar="NOTEBOOK", help="notebooks to grade")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
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
    results, failures = [], 0
    for path in args.notebooks:
        try:
            result = grade_notebook(path, assignment, limits, sandboxed=not args.unsafe)
        except GraderError as error:
            print(f"course-grade: {path}: the grader failed, no grade: {error}", file=sys.stderr)
            failures += 1
            continue
        results.append(result)
        if not args.json:
            print(format_result(result), flush=True)
    if args.json:
        print(json.dumps(results, indent=2))
    return 1 if failures else 0


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
