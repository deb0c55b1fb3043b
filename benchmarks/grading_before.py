"""Grading against the grader of before: seconds per submission, this checkout's grader and another's.

    BENCH_BEFORE=/path/to/old-checkout make bench ONLY=grading_before

`BENCH_BEFORE` names a checkout of the course at an earlier commit (the issue's "today's code"), set
up with its own `make setup` (its `.venv`): its grader, its course_lib and its kernels' environment.
For each graded assignment three graders each grade a reference solution, taking turns one grading
at a time, each in a process of its own that has graded once already (as a worker of `make autograde`
has):

  - `before`: the old checkout's grader on its own reference solution;
  - `now`: this checkout's grader on this checkout's reference solution;
  - `now_on_before_notebook`: this checkout's grader (and course_lib) on the old checkout's reference
    solution, its tests included: the same notebook as `before`, for an assignment whose notebook has
    changed since (the capstone trains four models where it trained one).

Each side's median seconds and breakdown (kernel start, preamble, cells, tests, where the grader
records them); `ratio` = now / before, `ratio_same_notebook` = now_on_before_notebook / before.
Without BENCH_BEFORE the benchmark is skipped.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.common import ROOT
from benchmarks.grading import ASSIGNMENTS, medians, rotated

SWITCH = "BENCH_BEFORE"

# Run in each grader's own Python: grades the reference solution of `assignment` in `course` each
# time a line arrives on stdin, and answers with one line of JSON.
_WORKER = r'''
import json, sys, tempfile, time
from pathlib import Path
import nbformat
from course_tools.assignment import Assignment
from course_tools.grade import grade_notebook
course, name = Path(sys.argv[1]), sys.argv[2]
source = Assignment(name, course)
folder = tempfile.mkdtemp()
path = Path(folder) / f"{source.notebook_names[0]}.ipynb"
nbformat.write(source.sources[source.notebook_names[0]], path)
for line in sys.stdin:
    start = time.perf_counter()
    result = grade_notebook(path, Assignment(name, course))
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "score": result["score"], "max_score": result["max_score"],
                      **{k: v for k, v in (result.get("seconds") or {}).items()}}), flush=True)
'''


class _Grader:
    """A grader process of its own that grades one reference solution on request."""

    def __init__(self, python: Path, course: Path, assignment: str):
        env = {**os.environ, "TQDM_DISABLE": "1"}
        env.pop("VIRTUAL_ENV", None)
        # -P: the current directory stays off sys.path, so each Python imports its own installed course_lib.
        self.process = subprocess.Popen([str(python), "-P", "-c", _WORKER, str(course), assignment], env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.name = f"{assignment} in {course} with {python}"

    def grade(self) -> dict:
        self.process.stdin.write("grade\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the grader of {self.name} stopped (exit status {self.process.wait()})")
        result = json.loads(line)
        if result["score"] != result["max_score"]:
            raise RuntimeError(f"{self.name}: the reference solution got {result['score']} of {result['max_score']}")
        return result

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=60)


def sides(before: Path) -> dict[str, tuple[Path, Path]]:
    """Each side's (Python, course folder)."""
    now_python = Path(sys.executable)
    return {"before": (before / ".venv" / "bin" / "python", before),
            "now": (now_python, ROOT),
            "now_on_before_notebook": (now_python, before)}


def per_assignment(name: str, before: Path, repeats: int) -> dict:
    graders = {side: _Grader(python, course, name) for side, (python, course) in sides(before).items()}
    try:
        for grader in graders.values():
            grader.grade()                             # fills its cache, if it has one, and warms it
        runs = {side: [] for side in graders}
        for repeat in range(repeats):
            for side in rotated(list(graders), repeat):
                runs[side].append(graders[side].grade())
    finally:
        for grader in graders.values():
            grader.close()
    median = medians(runs)
    return {**median, "ratio": median["now"]["seconds"] / median["before"]["seconds"],
            "ratio_same_notebook": median["now_on_before_notebook"]["seconds"] / median["before"]["seconds"],
            "runs": runs}


def run(repeats: int = 3) -> dict:
    chosen = os.environ.get(SWITCH)
    if not chosen:
        return {"skipped": f"set {SWITCH} to a checkout of the course at an earlier commit, set up with its own "
                           "`make setup`"}
    before = Path(chosen).resolve()
    if not (before / ".venv" / "bin" / "python").exists():
        return {"skipped": f"{before} has no .venv: run `make setup` there first"}
    commit = subprocess.run(["git", "-C", str(before), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    per = {name: per_assignment(name, before, repeats) for name in ASSIGNMENTS}
    return {"before": str(before), "before_commit": commit or None, "repeats": repeats,
            "per_submission": {name: {k: v for k, v in r.items() if k != "runs"} for name, r in per.items()},
            "runs": {name: r["runs"] for name, r in per.items()}}
