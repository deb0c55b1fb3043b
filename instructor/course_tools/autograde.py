"""`python -m course_tools.autograde` (`make autograde`): grade every submission, export grades.csv.

For each notebook under submitted/<student>/<assignment>/ that may be graded (a regular file named
after one of the assignment's notebooks, of a valid student: see collect.py; what else is there
is listed, not graded, and makes the run exit 1) it:

  1. grades it in a sandbox (grade.py), in up to --jobs worker processes (one that dies costs only
     its own notebook: see workers.py), or with --engine dask --scheduler ADDRESS as one task per
     notebook on a running Dask cluster's workers (see cluster.py);
  2. writes the result to autograded/<student>/<assignment>/<notebook>.json (atomically,
     with the SHA-256 of the notebook it graded), the autograded notebook that nbgrader's
     formgrader shows next to it, <notebook>.ipynb (graded_notebook.py; hidden tests included:
     autograded/ is the instructors'), and the learner's feedback to
     feedback/<student>/<assignment>/<notebook>.html (from the result alone);
  3. records the scores in the gradebook, from this process only, as the results arrive, each
     (student, assignment, notebook, SHA-256 of the notebook) once a run, one transaction per notebook,
     as nbgrader's auto scores (an instructor's manual scores and comments are kept), with the
     submission's time from submitted/<student>/<assignment>/timestamp.txt if there is one, and
     the late penalty nbgrader's configuration sets for a submission after its due date;

then exports the gradebook to grades.csv. A notebook whose result is already there
for the same file content, graded the same way (same source and release notebooks,
same limits, sandboxed or not), is not graded again, only re-recorded: killing a run
and starting it again grades each submission once and leaves the gradebook consistent,
and changing a hidden test, re-releasing or changing grading.toml regrades.
A grader failure (not the learner's) records nothing, so the next run retries it; the
run grades everything else, then exits 1 naming what it could not grade.

The unit of work, one notebook in and one JSON result out, is also a command that
runs anywhere course_lib is installed (e.g. as the jobs of a batch system):

    course-grade ASSIGNMENT submitted/<student>/<assignment>/<notebook>.ipynb --json > result.jsonl

and `--merge RESULT.jsonl ...` (merge.py) records such results as step 2 and 3 do, for notebooks that
are in this course's submitted/ and may be graded.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import sys
from pathlib import Path

from tqdm.auto import tqdm

from course_tools import cluster, collect, feedback, gradebook, graded_notebook, layout, nbgrader_settings, sandbox, \
    workers
from course_tools.assignment import Assignment, AssignmentNotFound
from course_tools.collect import grade_submission
from course_tools.execute import GraderError
from course_tools.grade import check
from course_tools.limits import Limits
from course_tools.merge import merge


class NotAllGraded(RuntimeError):
    """Some notebooks could not be graded (grader failures, an assignment without a valid release
    or grading.toml) or were not graded (what is not a submission that may be graded: a link, a FIFO,
    an invalid student id, another notebook; a result of --merge that says the grader failed), or
    were graded and recorded but not in full (a timestamp.txt that is not used, an autograded
    notebook that could not be written: see Course.notes).
    Everything else was graded and recorded; `results` holds those results."""

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
        self.start_run()

    def start_run(self) -> None:
        """Forgets what the last run read (submission times, the late penalty) and noted."""
        self.notes = []           # what recording could not do in full, listed at the end of a run
        self._timestamps = {}
        self._late_penalty = None

    def late_penalty(self):
        """The late penalty of nbgrader's configuration (nbgrader_settings.late_penalty), loaded once a run.

        Raises:
          ValueError: the configuration cannot be read or its penalty plugin cannot be loaded.
        """
        if self._late_penalty is None:
            try:
                self._late_penalty = (nbgrader_settings.late_penalty(self.root),)
            except Exception as error:   # a config file that fails, a plugin that cannot be imported
                raise ValueError(f"nbgrader's configuration: the late-submission penalty cannot be "
                                 f"loaded: {type(error).__name__}: {error}") from None
        return self._late_penalty[0]

    def timestamp(self, student: str, assignment: str):
        """When `student` submitted `assignment` (collect.read_timestamp), read once a run; None if
        there is no timestamp.txt, or if it cannot be used (that is noted in `notes`)."""
        key = (student, assignment)
        if key not in self._timestamps:
            try:
                self._timestamps[key] = collect.read_timestamp(self.submitted, student, assignment)
            except collect.NotCollected as error:
                self._timestamps[key] = None
                path = self.submitted / student / assignment / collect.TIMESTAMP
                self.notes.append(f"{collect.printable(str(path))}: not used, so the submission's time is not "
                                  f"recorded and no late penalty applies: {error.reason}")
        return self._timestamps[key]

    def assignment(self, name: str) -> Assignment:
        if name not in self._assignments:
            self._assignments[name] = Assignment(name, self.root)
        return self._assignments[name]

    def result_path(self, student, assignment, notebook: Path) -> Path:
        return self.autograded / student / assignment / f"{notebook.stem}.json"

    def feedback_path(self, student, assignment, notebook: Path) -> Path:
        return self.feedback / student / assignment / f"{notebook.stem}.html"

    def graded_notebook_path(self, student, assignment, notebook: str) -> Path:
        """nbgrader's autograded notebook: autograded/<student>/<assignment>/<notebook>.ipynb."""
        return self.autograded / student / assignment / f"{notebook}.ipynb"


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
              out=sys.stdout, grader=None, scheduler: str | None = None,
              connect_timeout: float = cluster.CONNECT_TIMEOUT) -> list[dict]:
    """Grades all submissions (those not graded yet, or all with `force`); returns every result.

    Only regular files at submitted/<student>/<assignment>/<notebook>.ipynb, for the assignment's
    notebook names and valid student ids, are graded (see collect.py); what else is there is
    listed, and counted among the problems.

    Args:
      grader: the function that grades one notebook, `grader(submitted, parts, assignment, limits,
        sandboxed)` -> result (default `grade_submission`); defined at module level (it is pickled).
      scheduler: the address of a Dask scheduler (e.g. 'tcp://host:8786') to grade on its cluster,
        one task per notebook (cluster.py), instead of `jobs` local processes.
      connect_timeout: seconds to reach that scheduler.

    Raises:
      sandbox.SandboxUnavailable: `sandboxed` and no sandbox can be made here.
      cluster.ClusterUnavailable: `scheduler` cannot be reached, or its workers cannot grade.
      NotAllGraded: after grading and recording all the rest, some notebooks could not be graded,
        or were not graded because they are not what may be graded (a link, a FIFO, an invalid id...).
    """
    if sandboxed and not scheduler:
        sandbox.check()
    course.start_run()
    course.late_penalty()      # a broken configuration stops the run before anything is graded
    client = cluster.connect(scheduler, connect_timeout) if scheduler else None
    try:
        if client:
            count = cluster.check_workers(client, course.root, sandboxed)
            print(f"grading on the Dask cluster at {scheduler} ({count} workers now)", file=out)
        return _autograde(course, names, jobs, sandboxed, force, out, grader, client)
    finally:
        if client:
            client.close()


