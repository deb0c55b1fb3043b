"""The autograder's bookkeeping when things change or go wrong: stale results, broken jobs, bad input."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import nbformat
import pytest

from course_tools import autograde as autograde_module, colab, gradebook, limits
from course_tools.assignment import Assignment
from course_tools.autograde import Course, NotAllGraded, autograde, grading_key, merge
from course_tools.limits import Limits
from grading_support import REPO, add_exercise, answered, new_course, write

WRONG_ADD = "def add(a, b):\n    return abs(a) + abs(b)"   # passes the visible test, fails add(-2, 2) == 0


def one_exercise(hidden: str = "assert added(-2, 2) == 0") -> nbformat.NotebookNode:
    return add_exercise(hidden)


@pytest.fixture(scope="module")
def two_assignments(tmp_path_factory):
    return new_course(tmp_path_factory.mktemp("course"), {"toy": {"toy": one_exercise()},
                                                          "other": {"other": one_exercise()}})


def quiet():
    return open(os.devnull, "w")


def copy_of(course_dir, tmp_path):
    """A copy of a course to change (faster than releasing a new one)."""
    return Path(shutil.copytree(course_dir, tmp_path / "course"))


def test_a_changed_hidden_test_regrades_unchanged_submissions(two_assignments, tmp_path):
    root = copy_of(two_assignments, tmp_path)
    write(answered(Assignment("toy", root), replace={"add_solution": WRONG_ADD}),
          root / "submitted" / "ada" / "toy" / "toy.ipynb")
    assert [r["score"] for r in autograde(Course(root), jobs=2, sandboxed=False, out=quiet())] == [1.0]

    write(one_exercise(hidden="assert added(2, 2) == 4"), root / "solutions" / "toy" / "toy.ipynb")
    assert [r["score"] for r in autograde(Course(root), sandboxed=False, out=quiet())] == [3.0]
    assert gradebook.scores(root / "gradebook.db", "toy") == {"ada": (3.0, 3.0)}

    log = tmp_path / "log.txt"
    with open(log, "w") as out:
        autograde(Course(root), sandboxed=False, out=out)
    assert "1 notebooks already graded" in log.read_text()


def test_the_grading_key_changes_with_the_limits_and_the_sandbox(two_assignments):
    toy = Assignment("toy", two_assignments)
    key = grading_key(toy, Limits(), sandboxed=True)
    assert key == grading_key(toy, Limits(), sandboxed=True)
    assert key != grading_key(toy, Limits(), sandboxed=False)
    assert key != grading_key(toy, Limits(cell_seconds=10), sandboxed=True)


def course_in(root, tmp_path) -> Course:
    return Course(root, submitted=tmp_path / "submitted", autograded=tmp_path / "autograded",
                  feedback_dir=tmp_path / "feedback", db=tmp_path / "gradebook.db", csv=tmp_path / "grades.csv")


def test_a_missing_release_is_reported_after_grading_the_other_assignments(two_assignments, tmp_path):
    root = copy_of(two_assignments, tmp_path)
    for name in ("toy", "other"):
        write(answered(Assignment(name, root)), tmp_path / "submitted" / "ada" / name / f"{name}.ipynb")
    shutil.rmtree(root / "assignments" / "other")
    course = course_in(root, tmp_path)
    with pytest.raises(NotAllGraded, match="assignment other: .*make release") as raised:
        autograde(course, sandboxed=False, out=quiet())
    assert [(r["assignment"], r["score"]) for r in raised.value.results] == [("toy", 3.0)]
    assert gradebook.scores(course.db, "toy") == {"ada": (3.0, 3.0)}
    assert "ada" in course.csv.read_text()


def test_an_unexpected_error_in_one_job_keeps_the_others_results(two_assignments, tmp_path, monkeypatch):
    toy = Assignment("toy", two_assignments)
    for student in ("ada", "bob", "cyd"):
        write(answered(toy), tmp_path / "submitted" / student / "toy" / "toy.ipynb")
    real = autograde_module.grade_submission

    def broken_for_bob(submitted, parts, *args):
        if parts[0] == "bob":
            raise RuntimeError("disk on fire")
        return real(submitted, parts, *args)

    monkeypatch.setattr(autograde_module, "grade_submission", broken_for_bob)
    course = course_in(two_assignments, tmp_path)
    with pytest.raises(NotAllGraded, match="bob.*RuntimeError: disk on fire"):
        autograde(course, sandboxed=False, out=quiet())
    assert gradebook.scores(course.db, "toy") == {"ada": (3.0, 3.0), "cyd": (3.0, 3.0)}
    assert not (tmp_path / "autograded" / "bob").exists()


def result_for(notebook: str, **changes) -> dict:
    test = {"grade_id": "add_visible", "points": 1, "max_points": 1, "passed": True, "message": ""}
    return {"notebook": notebook, "assignment": "toy", "score": 1, "max_score": 3, "status": "graded",
            "reason": None, "tests": [test], **changes}


@pytest.mark.parametrize("bad, problem", [
    (result_for("toy.ipynb"), "student is unknown"),
    (result_for("submitted/ada/other/toy.ipynb"), "student is unknown"),
    (result_for("submitted/ada/toy/toy.ipynb", tests=["add_visible"]), "not a course-grade test result"),
    (result_for("submitted/ada/toy/toy.ipynb", score=None), "wrong type"),
])
def test_merge_refuses_a_bad_result_and_records_nothing(two_assignments, tmp_path, bad, problem):
    files = [tmp_path / "good.json", tmp_path / "bad.json"]
    files[0].write_text(json.dumps([result_for("submitted/bob/toy/toy.ipynb")]))
    files[1].write_text(json.dumps([bad]))
    course = course_in(two_assignments, tmp_path)
    for student in ("ada", "bob"):
        write(answered(Assignment("toy", two_assignments)), course.submitted / student / "toy" / "toy.ipynb")
    with pytest.raises(ValueError, match=problem):
        merge(course, files, out=quiet())
    assert not course.db.exists() and not course.autograded.exists()


def test_autograde_merge_of_a_non_json_file_says_so_in_one_line(two_assignments, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    status = autograde_module.main(["--merge", str(bad), "--course-dir", str(two_assignments)])
    error = capsys.readouterr().err
    assert status != 0 and f"{bad}: not JSON" in error and len(error.strip().splitlines()) == 1


@pytest.mark.parametrize("jobs", ["auto", "0", "-2"])
def test_a_bad_jobs_value_is_a_clear_error(monkeypatch, capsys, jobs):
    monkeypatch.setenv("JOBS", jobs)
    with pytest.raises(ValueError, match=f"positive whole number, got '{jobs}'"):
        autograde_module.default_jobs()
    with pytest.raises(SystemExit) as exit_:
        autograde_module.main(["--course-dir", "."])
    assert exit_.value.code == 2 and "positive whole number" in capsys.readouterr().err


@pytest.mark.parametrize("line, problem", [
    ('memory_mb = "4096"', "memory_mb must be a positive whole number, got '4096'"),
    ("processes = true", "processes must be a positive whole number, got True"),
    ("file_mb = 1.5", "file_mb must be a positive whole number, got 1.5"),
    ("cell_seconds = 0", "cell_seconds must be a positive number, got 0"),
])
def test_a_limit_that_is_not_a_positive_number_is_refused_naming_it(tmp_path, line, problem):
    (tmp_path / limits.CONFIG_NAME).write_text(f"[assignments.toy]\n{line}\n")
    with pytest.raises(ValueError, match=problem) as raised:
        limits.load(tmp_path, "toy")
    assert str(tmp_path / limits.CONFIG_NAME) in str(raised.value)


def test_limits_accept_whole_and_fractional_seconds(tmp_path):
    (tmp_path / limits.CONFIG_NAME).write_text("[defaults]\ncell_seconds = 2.5\nmemory_mb = 1024\n")
    assert limits.load(tmp_path, "toy") == Limits(cell_seconds=2.5, memory_mb=1024)


def test_colab_settings_without_tool_course_is_a_clear_error(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = []\n')
    with pytest.raises(ValueError, match=r"\[tool.course\] must set repository"):
        colab.settings(tmp_path)


def test_stamping_named_assignments_leaves_the_labs_and_other_sources_alone(tmp_path):
    for folder in ("notebooks", "solutions"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    pyproject = (REPO / "pyproject.toml").read_text()
    (tmp_path / "pyproject.toml").write_text(pyproject.replace('branch = "main"', 'branch = "next"'))
    changed = colab.stamp_course(tmp_path, ["layers"])
    assert changed and {path.parent for path in changed} == {tmp_path / "solutions" / "layers"}
