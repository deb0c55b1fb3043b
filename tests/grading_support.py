"""Helpers for tests that grade notebooks: build submissions from an assignment's source and release."""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import nbformat

from course_tools.assignment import Assignment, grade_id, is_answer

REPO = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def deadline(seconds: int):
    """Raises TimeoutError in the block if it runs longer than `seconds` (blocked on a FIFO, say)."""
    def expired(signum, frame):
        raise TimeoutError(f"still running after {seconds} s: blocked")
    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def nbgrader_cell(kind: str, text: str, gid: str, **nbgrader) -> nbformat.NotebookNode:
    """A locked, ungraded nbgrader cell (kind 'code' or 'markdown'); `nbgrader` overrides its metadata,
    e.g. `solution=True, locked=False` or `grade=True, points=2`."""
    meta = {"grade": False, "solution": False, "locked": True, "grade_id": gid,
            "schema_version": 3, "task": False, **nbgrader}
    make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    return make(text, id=gid, metadata={"nbgrader": meta})


ADD_PROBE = "@probe\ndef added(a, b):\n    return add(a, b)\n\n"


def add_exercise(hidden: str = "assert added(-2, 2) == 0") -> nbformat.NotebookNode:
    """A one-exercise assignment: `add`, with a visible test (1 point) and the hidden test `hidden`
    (2 points), whose probe `added(a, b)` calls the learner's add."""
    notebook = nbformat.v4.new_notebook(cells=[
        nbgrader_cell("code", "from course_lib.testing import probe", "imports"),
        nbgrader_cell("code", "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION",
                      "add_solution", solution=True, locked=False),
        nbgrader_cell("code", ADD_PROBE + "assert added(1, 2) == 3", "add_visible", grade=True, points=1),
        nbgrader_cell("code", f"### BEGIN HIDDEN TESTS\n{ADD_PROBE}{hidden}\n### END HIDDEN TESTS",
                      "add_hidden", grade=True, points=2),
    ])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


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
    """Runs the `course-grade` command with --json; returns (exit status, parsed results, stderr).
    The results are its JSON Lines, one object per notebook."""
    env = dict(os.environ, **(extra_env or {}))
    process = subprocess.run(
        [sys.executable, "-m", "course_tools.cli", assignment, *map(str, paths), "--json",
         "--course-dir", str(course_dir)],
        capture_output=True, text=True, env=env)
    return process.returncode, json_lines(process.stdout), process.stderr


def json_lines(text: str) -> list:
    """The values of JSON Lines text (blank lines skipped)."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def by_grade_id(result: dict) -> dict:
    return {test["grade_id"]: test for test in result["tests"]}


def failed(result: dict) -> set:
    return {test["grade_id"] for test in result["tests"] if not test["passed"]}


def exercise_tests(result: dict, exercise: str) -> set:
    """The grade_ids of the tests of one exercise: those starting with its name and '_'."""
    return {test["grade_id"] for test in result["tests"] if test["grade_id"].startswith(exercise + "_")}


def new_course(root: Path, assignments: dict) -> Path:
    """A course directory at `root` with `assignments` ({name: {notebook: NotebookNode}}), released."""
    from course_tools import release

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


def grade_versions(assignment: Assignment, versions: dict, folder: Path) -> dict:
    """Grades several versions of the assignment's notebook in one `course-grade` call.

    Args:
      versions: name -> notebook (e.g. 'reference', 'release', wrong versions from `answered`).

    Returns:
      name -> result.
    """
    notebook = assignment.notebook_names[0]
    paths = [write(content, folder / name / f"{notebook}.ipynb") for name, content in versions.items()]
    status, results, stderr = course_grade(assignment.name, paths, assignment.course_dir)
    assert status == 0, stderr
    return dict(zip(versions, results))


def assert_only_wrong_exercises_lose_points(result: dict, wrong_answers, phrases: dict) -> None:
    """Each exercise whose answer in `wrong_answers` (solution grade_ids) is wrong fails its hidden test
    with a message containing `phrases[exercise]`; every other test passes; the score adds up."""
    wrong_exercises = {gid.removesuffix("_solution") for gid in wrong_answers}
    assert wrong_exercises == set(phrases)
    allowed = set().union(*(exercise_tests(result, name) for name in wrong_exercises))
    assert failed(result) <= allowed, f"tests of correct exercises failed: {failed(result) - allowed}"
    for exercise in wrong_exercises:
        assert f"{exercise}_hidden" in failed(result), f"the hidden test missed the wrong {exercise}"
        messages = " ".join(by_grade_id(result)[gid]["message"]
                            for gid in failed(result) & exercise_tests(result, exercise))
        assert phrases[exercise] in messages, messages
    lost = sum(t["max_points"] for t in result["tests"] if not t["passed"])
    assert result["score"] == result["max_score"] - lost


def leaked_lines(assignment: Assignment) -> list[str]:
    """Lines of the solutions and hidden tests that appear in the release (should be none).

    Only distinctive lines count (over 25 characters), and not those that the notebook also
    shows outside its solution and hidden-test blocks.
    """
    notebook = assignment.notebook_names[0]
    source = "\n".join(c.source for c in assignment.sources[notebook].cells)
    blocks = re.findall(r"### BEGIN (?:SOLUTION|HIDDEN TESTS)\n(.*?)### END (?:SOLUTION|HIDDEN TESTS)", source, re.S)
    public = re.sub(r"### BEGIN (SOLUTION|HIDDEN TESTS).*?### END \1", "", source, flags=re.S)
    released = (assignment.release_dir / f"{notebook}.ipynb").read_text()
    return [line.strip() for block in blocks for line in block.splitlines()
            if len(line.strip()) > 25 and line.strip() not in public
            and json.dumps(line.strip())[1:-1] in released]


def run_test_cell(assignment: Assignment, test_id: str, answer: str, context: str = ""):
    """Runs the setup cell, `context` (code a test relies on, e.g. the notebook's data), `answer` and
    the test cell `test_id` in this process (fast, no kernel), as the learner's notebook runs them;
    returns the error the test raised, or None."""
    source = assignment.sources[assignment.notebook_names[0]]
    setup = next(c.source for c in source.cells if c.cell_type == "code" and "from course_lib import" in c.source)
    test = next(c.source for c in source.cells if grade_id(c) == test_id)
    namespace = {}
    exec(setup, namespace)
    exec(context, namespace)
    exec(answer, namespace)
    try:
        exec(test, namespace)
    except Exception as error:  # the grader reports any error of a test cell as its failure
        return error
    return None


def run_hidden_test(assignment: Assignment, exercise: str, answer: str, context: str = ""):
    """`run_test_cell` for the hidden test of `exercise`."""
    return run_test_cell(assignment, f"{exercise}_hidden", answer, context)