def _autograde(course, names, jobs, sandboxed, force, out, grader, client) -> list[dict]:
    ready, problems = {}, []   # ready: assignment name -> (limits, grading key)

    def notebook_names(name):
        if name not in ready:
            ready[name] = _prepare(course, name, sandboxed, out, problems)
        return course.assignment(name).notebook_names if ready[name] else None

    found, skipped = collect.submissions(course.submitted, notebook_names, gradebook.roster(course.db), names)
    done, todo, digests = [], [], {}
    for submission in found:
        try:
            digest = hashlib.sha256(collect.read_regular(course.submitted, submission.parts)).hexdigest()
        except collect.NotCollected as error:
            skipped.append(collect.Skipped(submission.path, error.reason))
            continue
        previous = _read_result(course.result_path(submission.student, submission.assignment, submission.path))
        key = ready[submission.assignment][1]
        if not force and previous and (previous.get("sha256"), previous.get("grading")) == (digest, key):
            done.append(previous)
        else:
            todo.append(submission)
            digests[submission] = digest
    for entry in skipped:
        print(entry, file=out)
        problems.append(str(entry))
    if done:
        print(f"{len(done)} notebooks already graded (unchanged since): recording them again", file=out)
    results = [record(course, r) for r in done]
    recorded = {_identity(r) for r in done}
    limits = {name: r[0] for name, r in ready.items() if r}
    keys = {name: r[1] for name, r in ready.items() if r}
    for submission, outcome in _run_jobs(course, todo, jobs, sandboxed, limits, grader or grade_submission,
                                         client, {s: (str(s.path), digests[s], keys[s.assignment]) for s in todo}):
        student, name = collect.printable(submission.student), submission.assignment  # (on a roster: any id)
        if isinstance(outcome, Exception):
            kind = "grader failure" if isinstance(outcome, (GraderError, workers.WorkerDied)) \
                else f"{type(outcome).__name__}"
            print(f"{student:<16} {name:<20} {kind}, nothing recorded: {outcome}", file=out, flush=True)
            problems.append(f"{collect.printable(str(submission.path))}: {kind}: {outcome}")
            continue
        if _identity(dict(outcome, student=submission.student)) in recorded:
            print(f"{student:<16} {name:<20} a second result for the same notebook: ignored", file=out, flush=True)
            continue
        result = record(course, dict(outcome, student=submission.student, grading=ready[name][1]))
        recorded.add(_identity(result))
        results.append(result)
        print(f"{student:<16} {name:<20} {result['score']:6g} / {result['max_score']:<6g} {result['status']}"
              + (f" ({result['reason']})" if result["reason"] else ""), file=out, flush=True)
    if results:
        gradebook.export_csv(course.db, course.csv)
        print(f"grades exported to {course.csv}", file=out)
    elif not problems:
        print(f"no submissions under {course.submitted}/<student>/<assignment>/", file=out)
    for note in course.notes:
        print(note, file=out)
        problems.append(note)
    if problems:
        raise NotAllGraded(f"{len(problems)} not graded or not recorded in full (grader failures are retried "
                           "by running again):\n  "
                           + "\n  ".join(problems), results)
    return results


