"""The grader on a small assignment: reading, reconciling, running and scoring notebooks."""
from __future__ import annotations

import csv
import json
import os
import sys
import time
from pathlib import Path

import nbformat
import pytest

from course_tools import execute, gradebook, judge, sandbox
from course_tools.assignment import Assignment
from course_tools.autograde import Course, autograde, merge
from course_tools.limits import Limits
from course_tools.grade import grade_notebook
from course_tools.notebooks import Ungradable, read_submission
from grading_support import answered, by_grade_id, course_grade, failed, nbgrader_cell, new_course, write

PROBE_ADD = "@probe\ndef add_result(a, b):\n    return add(a, b)\n"
HIDDEN_ADD = PROBE_ADD + "assert add_result(-2, 2) == 0, 'add(-2, 2) should be 0'"
PROBE_HALVE = "@probe\ndef halved(x):\n    return halve(x)\n"


def toy_source():
    """Two exercises, `add` (1 + 2 points) and `halve` (1 + 1 points), with visible and hidden tests."""
    cells = [
        nbgrader_cell("markdown", "# Toy assignment", "intro"),
        nbgrader_cell("code", "import random\nimport numpy as np\nfrom course_lib.testing import probe", "imports"),
        nbgrader_cell("code", "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION",
              "add_solution", solution=True, locked=False),
        nbgrader_cell("code", PROBE_ADD + "assert add_result(1, 2) == 3, 'add(1, 2) should be 3'", "add_visible",
                      grade=True, points=1),
        nbgrader_cell("code", f"# hidden tests\n### BEGIN HIDDEN TESTS\n{HIDDEN_ADD}\n### END HIDDEN TESTS",
              "add_hidden", grade=True, points=2),
        nbgrader_cell("code", "def halve(x):\n    ### BEGIN SOLUTION\n    return x / 2\n    ### END SOLUTION",
              "halve_solution", solution=True, locked=False),
        nbgrader_cell("code", PROBE_HALVE + "assert halved(4) == 2", "halve_visible", grade=True, points=1),
        nbgrader_cell("code", "### BEGIN HIDDEN TESTS\n" + PROBE_HALVE + "assert halved(-3) == -1.5, 'halve(-3) should be -1.5'\n"
                      "### END HIDDEN TESTS", "halve_hidden", grade=True, points=1),
    ]
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = new_course(tmp_path_factory.mktemp("course"), {"toy": {"toy": toy_source()}})
    return Assignment("toy", root)


def grade(toy, notebook, tmp_path, name="toy.ipynb", limits=None):
    return grade_notebook(write(notebook, tmp_path / name), toy, limits)


def test_release_has_no_solution_code_or_hidden_tests(toy):
    text = (toy.release_dir / "toy.ipynb").read_text()
    assert "return a + b" not in text and HIDDEN_ADD not in text
    assert "raise NotImplementedError()" in text


def test_reference_scores_full_marks_and_release_zero(toy, tmp_path):
    reference = grade(toy, toy.sources["toy"], tmp_path, "reference.ipynb")
    release = grade(toy, toy.release("toy"), tmp_path, "release.ipynb")
    assert (reference["score"], reference["max_score"]) == (5.0, 5.0)
    assert (release["score"], release["status"]) == (0.0, "graded")
    assert "NotImplementedError" in by_grade_id(release)["add_hidden"]["message"]


def test_a_wrong_answer_loses_exactly_its_exercises_failing_tests(toy, tmp_path):
    wrong = answered(toy, replace={"add_solution": "def add(a, b):\n    return abs(a) + abs(b)"})
    result = grade(toy, wrong, tmp_path)
    assert failed(result) == {"add_hidden"}
    assert result["score"] == 3.0
    assert by_grade_id(result)["add_hidden"]["message"] == "AssertionError: add(-2, 2) should be 0"


