"""`python -m course_lib.grading.autograde` (`make autograde`): grade every submission, export grades.csv.

For each notebook under submitted/<student>/<assignment>/ it:

  1. grades it in a sandbox (grade.py), in up to --jobs worker processes;
  2. writes the result to autograded/<student>/<assignment>/<notebook>.json (atomically,
     with the SHA-256 of the notebook it graded) and the learner's feedback to
     feedback/<student>/<assignment>/<notebook>.html;
  3. records the scores in the gradebook, from this process only, one transaction per notebook;

then exports the gradebook to grades.csv. A notebook whose result is already there
for the same file content, graded the same way (same source and release notebooks,
same limits, sandboxed or not), is not graded again, only re-recorded: killing a run
and starting it again grades each submission once and leaves the gradebook consistent,
and changing a hidden test, re-releasing or changing grading.toml regrades.
A grader failure (not the learner's) records nothing, so the next run retries it; the
run grades everything else, then exits 1 naming what it could not grade.

The unit of work, one notebook in and one JSON result out, is also a command that
runs anywhere course_lib is installed (e.g. as the jobs of a batch system):

    course-grade ASSIGNMENT submitted/<student>/<assignment>/<notebook>.ipynb --json > result.json

and `--merge RESULT.json ...` records such results as step 2 and 3 do.
"""
from __future__ import annotations

import argparse
import dataclasses
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
from course_lib.grading.grade import check, grade_notebook
from course_lib.grading.limits import Limits


class NotAllGraded(RuntimeError):
    """Some notebooks could not be graded (grader failures, an assignment without a valid release
    or grading.toml). Everything else was graded and recorded; `results` holds those results."""

    def __init__(self, message: str, results: list[dict]):
        super().__init__(message)
        self.results = results


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


def grading_key(assignment: Assignment, limits: Limits, sandboxed: bool) -> str:
    """A digest of how `assignment`'s submissions are graded: its source and release notebooks,
    its limits and the sandbox. A result graded another way is graded again."""
    digest = hashlib.sha256(json.dumps([dataclasses.asdict(limits), sandboxed]).encode())
    for name in assignment.notebook_names:
        for folder in (assignment.source_dir, assignment.release_dir):
            digest.update((folder / f"{name}.ipynb").read_bytes())
    return digest.hexdigest()


def jobs_argument(text: str) -> int:
    """The number of notebooks graded at once, from --jobs or $JOBS.

    Raises:
      ValueError: `text` is not a positive whole number.
    """
    if not text.strip().isdigit() or int(text) < 1:
        raise ValueError(f"the number of jobs must be a positive whole number, got {text!r}")
    return int(text)


def default_jobs() -> int:
    """$JOBS, or 1 when it is unset or empty.

    Raises:
      ValueError: $JOBS is not a positive whole number.
    """
    return jobs_argument(os.environ.get("JOBS") or "1")


def autograde(course: Course, names=None, jobs: int = 1, sandboxed: bool = True, force: bool = False,
              out=sys.stdout) -> list[dict]:
    """Grades all submissions (those not graded yet, or all with `force`); returns every result.

    Raises:
      sandbox.SandboxUnavailable: `sandboxed` and no sandbox can be made here.
      NotAllGraded: after grading and recording all the rest, some notebooks could not be graded.
    """
    if sandboxed:
        sandbox.check()
    ready, problems = {}, []   # ready: assignment name -> (limits, grading key)
    done, todo = [], []
    for student, name, notebook in submissions(course.submitted, names):
        if name not in ready:
            ready[name] = _prepare(course, name, sandboxed, out, problems)
        if ready[name] is None:
            continue
        digest = sha256(notebook)
        previous = _read_result(course.result_path(student, name, notebook))
        if not force and previous and (previous.get("sha256"), previous.get("grading")) == (digest, ready[name][1]):
            done.append(previous)
        else:
            todo.append((student, name, notebook, digest))
    if done:
        print(f"{len(done)} notebooks already graded (unchanged since): recording them again", file=out)
    results = [record(course, r) for r in done]
    for job, outcome in _run_jobs(course, todo, jobs, sandboxed, {n: r[0] for n, r in ready.items() if r}):
        student, name, notebook, digest = job
        if isinstance(outcome, Exception):
            kind = "grader failure" if isinstance(outcome, GraderError) else f"{type(outcome).__name__}"
            print(f"{student:<16} {name:<20} {kind}, nothing recorded: {outcome}", file=out, flush=True)
            problems.append(f"{notebook}: {kind}: {outcome}")
            continue
        result = record(course, dict(outcome, student=student, sha256=digest, grading=ready[name][1]))
        results.append(result)
        print(f"{student:<16} {name:<20} {result['score']:6g} / {result['max_score']:<6g} {result['status']}"
              + (f" ({result['reason']})" if result["reason"] else ""), file=out, flush=True)
    if results:
        gradebook.export_csv(course.db, course.csv)
        print(f"grades exported to {course.csv}", file=out)
    elif not problems:
        print(f"no submissions under {course.submitted}/<student>/<assignment>/", file=out)
    if problems:
        raise NotAllGraded(f"{len(problems)} not graded (run again to retry):\n  " + "\n  ".join(problems),
                           results)
    return results