def _identity(result: dict) -> tuple:
    """What a result is the grade of: (student, assignment, notebook file name, SHA-256 of its content).
    A run records each once; another result with the same identity is a duplicate."""
    return result["student"], result["assignment"], Path(result["notebook"]).name, result.get("sha256")


def _prepare(course: Course, name: str, sandboxed: bool, out, problems: list) -> tuple | None:
    """(limits, grading key) of assignment `name`; None, with why printed, if it cannot be graded.
    A folder of submitted/ that is no assignment is skipped; a missing or out-of-date release
    or an invalid grading.toml is also added to `problems`."""
    try:
        assignment = course.assignment(name)
    except AssignmentNotFound as error:
        print(f"skipping {collect.printable(name)}: {error}", file=out)
        return None
    try:
        limits = check(assignment)
        return limits, grading_key(assignment, limits, sandboxed)
    except (OSError, ValueError) as error:
        print(f"skipping {name}: {error}", file=out)
        problems.append(f"assignment {name}: {error}")
        return None


def record(course: Course, result: dict) -> dict:
    """Writes a result (with 'student') to autograded/ (the result, and the autograded notebook for
    formgrader) and feedback/, then to the gradebook, with the submission's time and late penalty.
    What cannot be done in full (a timestamp.txt that is not used, a notebook that cannot be written)
    is added to `course.notes`."""
    notebook = Path(result["notebook"])
    student, name = result["student"], result["assignment"]
    path = course.result_path(student, name, notebook)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(result, indent=2))
    os.replace(temporary, path)  # a run killed here leaves the old result or the new, never half
    assignment = course.assignment(name)
    _write_graded_notebook(course, assignment, result)
    feedback.write(result, course.feedback_path(student, name, notebook), student)
    gradebook.record(course.db, assignment, student, result, timestamp=course.timestamp(student, name),
                     late_penalty=course.late_penalty())
    return result


def _write_graded_notebook(course: Course, assignment: Assignment, result: dict) -> None:
    """Writes autograded/<student>/<assignment>/<notebook>.ipynb from the learner's notebook in
    submitted/ (read as collection reads it: a regular file, no links)."""
    student, submitted = result["student"], Path(result["notebook"])
    name = submitted.stem if submitted.stem in assignment.notebook_names else assignment.notebook_names[0]
    content, note = None, None
    try:
        content = collect.read_regular(course.submitted, [student, assignment.name, submitted.name])
    except collect.NotCollected as error:
        note = f"the submitted notebook cannot be read any more ({error.reason}): the release stands in for it"
    target = course.graded_notebook_path(student, assignment.name, name)
    try:
        graded_notebook.write(graded_notebook.build(assignment, name, result, content, note), target)
    except (OSError, ValueError) as error:   # FileNotFoundError: no release to rebuild it on
        course.notes.append(f"{collect.printable(str(target))}: not written, so formgrader cannot show it: {error}")