def test_edited_test_cells_are_replaced_by_the_instructors(toy, tmp_path):
    cheat = answered(toy, replace={"add_solution": "def add(a, b):\n    return 1"})
    for cell in cheat.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.source = "pass"
    result = grade(toy, cheat, tmp_path)
    assert failed(result) == {"add_visible", "add_hidden"}


def test_deleted_duplicated_and_reordered_test_cells_each_run_once(toy, tmp_path):
    notebook = answered(toy)
    tests = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade")]
    others = [c for c in notebook.cells if not c.metadata.get("nbgrader", {}).get("grade")]
    # No test cells at all, then the visible tests twice, in reverse order, at the top.
    copies = [nbformat.from_dict(dict(c, id=f"copy-{i}")) for i, c in enumerate(tests)]
    notebook.cells = list(reversed(tests)) + copies + others
    notebook.cells = [c for c in notebook.cells if c.metadata["nbgrader"]["grade_id"] != "halve_hidden"]
    result = grade(toy, notebook, tmp_path)
    assert result["score"] == 5.0 and len(result["tests"]) == 4


def test_a_deleted_hidden_test_is_still_run(toy, tmp_path):
    wrong = answered(toy, replace={"halve_solution": "def halve(x):\n    return x // 2"})
    wrong.cells = [c for c in wrong.cells if c.metadata["nbgrader"]["grade_id"] != "halve_hidden"]
    result = grade(toy, wrong, tmp_path)
    assert failed(result) == {"halve_hidden"}


def test_a_notebook_without_nbgrader_metadata_is_matched_back_to_the_release(toy, tmp_path):
    # As after editing in another tool: no nbgrader metadata, no cell ids.
    stripped = answered(toy, replace={"halve_solution": "def halve(x):\n    return x * 0.5 + 0"})
    content = json.loads(nbformat.writes(stripped))
    for cell in content["cells"]:
        cell.pop("id", None)
        cell["metadata"] = {}
    content["nbformat_minor"] = 4
    path = tmp_path / "stripped.ipynb"
    path.write_text(json.dumps(content))
    result = grade_notebook(path, toy)
    assert result["score"] == 5.0, result


def test_cells_the_learner_added_run_where_they_were(toy, tmp_path):
    notebook = answered(toy, replace={"add_solution": "def add(a, b):\n    return plus(a, b)"})
    position = next(i for i, c in enumerate(notebook.cells)
                    if c.metadata.get("nbgrader", {}).get("grade_id") == "add_solution")
    notebook.cells.insert(position, nbformat.v4.new_code_cell("def plus(a, b):\n    return a + b"))
    result = grade(toy, notebook, tmp_path)
    assert result["score"] == 5.0


def test_a_missing_answer_cell_is_graded_as_not_answered(toy, tmp_path):
    notebook = answered(toy)
    notebook.cells = [c for c in notebook.cells if c.metadata["nbgrader"]["grade_id"] != "halve_solution"]
    result = grade(toy, notebook, tmp_path)
    assert failed(result) == {"halve_visible", "halve_hidden"}
    assert "halve_solution" in result["reason"]


@pytest.mark.parametrize("content, reason", [
    (b"", "empty"),
    (b"{not json", "not valid JSON"),
    (b'{"cells": "nope"}', "no list of cells"),
    (b'{"nbformat": 3, "worksheets": []}', "format 3"),
    (b'{"nbformat": 5, "cells": []}', "format 5"),
])
def test_unreadable_files_are_ungradable_with_the_reason(toy, tmp_path, content, reason):
    path = tmp_path / "broken.ipynb"
    path.write_bytes(content)
    with pytest.raises(Ungradable, match=reason):
        read_submission(path)
    result = grade_notebook(path, toy)
    assert result["status"] == "ungradable" and reason in result["reason"]
    assert result["score"] == 0 and result["max_score"] == 5.0
    assert all(not t["passed"] and t["message"].startswith("not graded:") for t in result["tests"])


