"""`python -m course_lib.grading.autograde` (`make autograde`): grade every submission, export grades.csv.

For each notebook under submitted/<student>/<assignment>/ it:

  1. grades it in a sandbox (grade.py), in up to --jobs worker processes;
  2. writes the result to autograded/<student>/<assignment>/<notebook>.json (atomically,
     with the SHA-256 of the notebook it graded) and the learner's feedback to
     feedback/<student>/<assignment>/<notebook>.html;
  3. records the scores in the gradebook, from this process only, one transaction per notebook;

then exports the gradebook to grades.csv. A notebook whose result is already there
for the same file content is not graded again, only re-recorded: killing a run and
starting it again grades each submission once and leaves the gradebook consistent.
A grader failure (not the learner's) records nothing, so the next run retries it.

The unit of work, one notebook in and one JSON result out, is also a command that
runs anywhere course_lib is installed (e.g. as the jobs of a batch system):

    course-grade ASSIGNMENT submitted/<student>/<assignment>/<notebook>.ipynb --json > result.json

and `--merge RESULT.json ...` records such results as step 2 and 3 do.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from tqdm.auto import tqdm

from course_lib.grading import feedback, gradebook, layout, sandbox
from course_lib.grading.assignment import Assignment, AssignmentNotFound
from course_lib.grading.execute import GraderError
from course_lib.grading.grade import grade_notebook


class Course:
    """The folders and files one autograding run reads and writes."""

    def __init__(self, root: Path, submitted=None, autograded=None, feedback_dir=None, db=None, csv=None):
        self.root = Path(root)
        self.submitted = Path(submitted or self.root / layout.SUBMITTED)
        self.autograded = Path(autograded or self.root / layout.AUTOGRADED)
        self.feedback = Path(feedback_dir or self.root / layout.FEEDBACK)
        self.db = Path(db or self.root / layout.GRADEBOOK)
        self.csv = Path(csv or self.root / layout.GRADES_CSV)
        self._assignments = {}

    def assignment(self, name: str) -> Assignment:
        if name not in self._assignments:
            self._assignments[name] = Assignment(name, self.root)
        return self._assignments[name]

    def result_path(self, student, assignment, notebook: Path) -> Path:
        return self.autograded / student / assignment / f"{notebook.stem}.json"

    def feedback_path(self, student, assignment, notebook: Path) -> Path:
        return self.feedback / student / assignment / f"{notebook.stem}.html"


def submissions(submitted: Path, names=None):
    """(student, assignment, notebook path) for each submitted notebook, in sorted order."""
    for notebook in sorted(submitted.glob("*/*/*.ipynb")):
        student, assignment = notebook.parent.parent.name, notebook.parent.name
        if not names or assignment in names:
            yield student, assignment, notebook


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def autograde(course: Course, names=None, jobs: int = 1, sandboxed: bool = True, force: bool = False,
              out=sys.stdout) -> list[dict]:
    """Grades all submissions (those not graded yet, or all with `force`); returns every result.

    Raises:
      sandbox.SandboxUnavailable: `sandboxed` and no sandbox can be made here.
    """
    if sandboxed:
        sandbox.check()
    done, todo = [], []
    for student, name, notebook in submissions(course.submitted, names):
        try:
            course.assignment(name)
        except AssignmentNotFound as error:
            print(f"skipping {notebook}: {error}", file=out)
            continue
        digest = sha256(notebook)
        previous = _read_result(course.result_path(student, name, notebook))
        if not force and previous and previous.get("sha256") == digest:
            done.append(previous)
        else:
            todo.append((student, name, notebook, digest))
    if done:
        print(f"{len(done)} notebooks already graded (unchanged since): recording them again", file=out)
    results = [record(course, r) for r in done]
    for job, outcome in _run_jobs(course, todo, jobs, sandboxed):
        student, name, notebook, digest = job
        if isinstance(outcome, GraderError):
            print(f"{student:<16} {name:<20} grader failure, nothing recorded: {outcome}", file=out)
            continue
        result = record(course, dict(outcome, student=student, sha256=digest))
        results.append(result)
        print(f"{student:<16} {name:<20} {result['score']:6g} / {result['max_score']:<6g} {result['status']}"
              + (f" ({result['reason']})" if result["reason"] else ""), file=out, flush=True)
    if results:
        gradebook.export_csv(course.db, course.csv)
        print(f"grades exported to {course.csv}", file=out)
    else:
        print(f"no submissions under {course.submitted}/<student>/<assignment>/", file=out)
    return results


def record(course: Course, result: dict) -> dict:
    """Writes a result (with 'student') to autograded/ and feedback/, then to the gradebook."""
    notebook = Path(result["notebook"])
    student, name = result["student"], result["assignment"]
    path = course.result_path(student, name, notebook)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(result, indent=2))
    os.replace(temporary, path)  # a run killed here leaves the old result or the new, never half
    feedback.write(result, course.feedback_path(student, name, notebook), student)
    gradebook.record(course.db, course.assignment(name), student, result)
    return result


def merge(course: Course, result_files, out=sys.stdout) -> list[dict]:
    """Records results made elsewhere (`course-grade ... --json` on nbgrader-layout paths)."""
    incoming = [result for file in result_files for result in json.loads(Path(file).read_text())]
    for result in incoming:  # all of them first: a bad file records nothing
        _validate(course, result)
    results = []
    for result in incoming:
        student = Path(result["notebook"]).parent.parent.name
        results.append(record(course, dict(result, student=student)))
        print(f"merged {student} {result['assignment']}: {result['score']:g} / {result['max_score']:g}",
              file=out)
    if results:
        gradebook.export_csv(course.db, course.csv)
    return results


def _validate(course: Course, result: dict) -> None:
    """Checks a result's shape, and that its tests are its assignment's, before anything is recorded.

    Raises:
      ValueError: what is wrong with it.
    """
    keys = {"notebook", "assignment", "score", "max_score", "status", "reason", "tests"}
    if not isinstance(result, dict) or not keys <= set(result):
        raise ValueError(f"not a course-grade result: {str(result)[:200]}")
    try:
        assignment = course.assignment(result["assignment"])
    except AssignmentNotFound as error:
        raise ValueError(str(error)) from None
    expected = {test.grade_id for name in assignment.notebook_names for test in assignment.tests(name)}
    if not {test.get("grade_id") for test in result["tests"]} <= expected:
        raise ValueError(f"the result for {result['notebook']} has tests that {assignment.name} does not have")
    for test in result["tests"]:
        if not {"grade_id", "points", "max_points", "passed", "message"} <= set(test):
            raise ValueError(f"not a course-grade test result: {str(test)[:200]}")
        if not 0 <= float(test["points"]) <= float(test["max_points"]):
            raise ValueError(f"points out of range in {test['grade_id']}")


def _read_result(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _grade_job(root, name, notebook, sandboxed):
    try:
        return grade_notebook(notebook, _assignment(root, name), sandboxed=sandboxed)
    except GraderError as error:
        return error


_ASSIGNMENTS = {}


def _assignment(root, name) -> Assignment:
    if (root, name) not in _ASSIGNMENTS:
        _ASSIGNMENTS[root, name] = Assignment(name, root)
    return _ASSIGNMENTS[root, name]


def _run_jobs(course, todo, jobs, sandboxed):
    """Yields (job, result or GraderError) as the grading of each job finishes."""
    bar = tqdm(total=len(todo), desc="Grading", unit="notebook", disable=not todo)
    if jobs <= 1:
        for job in todo:
            yield job, _grade_job(course.root, job[1], job[2], sandboxed)
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(_grade_job, course.root, job[1], job[2], sandboxed): job for job in todo}
            for future in as_completed(futures):
                yield futures[future], future.result()
                bar.update()
    bar.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.grading.autograde", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", metavar="ASSIGNMENT", help="only these assignments")
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("JOBS", "1") or 1),
                        help="notebooks graded at once (default: $JOBS or 1)")
    parser.add_argument("--force", action="store_true", help="grade again notebooks already graded")
    parser.add_argument("--unsafe", action="store_true",
                        help="grade without the sandbox (only for notebooks you trust)")
    parser.add_argument("--merge", nargs="+", metavar="RESULT", help="record course-grade --json results")
    parser.add_argument("--course-dir", default=None)
    args = parser.parse_args(argv)
    course = Course(Path(args.course_dir) if args.course_dir else layout.course_root())
    if args.merge:
        merge(course, args.merge)
        return 0
    try:
        autograde(course, args.names, jobs=args.jobs, sandboxed=not args.unsafe, force=args.force)
    except sandbox.SandboxUnavailable as error:
        print(f"autograde: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
