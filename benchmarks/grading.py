"""Grading: seconds per submission and where they go, and a class of 30 graded with 1 and 2 workers.

Each submission is graded as `make autograde` does: in the sandbox, recorded in a
gradebook, with feedback. The class is 30 submissions of one assignment (default
`layers`): 10 reference solutions, 10 half-answered, 10 unchanged releases, the
mix a class has near a deadline. `speedup_2_workers` is (time with 1 worker) /
(time with 2 workers), medians of the repeats, which alternate which goes first; the
target on a 2-core machine is >= 1 / 0.65, i.e. `time_ratio_2_to_1_workers` <= 0.65.
`breakdown` is the median, over the 1-worker runs' submissions, of each part of a grading
(kernel start, grader's preamble, the notebook's own cells, the tests: probes and judges), in
seconds, as the grader records it in each result ("seconds").

`per_submission`: for each graded assignment, its reference solution graded alone, in one grader
process that has graded it once already (as a worker of `make autograde` has), on three sides in a
rotating order: `baseline` (no compilation cache, XLA's default compiling: today's grader before
this work), `cache_only` (the kernels' JAX compilation cache, course_tools.compile_cache) and `now`
(the cache and the kernels' fast compiling, sandbox.FAST_COMPILE). Each side's median seconds and
breakdown; `ratio` = now / baseline, `ratio_cache_only` = cache_only / baseline.
`first_grading_seconds`: the first grading, which fills the cache when its release has none yet (once per
release and JAX version), counted in no side.
`BENCH_GRADING_CLASS=0` skips the class of 30 (over half an hour on 2 cores).
"""
from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import nbformat

from benchmarks.common import ROOT

CLASS_SIZE = 30


def write_class(root: Path, assignment_name: str) -> Path:
    from course_tools.assignment import Assignment, is_answer

    assignment = Assignment(assignment_name, ROOT)
    notebook = assignment.notebook_names[0]
    source, released = assignment.sources[notebook], assignment.release(notebook)
    answers = [i for i, cell in enumerate(source.cells) if is_answer(cell)]
    partial = nbformat.from_dict(released)
    for index in answers[: len(answers) // 2]:
        partial.cells[index].source = source.cells[index].source
    versions = [source, partial, released]
    submitted = root / "submitted"
    for number in range(CLASS_SIZE):
        path = submitted / f"student{number:02d}" / assignment_name / f"{notebook}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(versions[number % 3], path)
    return submitted


def breakdown(autograded: Path) -> dict:
    """The median seconds of each part of a grading, over the results under `autograded`."""
    import json

    parts = [json.loads(path.read_text()).get("seconds") for path in autograded.glob("*/*/*.json")]
    parts = [p for p in parts if p]
    return {what: statistics.median(p[what] for p in parts) for what in parts[0]} if parts else {}


def grade_class(submitted: Path, workdir: Path, jobs: int) -> float:
    from course_tools.autograde import Course, autograde

    course = Course(ROOT, submitted=submitted, autograded=workdir / "autograded",
                    feedback_dir=workdir / "feedback", db=workdir / "gradebook.db", csv=workdir / "grades.csv")
    start = time.perf_counter()
    with open(os.devnull, "w") as quiet:
        results = autograde(course, jobs=jobs, force=True, out=quiet)
    seconds = time.perf_counter() - start
    assert len(results) == CLASS_SIZE, f"graded {len(results)} of {CLASS_SIZE}"
    return seconds


ASSIGNMENTS = ("layers", "training", "tweet_sentiment")


def rotated(names: list, repeat: int) -> list:
    """`names` starting at the `repeat`-th (modulo their number): each repeat grades them in another order."""
    start = repeat % len(names)
    return names[start:] + names[:start]


def medians(runs_of: dict) -> dict:
    """For each side, the median of each number its runs recorded (score and max_score left out)."""
    return {side: {what: statistics.median(run[what] for run in runs) for what in runs[0]
                   if what not in ("score", "max_score")}
            for side, runs in runs_of.items()}


def sides() -> dict:
    """Each side's grading switches (see above)."""
    from course_tools import compile_cache, sandbox
    return {"baseline": {compile_cache.SWITCH: "0", sandbox.FAST_COMPILE_SWITCH: "0"},
            "cache_only": {sandbox.FAST_COMPILE_SWITCH: "0"},
            "now": {}}


def per_submission(assignment_name: str, repeats: int) -> dict:
    """Seconds to grade the reference solution on each side (see above)."""
    from course_tools.assignment import Assignment
    from course_tools.grade import grade_notebook

    settings = sides()

    def grade(switches: dict, path: Path) -> dict:
        names = set(settings["baseline"])
        previous = {name: os.environ.pop(name, None) for name in names}
        os.environ.update(switches)
        try:
            start = time.perf_counter()
            result = grade_notebook(path, Assignment(assignment_name, ROOT))
            seconds = time.perf_counter() - start
        finally:
            for name in names:
                os.environ.pop(name, None)
                if previous[name] is not None:
                    os.environ[name] = previous[name]
        assert result["score"] == result["max_score"], f"{assignment_name}: {result['score']} of {result['max_score']}"
        return {"seconds": seconds, **result["seconds"]}

    runs_of = {side: [] for side in settings}
    with tempfile.TemporaryDirectory() as folder:
        source = Assignment(assignment_name, ROOT)
        path = Path(folder) / f"{source.notebook_names[0]}.ipynb"
        nbformat.write(source.sources[source.notebook_names[0]], path)
        start = time.perf_counter()
        grade(settings["now"], path)                  # fills the cache if need be, and warms this process
        fill = time.perf_counter() - start
        for repeat in range(repeats):
            for side in rotated(list(settings), repeat):
                runs_of[side].append(grade(settings[side], path))
    median = medians(runs_of)
    return {**median, "ratio": median["now"]["seconds"] / median["baseline"]["seconds"],
            "ratio_cache_only": median["cache_only"]["seconds"] / median["baseline"]["seconds"],
            "first_grading_seconds": fill, "runs": runs_of}


def run(repeats: int = 2, assignment: str = "layers") -> dict:
    per = {name: per_submission(name, repeats) for name in ASSIGNMENTS}
    result = {"per_submission": {name: {k: v for k, v in r.items() if k != "runs"} for name, r in per.items()}}
    if os.environ.get("BENCH_GRADING_CLASS", "1") == "0":
        return {**result, "runs": {name: r["runs"] for name, r in per.items()}}
    runs = {"workers_1_seconds": [], "workers_2_seconds": []}
    parts = {}
    with tempfile.TemporaryDirectory() as folder:
        submitted = write_class(Path(folder), assignment)
        for repeat in range(repeats):
            for jobs in ((1, 2) if repeat % 2 == 0 else (2, 1)):  # alternate which goes first
                workdir = Path(folder) / f"run{repeat}-{jobs}"
                runs[f"workers_{jobs}_seconds"].append(grade_class(submitted, workdir, jobs))
                if jobs == 1:
                    parts = breakdown(workdir / "autograded")
    one = statistics.median(runs["workers_1_seconds"])
    two = statistics.median(runs["workers_2_seconds"])
    runs["per_submission"] = {name: r["runs"] for name, r in per.items()}
    return {**result, "assignment": assignment, "class_size": CLASS_SIZE,
            "seconds_per_submission": one / CLASS_SIZE, "breakdown": parts,
            "submissions_per_minute_1_worker": 60 * CLASS_SIZE / one,
            "submissions_per_minute_2_workers": 60 * CLASS_SIZE / two,
            "speedup_2_workers": one / two, "time_ratio_2_to_1_workers": two / one, "runs": runs}