def test_an_endless_loop_fails_its_exercise_and_the_rest_is_graded(toy, tmp_path):
    endless = answered(toy, replace={"add_solution": "def add(a, b):\n    while True:\n        pass"})
    result = grade(toy, endless, tmp_path, limits=Limits(cell_seconds=3, notebook_seconds=60))
    assert failed(result) == {"add_visible", "add_hidden"}
    assert "TimeoutError" in by_grade_id(result)["add_visible"]["message"]


def test_a_kernel_that_dies_keeps_the_points_of_the_tests_before(toy, tmp_path):
    dying = answered(toy, replace={"halve_solution": "import os\nos._exit(3)"})
    result = grade(toy, dying, tmp_path)
    assert result["score"] == 3.0
    assert failed(result) == {"halve_visible", "halve_hidden"}
    assert "kernel died" in result["reason"]
    assert by_grade_id(result)["halve_visible"]["message"].startswith("not run:")


def test_grading_twice_gives_the_same_score(toy, tmp_path):
    lucky = answered(toy, replace={"add_solution": (
        "def add(a, b):\n    return a + b + (random.random() < 0.5) + (np.random.rand() < 0.5)")})
    first, second = grade(toy, lucky, tmp_path), grade(toy, lucky, tmp_path)
    assert first["tests"] == second["tests"]


def test_course_grade_prints_the_json_results_and_exits_0_whatever_the_score(toy, tmp_path):
    reference = write(toy.sources["toy"], tmp_path / "a.ipynb")
    empty = tmp_path / "b.ipynb"
    empty.write_text("")
    status, results, _ = course_grade("toy", [reference, empty], toy.course_dir)
    assert status == 0
    assert [set(r) - {"seconds"} for r in results] == [
        {"notebook", "assignment", "score", "max_score", "status", "reason", "tests"}] * 2
    assert "seconds" in results[0]             # where a graded notebook's time went
    assert [(r["score"], r["status"]) for r in results] == [(5.0, "graded"), (0.0, "ungradable")]
    assert set(results[0]["tests"][0]) == {"grade_id", "points", "max_points", "passed", "message"}


def test_course_grade_exits_2_for_an_unknown_assignment(toy, tmp_path):
    status, _, stderr = course_grade("nope", [tmp_path / "a.ipynb"], toy.course_dir)
    assert status == 2 and "No assignment 'nope'" in stderr and "toy" in stderr


def test_autograde_fills_the_gradebook_and_exports_csv(toy, tmp_path):
    submitted = tmp_path / "submitted"
    write(toy.sources["toy"], submitted / "ada" / "toy" / "toy.ipynb")
    write(answered(toy, answer={"add_solution"}), submitted / "bob" / "toy" / "toy.ipynb")
    (submitted / "cyd" / "toy").mkdir(parents=True)
    (submitted / "cyd" / "toy" / "toy.ipynb").write_text("{")
    db, csv_path = tmp_path / "gradebook.db", tmp_path / "grades.csv"
    course = Course(toy.course_dir, submitted=submitted, autograded=tmp_path / "autograded",
                    feedback_dir=tmp_path / "feedback", db=db, csv=csv_path)
    autograde(course, out=open(os.devnull, "w"))
    assert gradebook.scores(db, "toy") == {"ada": (5.0, 5.0), "bob": (3.0, 5.0), "cyd": (0.0, 5.0)}
    rows = {row["student_id"]: row for row in csv.DictReader(open(csv_path))}
    assert {s: float(r["score"]) for s, r in rows.items()} == {"ada": 5.0, "bob": 3.0, "cyd": 0.0}
    saved = json.loads((tmp_path / "autograded" / "bob" / "toy" / "toy.json").read_text())
    assert saved["score"] == 3.0