def _read_result(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _run_jobs(course, todo, jobs, sandboxed, limits, grader, client=None, identities=None):
    """Yields (submission, result or the exception that stopped it) as the grading of each finishes,
    each exactly once, even when a worker process dies (see workers.py and cluster.py).

    `limits` maps each assignment's name to its limits. With a Dask `client`, each notebook is a task
    on its cluster, keyed by `identities[submission]`. When the caller stops early (an error, ^C),
    the jobs not started yet are cancelled."""
    arguments = {s: (grader, course.root, s.assignment, course.submitted, s.parts, limits[s.assignment], sandboxed)
                 for s in todo}
    if client is not None:
        outcomes = cluster.run([(s, identities[s], arguments[s]) for s in todo], collect.grade_in_worker, client)
    elif jobs <= 1:
        outcomes = ((s, _call(grader, course.submitted, s.parts, course.assignment(s.assignment),
                              limits[s.assignment], sandboxed)) for s in todo)
    else:
        outcomes = workers.run([(s, arguments[s]) for s in todo], collect.grade_in_worker, jobs)
    bar = tqdm(total=len(todo), desc="Grading", unit="notebook", disable=not todo)
    try:
        for submission, outcome in outcomes:
            yield submission, outcome
            bar.update()
    finally:
        outcomes.close()   # stops the workers now, not when garbage-collected
        bar.close()


def _call(function, *args):
    """function(*args), or the exception that stopped it: one notebook's failure must not lose the others'."""
    try:
        return function(*args)
    except Exception as error:
        return error


def _jobs_option(text: str) -> int:
    try:
        return jobs_argument(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_tools.autograde", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", metavar="ASSIGNMENT", help="only these assignments")
    parser.add_argument("--jobs", type=_jobs_option, default=None,
                        help="notebooks graded at once (default: $JOBS or 1)")
    parser.add_argument("--force", action="store_true", help="grade again notebooks already graded")
    parser.add_argument("--unsafe", action="store_true",
                        help="grade without the sandbox (only for notebooks you trust)")
    parser.add_argument("--merge", nargs="+", metavar="RESULT",
                        help="record course-grade --json results (JSON Lines files)")
    parser.add_argument("--engine", choices=["local", "dask"], default="local",
                        help="local: a pool of --jobs processes here (default); dask: a running Dask cluster")
    parser.add_argument("--scheduler", metavar="ADDRESS", default=None,
                        help="the Dask scheduler's address for --engine dask, e.g. tcp://host:8786 "
                             "(default: Dask's scheduler-address setting, $DASK_SCHEDULER_ADDRESS)")
    parser.add_argument("--connect-timeout", type=float, default=cluster.CONNECT_TIMEOUT, metavar="SECONDS",
                        help=f"seconds to reach the Dask scheduler (default {cluster.CONNECT_TIMEOUT})")
    parser.add_argument("--course-dir", default=None)
    args = parser.parse_args(argv)
    try:
        jobs = args.jobs or default_jobs()
    except ValueError as error:
        parser.error(f"$JOBS: {error}")
    if args.scheduler and args.engine != "dask":
        parser.error("--scheduler is for --engine dask")
    scheduler = (args.scheduler or _configured_scheduler()) if args.engine == "dask" else None
    if args.engine == "dask" and not scheduler:
        parser.error("--engine dask needs the scheduler's address: --scheduler tcp://host:8786 "
                     "(make autograde ENGINE=dask SCHEDULER=tcp://host:8786)")
    course = Course(Path(args.course_dir) if args.course_dir else layout.course_root())
    try:
        if args.merge:
            merge(course, args.merge)
        else:
            autograde(course, args.names, jobs=jobs, sandboxed=not args.unsafe, force=args.force,
                      scheduler=scheduler, connect_timeout=args.connect_timeout)
    except (sandbox.SandboxUnavailable, cluster.ClusterUnavailable, ValueError, OSError) as error:
        print(f"autograde: {error}", file=sys.stderr)
        return 2
    except NotAllGraded as error:
        print(f"autograde: {error}", file=sys.stderr)
        return 1
    return 0


def _configured_scheduler() -> str | None:
    """Dask's own setting for the scheduler's address (scheduler-address, $DASK_SCHEDULER_ADDRESS), if any."""
    try:
        import dask
    except ImportError:
        return None
    return dask.config.get("scheduler-address", None)


if __name__ == "__main__":
    sys.exit(main())
