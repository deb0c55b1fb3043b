"""Cheap stand-ins for the grader (no kernel), for tests of collection and of the worker pool.

They are module-level functions, so that a spawned worker process can run them.
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import time
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


HOLD = "FAKE_GRADING_HOLD"   # if set, a file: mallory's first grading writes its pid there and waits


def runs_the_answer(submitted, parts, assignment, limits, sandboxed) -> dict:
    """A result for the toy `add` assignment (grading_support.add_exercise) without a kernel: runs the
    answer cell's code here (test notebooks only: no sandbox) and applies its two tests, add(1, 2) == 3
    (add_visible, 1 point) and add(-2, 2) == 0 (add_hidden, 2 points). Logs as full_marks does."""
    content = collect.read_regular(submitted, parts)
    _log(parts[0])
    cells = json.loads(content)["cells"]
    answer = next(c for c in cells if c["metadata"].get("nbgrader", {}).get("grade_id") == "add_solution")
    space = {}
    exec("".join(answer["source"]), space)
    passed = {"add_visible": _holds(lambda: space["add"](1, 2) == 3),
              "add_hidden": _holds(lambda: space["add"](-2, 2) == 0)}
    result = result_for(Path(submitted, *parts), assignment)
    for test in result["tests"]:
        test["passed"] = passed[test["grade_id"]]
        test["points"] = test["max_points"] if test["passed"] else 0.0
        test["message"] = "" if test["passed"] else "assertion failed"
    result["score"] = sum(t["points"] for t in result["tests"])
    return dict(result, sha256=hashlib.sha256(content).hexdigest())


def holds_mallory_once(submitted, parts, assignment, limits, sandboxed) -> dict:
    """runs_the_answer, except that the first grading of mallory's notebook writes its process id to
    $FAKE_GRADING_HOLD and then waits (for the test to kill that process); later ones grade at once."""
    hold = os.environ.get(HOLD)
    if parts[0] == "mallory" and hold and not os.path.exists(hold):
        _log("mallory")
        temporary = f"{hold}.{os.getpid()}"
        with open(temporary, "w") as file:
            file.write(str(os.getpid()))
        os.replace(temporary, hold)
        time.sleep(120)
        raise RuntimeError("this process was to be killed while grading mallory's notebook")
    return runs_the_answer(submitted, parts, assignment, limits, sandboxed)


def set_environment(values: dict) -> None:
    """Sets environment variables in this process (run on Dask workers: client.run)."""
    os.environ.update(values)


def _holds(check) -> bool:
    try:
        return bool(check())
    except Exception:
        return False
