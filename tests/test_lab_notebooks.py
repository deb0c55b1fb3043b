"""The ungraded lab notebooks in notebooks/: they run top to bottom, and they are committed clean.

Each lab is executed in a fresh kernel in a temporary folder, as a learner would run it. The
committed files must hold no outputs and follow the labs' exercise convention: every exercise
cell (which holds a reference answer) is followed by a check cell. Their first two cells, the
Colab badge and set-up that `make release` stamps, are checked exactly in test_colab.py.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from course_tools.execute import execute_notebook

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
LABS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
EXPECTED_LABS = {
    "00_why_jax.ipynb",
    "01_classes.ipynb",
    "02_layers.ipynb",
    "03_embedding_mean.ipynb",
    "04_grad.ipynb",
    "06_jax_ecosystem.ipynb",
}

EXERCISE_MARK = "# EXERCISE"
CHECK_MARK = "# Check exercise"

# A cell that runs longer than this is a bug: every lab runs in well under a minute.
CELL_TIMEOUT_SECONDS = 120

lab_paths = pytest.mark.parametrize("path", [pytest.param(p, id=p.stem) for p in LABS])


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def test_the_five_labs_are_in_the_notebooks_folder():
    assert EXPECTED_LABS <= {p.name for p in LABS}


@lab_paths
def test_lab_runs_top_to_bottom_without_errors(path, tmp_path):
    # execute_notebook raises CellExecutionError, naming the cell, if any cell raises.
    executed = execute_notebook(path, tmp_path, timeout=CELL_TIMEOUT_SECONDS)

    errors = [f"cell {cell.get('id')}: {output.get('ename')}: {output.get('evalue')}"
              for cell in executed.cells if cell.cell_type == "code"
              for output in cell.get("outputs", []) if output.get("output_type") == "error"]
    assert not errors
    assert all(cell.get("execution_count") for cell in executed.cells if cell.cell_type == "code"
               and cell.source.strip()), "every code cell ran"


@lab_paths
def test_lab_is_committed_without_outputs_or_execution_counts(path):
    dirty = [cell.get("id") for cell in read(path).cells if cell.cell_type == "code"
             and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, f"clear the outputs of cells {dirty}"


@lab_paths
def test_lab_metadata_names_the_python3_kernel_and_needs_no_data(path):
    notebook = read(path)

    assert notebook.metadata["kernelspec"] == {
        "display_name": "Python 3", "language": "python", "name": "python3"}
    assert notebook.metadata["language_info"]["name"] == "python"
    assert notebook.metadata["course"] == {"needs_data": False}
    ids = [cell.get("id") for cell in notebook.cells]
    assert all(ids) and len(set(ids)) == len(ids), "every cell has its own id"


@lab_paths
def test_every_exercise_in_a_lab_is_followed_by_its_check_cell(path):
    cells = read(path).cells
    exercises = [i for i, cell in enumerate(cells)
                 if cell.cell_type == "code" and cell.source.startswith(EXERCISE_MARK)]

    assert 1 <= len(exercises) <= 3
    for number, index in enumerate(exercises, start=1):
        assert cells[index].source.startswith(f"{EXERCISE_MARK} {number}:")
        following = cells[index + 1]
        assert following.cell_type == "code"
        assert following.source.startswith(f"{CHECK_MARK} {number}")
        assert "assert" in following.source
