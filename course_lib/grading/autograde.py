"""`python -m course_lib.grading.autograde` (`make autograde`): grade every submission, export grades.csv.

Grades each notebook under submitted/<student>/<assignment>/, writes its result
to autograded/<student>/<assignment>/<notebook>.json, records the scores in
the gradebook (gradebook.db) and exports them to grades.csv.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from course_lib.grading import gradebook, layout
from course_lib.grading.assignment import Assignment, AssignmentNotFound
from course_lib.grading.grade import grade_notebook


def submissions(submitted: Path, names=None):
    """(student, assignment, notebook path) for each submitted notebook, in sorted order."""
    for notebook in sorted(submitted.glob("*/*/*.ipynb")):
        student, assignment = notebook.parent.parent.name, notebook.parent.name
        if not names or assignment in names:
            yield student, assignment, notebook


def autograde(course_dir: Path, submitted: Path, autograded: Path, db: Path, csv_path: Path,
              names=None, out=sys.stdout) -> list[dict]:
    """Grades all submissions; returns their results (each with its 'student')."""
    results, assignments = [], {}
    for student, name, notebook in submissions(submitted, names):
        if name not in assignments:
            try:
                assignments[name] = Assignment(name, course_dir)
            except AssignmentNotFound as error:
                print(f"skipping {notebook}: {error}", file=out)
                continue
        assignment = assignments[name]
        result = grade_notebook(notebook, assignment)
        target = autograded / student / name / f"{notebook.stem}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(result, indent=2))
        gradebook.record(db, assignment, student, result)
        results.append(dict(result, student=student))
        print(f"{student:<16} {name:<20} {result['score']:6g} / {result['max_score']:<6g} {result['status']}"
              + (f" ({result['reason']})" if result["reason"] else ""), file=out, flush=True)
    if results:
        gradebook.export_csv(db, csv_path)
        print(f"grades exported to {csv_path}", file=out)
    else:
        print(f"no submissions under {submitted}/<student>/<assignment>/", file=out)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.grading.autograde", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="ASSIGNMENT", help="only these assignments")
    parser.add_argument("--course-dir", default=None)
    args = parser.parse_args(argv)
    root = Path(args.course_dir) if args.course_dir else layout.course_root()
    autograde(root, root / layout.SUBMITTED, root / layout.AUTOGRADED, root / layout.GRADEBOOK,
              root / layout.GRADES_CSV, args.names)
    return 0


if __name__ == "__main__":
    sys.exit(main())