def test_results_graded_elsewhere_are_merged_into_the_gradebook(toy, tmp_path):
    # The unit of work, as a batch system would run it: one notebook in, one JSON result out.
    submitted = tmp_path / "submitted"
    files = []
    for student, notebook in (("ada", toy.sources["toy"]), ("bob", answered(toy, answer={"add_solution"}))):
        path = write(notebook, submitted / student / "toy" / "toy.ipynb")
        status, results, stderr = course_grade("toy", [path], toy.course_dir)
        assert status == 0, stderr
        files.append(tmp_path / f"{student}.json")
        files[-1].write_text(json.dumps(results))
    course = Course(toy.course_dir, submitted=submitted, autograded=tmp_path / "autograded",
                    feedback_dir=tmp_path / "feedback", db=tmp_path / "gradebook.db", csv=tmp_path / "grades.csv")
    merge(course, files, out=open(os.devnull, "w"))
    assert gradebook.scores(course.db, "toy") == {"ada": (5.0, 5.0), "bob": (3.0, 5.0)}
    assert (tmp_path / "feedback" / "bob" / "toy" / "toy.html").exists()
    assert json.loads((tmp_path / "autograded" / "bob" / "toy" / "toy.json").read_text())["score"] == 3.0
    assert "bob" in (tmp_path / "grades.csv").read_text()


def test_a_malformed_result_is_refused_before_anything_is_recorded(toy, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"notebook": "x/submitted/eve/toy/toy.ipynb", "assignment": "toy", "score": 99,
                                "max_score": 5, "status": "graded", "reason": None,
                                "tests": [{"grade_id": "add_visible", "points": 99, "max_points": 1,
                                           "passed": True, "message": ""}]}]))
    course = Course(toy.course_dir, db=tmp_path / "gradebook.db", autograded=tmp_path / "a",
                    feedback_dir=tmp_path / "f", csv=tmp_path / "g.csv")
    with pytest.raises(ValueError, match="points out of range"):
        merge(course, [bad], out=open(os.devnull, "w"))
    assert not (tmp_path / "gradebook.db").exists() and not (tmp_path / "a").exists()


