"""The ungraded labs: sources with answers in solutions/labs/, released as exercises in notebooks/.

A lab's source holds each exercise's answer in an nbgrader solution region, followed by a plain
check cell (`# Check exercise N`). `make release` (course_tools.labs) writes the learners' lab into
notebooks/ with every region replaced by a stub. These tests run every source top to bottom in a
fresh kernel in a temporary folder; check that the committed releases are what the release makes,
clean, and hold no line of an answer; and run each release with its exercises first as released,
then answered, checking that each exercise's check fails on the stub and passes on the answer.
The Colab badge and set-up cells that `make release` stamps are checked exactly in test_colab.py.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_tools import labs, layout, release, website
from course_tools.assignment import Assignment, AssignmentNotFound
from course_tools.execute import execute_notebook

REPO = Path(__file__).resolve().parent.parent
SOURCES = labs.sources(REPO)
RELEASED = sorted((REPO / "notebooks").glob("*.ipynb"))
EXPECTED_LABS = {"00_why_jax", "01_classes", "02_layers", "03_embedding_mean", "04_grad",
                 "06_jax_ecosystem", "07_other_datasets"}
OPTIONAL_LABS = {"05_data_pipeline"}     # written elsewhere; released like the others when present
LABS_WITH_DATA = {"05_data_pipeline"}    # the labs that may read the tweets (metadata course.needs_data)

EXERCISE_MARK = "# EXERCISE"
CHECK_MARK = "# Check exercise"

# A cell that runs longer than this is a bug: every lab runs in well under a minute.
CELL_TIMEOUT_SECONDS = 120

lab_sources = pytest.mark.parametrize("source", [pytest.param(p, id=p.stem) for p in SOURCES])


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def is_exercise(cell) -> bool:
    return cell.cell_type == "code" and cell.get("metadata", {}).get("nbgrader", {}).get("solution", False)


def solution_lines(source: nbformat.NotebookNode) -> set[str]:
    """The stripped lines between BEGIN and END SOLUTION in the source's cells that are nowhere
    else in the source (a line such as `)` may also close a call outside a region)."""
    lines, outside, inside = set(), set(), False
    for cell in source.cells:
        for line in cell.source.splitlines():
            if "BEGIN SOLUTION" in line:
                inside = True
            elif "END SOLUTION" in line:
                inside = False
            else:
                (lines if inside else outside).add(line.strip())
    return lines - outside - {""}


def errors(cell) -> list[str]:
    return [f"{o.get('ename')}: {o.get('evalue')}" for o in cell.get("outputs", [])
            if o.get("output_type") == "error"]


def test_the_labs_are_in_solutions_labs_and_released_into_notebooks():
    names = {p.stem for p in SOURCES}
    assert EXPECTED_LABS <= names and names <= EXPECTED_LABS | OPTIONAL_LABS
    assert {p.stem for p in RELEASED} == names, "every lab in notebooks/ is released from solutions/labs/"


@lab_sources
@pytest.mark.xdist_group("lab-executions")
def test_lab_source_runs_top_to_bottom_without_errors(source, tmp_path):
    # The site's executor (a fresh kernel in a temporary folder) raises SiteError, naming the cell,
    # if any cell raises; it keeps the executed lab in the session's folder (conftest.SITE_CACHE)
    # for test_site's build. A new folder each session: what it holds ran in this session.
    cache = Path(os.environ.get("COURSE_TESTS_SITE_CACHE") or tmp_path / "site-cache")
    executed = website.execute_lab(source, REPO, cache, log=lambda message: None)

    assert not [e for cell in executed.cells for e in errors(cell)]
    assert all(cell.get("execution_count") for cell in executed.cells if cell.cell_type == "code"
               and cell.source.strip()), "every code cell ran"


@lab_sources
def test_lab_source_is_committed_without_outputs_with_the_python3_kernel(source):
    notebook = read(source)

    dirty = [cell.get("id") for cell in notebook.cells if cell.cell_type == "code"
             and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, f"clear the outputs of cells {dirty}"
    assert notebook.metadata["kernelspec"] == {
        "display_name": "Python 3", "language": "python", "name": "python3"}
    assert notebook.metadata["language_info"]["name"] == "python"
    assert set(notebook.metadata["course"]) == {"needs_data"}         # read by the Colab set-up cell
    assert notebook.metadata["course"]["needs_data"] in ((False, True) if source.stem in LABS_WITH_DATA else (False,))
    ids = [cell.get("id") for cell in notebook.cells]
    assert all(ids) and len(set(ids)) == len(ids), "every cell has its own id"


@lab_sources
def test_every_exercise_is_a_solution_cell_followed_by_its_plain_check_cell(source):
    cells = read(source).cells
    exercises = [i for i, cell in enumerate(cells) if is_exercise(cell)]

    assert exercises
    grade_ids = [cells[index].metadata["nbgrader"].get("grade_id") for index in exercises]
    assert all(grade_ids) and len(set(grade_ids)) == len(grade_ids), "each exercise has its own grade_id"
    for number, index in enumerate(exercises, start=1):
        cell = cells[index]
        assert cell.source.startswith(f"{EXERCISE_MARK} {number}:")
        metadata = cell.metadata["nbgrader"]
        assert (metadata["solution"], metadata["grade"], metadata["schema_version"]) == (True, False, 3)
        assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source
        # The exercise's title (and its def line, if it has one) stays outside the region.
        assert not cell.source.splitlines()[0].strip().startswith("###")
        following = cells[index + 1]
        assert following.cell_type == "code" and "nbgrader" not in following.metadata
        assert following.source.startswith(f"{CHECK_MARK} {number}")
        assert "assert" in following.source
    marked = [i for i, cell in enumerate(cells) if "BEGIN SOLUTION" in cell.source]
    assert marked == exercises, "solution regions only in the exercise cells"


@lab_sources
def test_released_lab_is_what_release_makes_from_its_source(source):
    path = labs.released_path(REPO, source)

    assert path.read_text(encoding="utf-8") == labs.expected_text(source), \
        f"{path.name} is out of date with solutions/labs/{source.name}: run `make release`"
    assert labs.out_of_date(REPO) == []


@lab_sources
def test_released_lab_holds_no_line_of_an_answer_and_no_outputs(source):
    released = read(labs.released_path(REPO, source))
    text = "\n".join(cell.source for cell in released.cells)
    lines = {line.strip() for line in text.splitlines()}

    assert not solution_lines(read(source)) & lines
    assert "SOLUTION" not in text
    assert all(not cell.get("outputs") and cell.get("execution_count") is None
               for cell in released.cells if cell.cell_type == "code")
    assert all("nbgrader" not in cell.metadata for cell in released.cells)
    code = "\n".join(cell.source for cell in released.cells if cell.cell_type == "code").splitlines()
    stubs = [i for i, line in enumerate(code) if line.strip() == "# YOUR CODE HERE"]
    regions = sum(cell.source.count("### BEGIN SOLUTION") for cell in read(source).cells)
    assert len(stubs) == regions, "one stub for each solution region"
    assert all(code[i + 1].strip() == labs.STUB.splitlines()[1] for i in stubs)


@lab_sources
def test_each_check_fails_on_its_stub_and_passes_on_the_answer(source, tmp_path):
    """The released lab with, for each exercise in turn: its stub, its check (which must fail),
    then the source's answer pasted in its place, and its check again (which must pass). The
    other cells are the release's, which are the source's."""
    answered = read(source)
    stubbed = read(labs.released_path(REPO, source))
    assert [c.get("id") for c in stubbed.cells] == [c.get("id") for c in answered.cells]
    for mine, theirs in zip(stubbed.cells, answered.cells):
        if not is_exercise(theirs):
            assert mine.source == theirs.source, f"cell {mine.get('id')} differs from the source's"

    cells, roles = [], []
    for index, (mine, theirs) in enumerate(zip(stubbed.cells, answered.cells)):
        if is_exercise(theirs):
            check = stubbed.cells[index + 1]
            for cell, role in ((mine, "stub"), (check, "check on stub"), (theirs, "answer")):
                cells.append(nbformat.v4.new_code_cell(cell.source))
                roles.append(role)
        else:
            cells.append(nbformat.v4.new_code_cell(mine.source) if mine.cell_type == "code"
                         else nbformat.v4.new_markdown_cell(mine.source))
            roles.append("check" if mine.source.startswith(CHECK_MARK) else "cell")
    notebook = nbformat.v4.new_notebook(cells=cells, metadata=stubbed.metadata)
    path = tmp_path / "interleaved.ipynb"
    nbformat.write(notebook, path)

    executed = execute_notebook(path, tmp_path, timeout=CELL_TIMEOUT_SECONDS, allow_errors=True)

    checks_on_stub = [(cell, role) for cell, role in zip(executed.cells, roles) if role == "check on stub"]
    assert checks_on_stub
    for cell, _ in checks_on_stub:
        failures = errors(cell)
        title = cell.source.splitlines()[0]
        assert failures, f"{title} passes on the stub: it must fail until the learner answers"
        assert not any(f.startswith(("SyntaxError", "IndentationError")) for f in failures), failures
    wrong = {f"{role} {cell.source.splitlines()[0]!r}": errors(cell)
             for cell, role in zip(executed.cells, roles)
             if role in ("answer", "check", "cell") and cell.cell_type == "code" and errors(cell)}
    assert not wrong, "with the answers pasted in, every cell runs and every check passes"


def test_labs_are_not_an_assignment_for_the_course_tools(tmp_path):
    assert layout.LABS not in release.assignments(REPO)
    assert set(release.assignments(REPO)) >= {"layers", "training", "tweet_sentiment"}
    with pytest.raises(AssignmentNotFound, match="No assignment 'labs'") as raised:
        Assignment(layout.LABS, REPO)
    assert str(raised.value).endswith(f"Assignments: {', '.join(release.assignments(REPO))}.")
    with pytest.raises(release.ReleaseError, match="labs' sources"):
        release.generate(tmp_path, [layout.LABS])


def test_nbgrader_own_listing_of_assignments_leaves_the_labs_out():
    # nbgrader's API (formgrader's "Manage Assignments") as configured by the course's
    # nbgrader_config.py, in a process of its own (the config changes nbgrader's class).
    program = """
