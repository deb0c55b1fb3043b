"""An assignment as its source notebooks (with solutions and hidden tests) and its release."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nbformat

from course_tools import layout


@dataclass(frozen=True)
class TestCell:
    """An autograder test cell: it passes when running it raises no error."""
    grade_id: str
    points: float
    notebook: str


class AssignmentNotFound(LookupError):
    """No source folder for the assignment; the message lists the ones there are."""


class Assignment:
    """The source notebooks of `name` in `<course>/solutions/<name>/` and their release.

    Args:
      name: the assignment, e.g. 'tweet_sentiment'.
      course_dir: the course directory (holding solutions/ and assignments/); found
        from the current directory by default.

    Raises:
      AssignmentNotFound: there is no `solutions/<name>/` with notebooks, or `name` is 'labs'
        (solutions/labs/ holds the labs' sources, which are not an assignment).
    """

    def __init__(self, name: str, course_dir=None):
        self.name = name
        self.course_dir = Path(course_dir) if course_dir else layout.course_root()
        self.source_dir = self.course_dir / layout.SOURCE / name
        self.release_dir = self.course_dir / layout.RELEASE / name
        paths = sorted(self.source_dir.glob("*.ipynb")) if name != layout.LABS else []
        if not paths:
            there = sorted(p.name for p in (self.course_dir / layout.SOURCE).glob("*") if layout.is_assignment(p))
            raise AssignmentNotFound(
                f"No assignment '{name}': {self.source_dir} holds no notebook. "
                f"Assignments: {', '.join(there) or 'none'}.")
        self.sources = {p.stem: nbformat.read(p, as_version=4) for p in paths}
        self._releases = {}

    @property
    def notebook_names(self) -> list[str]:
        return list(self.sources)

    def release(self, notebook: str) -> nbformat.NotebookNode:
        """The student version of `notebook`, read from the release directory.

        Raises:
          FileNotFoundError: the release has not been generated, or not since the source
            changed (`make release`).
        """
        if notebook not in self._releases:
            path = self.release_dir / f"{notebook}.ipynb"
            if not path.exists():
                raise FileNotFoundError(f"{path} does not exist: generate the release with `make release`.")
            release = nbformat.read(path, as_version=4)
            if len(release.cells) != len(self.sources[notebook].cells):
                raise FileNotFoundError(f"{path} is out of date with its source: run `make release`.")
            self._releases[notebook] = release
        return self._releases[notebook]

    def tests(self, notebook: str) -> list[TestCell]:
        """The test cells of `notebook`, in order."""
        return [TestCell(grade_id(cell), float(cell.metadata["nbgrader"].get("points", 0)), notebook)
                for cell in self.sources[notebook].cells if is_test(cell)]

    def max_score(self, notebook: str | None = None) -> float:
        names = [notebook] if notebook else self.notebook_names
        return sum(test.points for name in names for test in self.tests(name))


def nbgrader_meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def grade_id(cell) -> str | None:
    value = nbgrader_meta(cell).get("grade_id")
    return value if isinstance(value, str) else None


def is_test(cell) -> bool:
    """An autograder test: a code cell marked grade (and not solution) in nbgrader's metadata."""
    meta = nbgrader_meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def is_answer(cell) -> bool:
    """A cell the learner writes in (nbgrader's solution cell)."""
    return bool(nbgrader_meta(cell).get("solution"))


def is_fixed(cell) -> bool:
    """A cell the instructor owns: read-only (locked) or a test."""
    meta = nbgrader_meta(cell)
    return not is_answer(cell) and (bool(meta.get("locked")) or bool(meta.get("grade")))
