"""The labs: written with their answers in solutions/labs/, released as exercises into notebooks/.

A lab's source, `solutions/labs/<NN_name>.ipynb`, is in nbgrader's source format: each exercise's
answer lies between `### BEGIN SOLUTION` and `### END SOLUTION` in a cell with nbgrader metadata
(solution: true, grade: false, a grade_id); its hints and its function's `def` line stay outside
the region, and the plain code cell after it (`# Check exercise N`) checks the answer. `make
release` (release.py) writes `notebooks/<NN_name>.ipynb` from it with nbgrader's own
preprocessors: ClearSolutions replaces each region with `STUB` (indented as the region was), and
ClearOutput removes outputs and execution counts; the cells' nbgrader metadata is dropped, since
the labs are not graded. The "Open in Colab" badge and set-up cells are stamped into the source
first (colab.py), with a badge that opens the released lab in notebooks/.

The labs are not an nbgrader assignment: `layout.is_assignment` says which folders of solutions/
are, and everything that lists assignments (release, Assignment, nbgrader's own listing through
nbgrader_config.py, see `nbgrader_settings.hide_labs`) leaves `solutions/labs` out.
"""
from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat
from nbgrader.preprocessors import ClearOutput, ClearSolutions

from course_tools import layout

# What an exercise's answer becomes in the released lab (nbgrader's code stub, with a message).
STUB = ('# YOUR CODE HERE\n'
        'raise NotImplementedError("Exercise: replace these two lines with your answer, then run the check below.")')
SOLUTION = re.compile(r"(BEGIN|END) SOLUTION")


def source_dir(course_dir: Path) -> Path:
    """solutions/labs/ of the course at `course_dir`."""
    return Path(course_dir) / layout.SOURCE / layout.LABS


def sources(course_dir: Path) -> list[Path]:
    """The labs' source notebooks, solutions/labs/*.ipynb, sorted by name."""
    return sorted(source_dir(course_dir).glob("*.ipynb"))


def released_path(course_dir: Path, source: Path) -> Path:
    """Where the lab of `source` is released: notebooks/<its name>."""
    return Path(course_dir) / layout.LAB_RELEASE / Path(source).name


def public_path(source: Path) -> str:
    """The released lab's path in the course's repository, which its Colab badge opens."""
    return f"{layout.LAB_RELEASE}/{Path(source).name}"


def release_notebook(source: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The learners' version of a lab source: solution regions replaced by `STUB`, no outputs or
    execution counts, no nbgrader cell metadata. `source` is left unchanged.

    Raises:
      RuntimeError: from nbgrader's ClearSolutions: a solution region lies in a cell without
        nbgrader solution metadata, or a region is nested or not closed.
    """
    notebook = copy.deepcopy(source)
    resources = {}
    notebook, resources = ClearSolutions(code_stub={"python": STUB}).preprocess(notebook, resources)
    notebook, resources = ClearOutput().preprocess(notebook, resources)
    for cell in notebook.cells:
        cell.metadata.pop("nbgrader", None)
    return notebook


def expected_text(source_path: Path) -> str:
    """The exact text of the released lab that `source_path` gives (what `release` writes)."""
    text = nbformat.writes(release_notebook(nbformat.read(source_path, as_version=4)))
    return text if text.endswith("\n") else text + "\n"     # as nbformat.write writes it


def release(course_dir: Path) -> list[Path]:
    """Writes notebooks/<name>.ipynb for every source in solutions/labs/; returns the written paths.

    Raises:
      RuntimeError: a source's solution regions are malformed (see `release_notebook`), or a
        released lab would still hold a solution marker.
    """
    written = []
    for source in sources(course_dir):
        text = expected_text(source)
        if SOLUTION.search(text):
            raise RuntimeError(f"{source}: its release still holds a solution marker; put every "
                               "### BEGIN SOLUTION / ### END SOLUTION pair in one code cell.")
        path = released_path(course_dir, source)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def out_of_date(course_dir: Path) -> list[str]:
    """What is wrong with the released labs: a lab in notebooks/ that differs from what its source
    releases, or is missing, or has no source in solutions/labs/ ([] when all is well)."""
    problems = []
    names = set()
    for source in sources(course_dir):
        path = released_path(course_dir, source)
        names.add(path.name)
        if not path.exists():
            problems.append(f"{path} is missing: run `make release`.")
        elif path.read_text(encoding="utf-8") != expected_text(source):
            problems.append(f"{path} is out of date with {source}: run `make release`.")
    for path in sorted((Path(course_dir) / layout.LAB_RELEASE).glob("*.ipynb")):
        if path.name not in names:
            problems.append(f"{path} has no source in {source_dir(course_dir)}: labs are written "
                            "there and released with `make release`.")
    return problems
