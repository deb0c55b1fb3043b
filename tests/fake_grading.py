"""Cheap stand-ins for the grader (no kernel), for tests of collection and of the worker pool.

They are module-level functions, so that a spawned worker process can run them.
"""
from __future__ import annotations

import hashlib
import os
import signal
from pathlib import Path

from course_tools import collect

LOG = "FAKE_GRADING_LOG"   # if set, the file where each grading attempt appends its student


def result_for(path, assignment) -> dict:
    """A course-grade result for the notebook at `path` with every test of `assignment` passed."""
    name = Path(path).stem if Path(path).stem in assignment.notebook_names else assignment.notebook_names[0]
    tests = [{"grade_id": t.grade_id, "points": t.points, "max_points": t.points, "passed": True, "message": ""}
             for t in assignment.tests(name)]
    return {"notebook": str(path), "assignment": assignment.name, "score": sum(t["points"] for t in tests),
            "max_score": assignment.max_score(name), "status": "graded", "reason": None, "tests": tests}


def full_marks(submitted, parts, assignment, limits, sandboxed) -> dict:
    """What autograde's grader returns, with every test passed. Reads the file as the real grader does
    (collect.read_regular) and appends the student to $FAKE_GRADING_LOG."""
    content = collect.read_regular(submitted, parts)
    _log(parts[0])
    return dict(result_for(Path(submitted, *parts), assignment), sha256=hashlib.sha256(content).hexdigest())


def kills_its_worker_for_mallory(submitted, parts, assignment, limits, sandboxed) -> dict:
    """full_marks, except that grading mallory's notebook kills the process (as the OOM killer would)."""
    if parts[0] == "mallory":
        _log("mallory")
        os.kill(os.getpid(), signal.SIGKILL)
    return full_marks(submitted, parts, assignment, limits, sandboxed)


def square_unless_three(number: int) -> int:
    """number ** 2; for 3, kills the process it runs in."""
    if number == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return number ** 2


def _log(student: str) -> None:
    if os.environ.get(LOG):
        with open(os.environ[LOG], "a") as log:
            log.write(f"{student}\n")