def _processes_mentioning(marker: str) -> list[int]:
    """The processes whose command line or environment mention `marker` (a unique path)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if any(marker.encode() in (proc / part).read_bytes() for part in ("cmdline", "environ")):
                found.append(int(proc.name))
        except OSError:
            pass
    return found


@pytest.mark.parametrize("sandboxed", [True, False])
def test_the_kernel_is_shut_down_when_the_cells_have_run(tmp_path, sandboxed):
    data_dir = tmp_path / "data-for-this-run-only"
    data_dir.mkdir()
    run = execute.run_cells(["x = 1"], sandboxed=sandboxed, data_dir=data_dir)
    assert run.finished == 1 and not run.errors
    deadline = time.monotonic() + 5
    while _processes_mentioning(str(data_dir.resolve())) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_mentioning(str(data_dir.resolve())) == []


@pytest.mark.parametrize("preamble", ["import time\ntime.sleep(30)", "import os\nos._exit(3)",
                                      "raise ValueError('broken grader')"])
def test_a_preamble_that_fails_is_the_graders_error_not_the_learners(monkeypatch, preamble):
    monkeypatch.setattr(execute, "preamble", lambda *args: preamble)
    monkeypatch.setattr(execute, "PREAMBLE_SECONDS", 2)
    with pytest.raises(execute.GraderError, match="preamble"):
        execute.run_cells(["x = 1"], limits=Limits(cell_seconds=2), sandboxed=False)


def test_the_notebook_time_limit_starts_after_the_graders_preamble(monkeypatch):
    monkeypatch.setattr(execute, "preamble", lambda *args: "import time\ntime.sleep(4)")
    run = execute.run_cells(["x = 1", "y = 2"], limits=Limits(notebook_seconds=3), sandboxed=False)
    assert run.stopped is None and run.finished == 2 and not run.errors


def test_a_chatty_cell_does_not_make_the_tests_after_it_fail():
    chatty = "while True:\n    print('x' * 2000)"
    quiet = judge.split("quiet", "@probe\ndef chat():\n    print('y' * 6000)\n    return 1\nassert chat() == 1")
    run = execute.run_cells([chatty, "", ""], tests={1: quiet, 2: quiet}, sandboxed=False,
                            limits=Limits(output_kb=8, cell_seconds=20))
    assert run.errors[0].startswith("OutputLimitError")
    assert 1 not in run.errors and 2 not in run.errors      # each test has an output budget of its own
    assert run.limits_hit == ["a cell was stopped at the output limit (8 KiB)"]


def test_a_learners_error_that_names_a_limit_is_no_limit_note():
    run = execute.run_cells(["raise ValueError('MemoryError, limit of processes, File too large')",
                             "raise MemoryError()"], sandboxed=False)
    assert run.errors[0].startswith("ValueError: MemoryError")
    assert run.errors[1].startswith("MemoryError")
    assert run.limits_hit == [f"a cell ran out of the memory limit ({Limits().memory_mb} MiB)"]


def test_kernels_get_the_same_settings_with_or_without_the_sandbox():
    for env in (execute.kernel_env(), sandbox.kernel_environment(None)):
        assert env.items() >= sandbox.KERNEL_SETTINGS.items()
        assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)



def test_stale_leftovers_are_looked_for_once_per_process(monkeypatch):
    calls = []
    monkeypatch.setattr(sandbox, "_remove_stale", lambda: calls.append(1))
    sandbox._remove_stale_once.cache_clear()
    try:
        sandbox._remove_stale_once()
        sandbox._remove_stale_once()
    finally:
        sandbox._remove_stale_once.cache_clear()
    assert calls == [1]


def test_only_directories_that_look_like_a_sandboxs_are_removed_as_stale(tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox.tempfile, "gettempdir", lambda: str(tmp_path))
    ours, theirs = tmp_path / "cg-ours", tmp_path / "cg-theirs"
    for folder in (ours / "ipc", ours / "scratch", theirs / "scratch"):
        folder.mkdir(parents=True)
    for folder in (ours, theirs):
        os.utime(folder, (time.time() - sandbox.STALE_AFTER_SECONDS - 60,) * 2)
    sandbox._remove_stale()
    assert not ours.exists() and theirs.exists()


def test_a_result_says_where_its_grading_time_went(toy, tmp_path):
    started = time.monotonic()
    result = grade(toy, toy.sources["toy"], tmp_path, "reference.ipynb")
    wall = time.monotonic() - started
    parts = result["seconds"]
    assert set(parts) == {"kernel_start", "preamble", "cells", "tests"}
    assert all(seconds > 0 for seconds in parts.values()), parts
    assert sum(parts.values()) <= wall


def test_a_test_still_judging_when_the_notebook_runs_out_of_time_fails_and_stops_the_run():
    """A probe called after the notebook's time is up stops the run: that test fails (reaching it does
    not count as passing), and the tests after it are not run."""
    slow = judge.split("slow", "@probe\ndef one():\n    return 1\n\n"
                               "assert one() == 1\nimport time\ntime.sleep(3.5)\nassert one() == 1")
    run = execute.run_cells(["", ""], tests={0: slow, 1: slow}, sandboxed=False,
                            limits=Limits(notebook_seconds=3, cell_seconds=20))
    assert run.errors[0] == "not finished: the notebook ran out of its 3 s time limit"
    assert run.finished == 1 and run.stopped == "the notebook ran out of its 3 s time limit"


def test_a_timed_out_cell_says_its_own_time_limit():
    run = execute.run_cells(["import time\ntime.sleep(30)"], sandboxed=False, limits=Limits(cell_seconds=2))
    assert run.errors[0].startswith("TimeoutError: the cell ran longer than 2 s")