import sys
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from traitlets.config.loader import PyFileConfigLoader
config = PyFileConfigLoader("nbgrader_config.py", path=sys.argv[1]).load_config()
api = NbGraderAPI(CourseDirectory(root=sys.argv[1], config=config), config=config)
print(sorted(api.get_source_assignments()))
print(sorted(a["name"] for a in api.get_assignments()))
"""
    process = subprocess.run([sys.executable, "-c", program, str(REPO)], cwd=REPO, capture_output=True,
                             text=True, timeout=120)

    assert process.returncode == 0, process.stderr[-2000:]
    listed, assignments = process.stdout.splitlines()[-2:]
    assert listed == assignments == str(release.assignments(REPO))
    assert "labs" not in listed and "tweet_sentiment" in listed


def test_release_writes_the_labs_into_notebooks_and_reports_stale_ones(tmp_path):
    folder = tmp_path / layout.SOURCE / layout.LABS
    folder.mkdir(parents=True)
    source = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# A lab"),
        nbformat.v4.new_code_cell("# EXERCISE 1: add\ndef add(a, b):\n    ### BEGIN SOLUTION\n"
                                  "    return a + b\n    ### END SOLUTION",
                                  metadata={"nbgrader": {"grade": False, "grade_id": "exercise_1",
                                                         "locked": False, "schema_version": 3,
                                                         "solution": True, "task": False}}),
        nbformat.v4.new_code_cell("# Check exercise 1\nassert add(2, 3) == 5", execution_count=3,
                                  outputs=[nbformat.v4.new_output("stream", text="hi")]),
    ])
    nbformat.write(source, folder / "00_toy.ipynb")
    (tmp_path / "notebooks").mkdir()
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "notebooks" / "99_stale.ipynb")

    assert labs.out_of_date(tmp_path) == [
        f"{tmp_path / 'notebooks' / '00_toy.ipynb'} is missing: run `make release`.",
        f"{tmp_path / 'notebooks' / '99_stale.ipynb'} has no source in {folder}: labs are written there "
        "and released with `make release`."]
    assert labs.release(tmp_path) == [tmp_path / "notebooks" / "00_toy.ipynb"]

    released = read(tmp_path / "notebooks" / "00_toy.ipynb")
    assert released.cells[1].source == ("# EXERCISE 1: add\ndef add(a, b):\n    # YOUR CODE HERE\n    "
                                        + labs.STUB.splitlines()[1])
    assert released.cells[2].outputs == [] and released.cells[2].execution_count is None
    assert "nbgrader" not in released.cells[1].metadata
    assert read(folder / "00_toy.ipynb").cells[1].source.count("SOLUTION") == 2   # the source is untouched
    assert len(labs.out_of_date(tmp_path)) == 1      # only the stale one


def test_release_refuses_a_solution_region_outside_a_solution_cell(tmp_path):
    folder = tmp_path / layout.SOURCE / layout.LABS
    folder.mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "### BEGIN SOLUTION\nx = 1\n### END SOLUTION")]), folder / "00_toy.ipynb")

    with pytest.raises(RuntimeError, match="non-solution cell"):
        labs.release(tmp_path)
    assert not (tmp_path / "notebooks" / "00_toy.ipynb").exists()
