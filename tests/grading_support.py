"""Helpers for tests that grade notebooks: build submissions from an assignment's source and release."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from course_lib.grading.assignment import Assignment, grade_id, is_answer

REPO = Path(__file__).resolve().parents[1]


def answered(assignment: Assignment, notebook: str | None = None, replace: dict | None = None,
             answer: set | None = None) -> nbformat.NotebookNode:
    """The release notebook with answers filled in, as a learner would submit it.

    Args:
      replace: solution grade_id -> code to put in that answer cell instead (a wrong version).
      answer: the solution grade_ids to answer with the reference solution (all by default);
        the others keep the release's stub.
    """
    notebook = notebook or assignment.notebook_names[0]
    source, submission = assignment.sources[notebook], nbformat.from_dict(assignment.release(notebook))
    replace = replace or {}
    unknown = set(replace) - {grade_id(c) for c in source.cells if is_answer(c)}
    assert not unknown, f"no answer cells {unknown} in {notebook}"
    for index, cell in enumerate(source.cells):
        gid = grade_id(cell)
        if not is_answer(cell):
            continue
        if gid in replace:
            submission.cells[index].source = replace[gid]
        elif answer is None or gid in answer:
            submission.cells[index].source = cell.source
    return submission


def write(notebook, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


def course_grade(assignment: str, paths, course_dir: Path = REPO, extra_env=None):
    """Runs the `course-grade` command with --json; returns (exit status, parsed results, stderr)."""
    env = dict(os.environ, **(extra_env or {}))
    process = subprocess.run(
        [sys.executable, "-m", "course_lib.grading.cli", assignment, *map(str, paths), "--json",
         "--course-dir", str(course_dir)],
        capture_output=True, text=True, env=env)
    results = json.loads(process.stdout) if process.returncode == 0 else None
    return process.returncode, results, process.stderr


def by_grade_id(result: dict) -> dict:
    return {test["grade_id"]: test for test in result["tests"]}


def failed(result: dict) -> set:
    return {test["grade_id"] for test in result["tests"] if not test["passed"]}


def exercise_tests(result: dict, exercise: str) -> set:
    """The grade_ids of the tests of one exercise: those starting with its name and '_'."""
    return {test["grade_id"] for test in result["tests"] if test["grade_id"].startswith(exercise + "_")}


def new_course(root: Path, assignments: dict) -> Path:
    """A course directory at `root` with `assignments` ({name: {notebook: NotebookNode}}), released."""
    from course_lib.grading import release

    shutil.copy(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    for name, notebooks in assignments.items():
        for notebook, content in notebooks.items():
            write(content, root / "solutions" / name / f"{notebook}.ipynb")
    release.generate(root)
    return root


def as_downloaded_from_colab(notebook) -> str:
    """The notebook as Colab's File > Download .ipynb writes it: format 4.0, no cell ids, Colab's
    own metadata instead of Jupyter's (the nbgrader metadata is gone), outputs kept."""
    content = json.loads(nbformat.writes(notebook))
    content["nbformat_minor"] = 0
    content["metadata"] = {"colab": {"provenance": []}, "accelerator": "GPU",
                           "kernelspec": {"name": "python3", "display_name": "Python 3"},
                           "language_info": {"name": "python"}}
    for number, cell in enumerate(content["cells"]):
        cell.pop("id", None)
        cell["metadata"] = {"id": f"colab{number:04d}"}
        if cell["cell_type"] == "code":
            cell["execution_count"] = number
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["ran in Colab\n"]}]
    return json.dumps(content, indent=1)