def _prepare(course: Course, name: str, sandboxed: bool, out, problems: list) -> tuple | None:
    """(limits, grading key) of assignment `name`; None, with why printed, if it cannot be graded.
    A folder of submitted/ that is no assignment is skipped; a missing or out-of-date release
    or an invalid grading.toml is also added to `problems`."""
    try:
        assignment = course.assignment(name)
    except AssignmentNotFound as error:
        print(f"skipping {name}: {error}", file=out)
        return None
    try:
        limits = check(assignment)
        return limits, grading_key(assignment, limits, sandboxed)
    except (OSError, ValueError) as error:
        print(f"skipping {name}: {error}", file=out)
        problems.append(f"assignment {name}: {error}")
        return None


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
    """Records results made elsewhere (`course-grade ... --json` on nbgrader-layout paths).

    All of them are read and checked before any is recorded: a bad file records nothing.

    Raises:
      ValueError: a file is not JSON, or holds something that is not a valid result (the message says what).
      OSError: a file cannot be read.
    """
    incoming = []
    for file in result_files:
        try:
            content = json.loads(Path(file).read_text())
        except ValueError as error:
            raise ValueError(f"{file}: not JSON: {error}") from None
        if not isinstance(content, list):
            raise ValueError(f"{file}: not a list of course-grade results")
        for result in content:
            try:
                incoming.append(dict(result, student=_validate(course, result)))
            except ValueError as error:
                raise ValueError(f"{file}: {error}") from None
    results = []
    for result in incoming:
        results.append(record(course, result))
        print(f"merged {result['student']} {result['assignment']}: {result['score']:g} / {result['max_score']:g}",
              file=out)
    if results:
        gradebook.export_csv(course.db, course.csv)
    return results


def _validate(course: Course, result) -> str:
    """Checks a result's shape, that its notebook is at submitted/<student>/<assignment>/, and that its
    tests are its assignment's; returns the student.

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
    notebook = Path(result["notebook"])
    student = notebook.parent.parent.name
    if notebook.parent.name != result["assignment"] or student in ("", ".", ".."):
        raise ValueError(f"{result['notebook']} is not at <student>/{result['assignment']}/<notebook>.ipynb, "
                         "so its student is unknown")
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
            raise ValueError(f"the result for {result['notebook']} has a test {test['grade_id']!r} "
                             f"that {assignment.name} does not have")
        if not 0 <= test["points"] <= test["max_points"]:
            raise ValueError(f"points out of range in {test['grade_id']}")
    return student


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _read_result(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _grade(assignment: Assignment, notebook: Path, limits: Limits, sandboxed: bool):
    """The result of grading `notebook`, or the exception that stopped it (recorded as not graded)."""
    try:
        return grade_notebook(notebook, assignment, limits, sandboxed=sandboxed)
    except Exception as error:  # one notebook's failure must not lose the others' results
        return error


_WORKER_ASSIGNMENTS = {}  # only filled in the worker processes, one per run (spawned)


def _grade_in_worker(root, name, notebook, limits, sandboxed):
    if (root, name) not in _WORKER_ASSIGNMENTS:
        _WORKER_ASSIGNMENTS[root, name] = Assignment(name, root)
    return _grade(_WORKER_ASSIGNMENTS[root, name], notebook, limits, sandboxed)


def _run_jobs(course, todo, jobs, sandboxed, limits):
    """Yields (job, result or the exception that stopped it) as the grading of each job finishes.

    `limits` maps each assignment's name to its limits. When the caller stops early (an error, ^C),
    the jobs not started yet are cancelled."""
    bar = tqdm(total=len(todo), desc="Grading", unit="notebook", disable=not todo)
    try:
        if jobs <= 1:
            for student, name, notebook, digest in todo:
                yield (student, name, notebook, digest), _grade(course.assignment(name), notebook, limits[name],
                                                                sandboxed)
                bar.update()
            return
        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))
        try:
            futures = {pool.submit(_grade_in_worker, course.root, job[1], job[2], limits[job[1]], sandboxed): job
                       for job in todo}
            for future in as_completed(futures):
                try:
                    outcome = future.result()
                except Exception as error:  # e.g. BrokenProcessPool: a worker died
                    outcome = error
                yield futures[future], outcome
                bar.update()
        finally:
            pool.shutdown(cancel_futures=True)
    finally:
        bar.close()


def _jobs_option(text: str) -> int:
    try:
        return jobs_argument(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.grading.autograde", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", metavar="ASSIGNMENT", help="only these assignments")
    parser.add_argument("--jobs", type=_jobs_option, default=None,
                        help="notebooks graded at once (default: $JOBS or 1)")
    parser.add_argument("--force", action="store_true", help="grade again notebooks already graded")
    parser.add_argument("--unsafe", action="store_true",
                        help="grade without the sandbox (only for notebooks you trust)")
    parser.add_argument("--merge", nargs="+", metavar="RESULT", help="record course-grade --json results")
    parser.add_argument("--course-dir", default=None)
    args = parser.parse_args(argv)
    try:
        jobs = args.jobs or default_jobs()
    except ValueError as error:
        parser.error(f"$JOBS: {error}")
    course = Course(Path(args.course_dir) if args.course_dir else layout.course_root())
    try:
        if args.merge:
            merge(course, args.merge)
        else:
            autograde(course, args.names, jobs=jobs, sandboxed=not args.unsafe, force=args.force)
    except (sandbox.SandboxUnavailable, ValueError, OSError) as error:
        print(f"autograde: {error}", file=sys.stderr)
        return 2
    except NotAllGraded as error:
        print(f"autograde: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
