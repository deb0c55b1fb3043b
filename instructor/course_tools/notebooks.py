"""Reading a submitted notebook safely, and rebuilding it on the assignment's source cells.

A learner's notebook is not trusted: it may not be JSON, may be an old format,
may have test cells edited, deleted, duplicated or reordered, or may have lost
its nbgrader metadata (after editing in another tool). `reconcile` builds the
notebook that is actually run: the source notebook's cells, in the source's
order, with

  - the learner's code in the answer (solution) cells,
  - the instructor's version of every read-only and test cell, hidden tests included,
  - the learner's own extra code cells, after the cell they followed.

So every test runs exactly once, as the instructor wrote it.
"""
from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course_tools.assignment import grade_id, is_answer, is_fixed, is_test
from course_lib.testing import WireError, check_depth


class Ungradable(Exception):
    """The file cannot be graded; `reason` says why, for the learner."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


MAX_BYTES = 64 * 1024 * 1024   # a submitted notebook's size (outputs included)
MAX_DEPTH = 200                 # nesting of its JSON (a notebook's own is under 10)


def read_submission(path: Path, content: bytes | None = None) -> nbformat.NotebookNode:
    """Reads a submitted notebook, refusing what cannot be graded.

    `content`: the file's bytes, when the caller has read them already (collect.read_regular reads
    without following links); else `path` is read.

    Only what grading uses is kept: each cell's type, source (lone surrogates replaced), id and
    nbgrader metadata; everything else (outputs, other metadata) is dropped unread.

    Raises:
      Ungradable: the file is missing, empty, larger than MAX_BYTES, not JSON (or nested deeper
        than MAX_DEPTH), not a notebook, or not nbformat 4.
    """
    if content is not None:
        raw = content
    else:
        try:
            with open(path, "rb") as file:
                raw = file.read(MAX_BYTES + 1)
        except OSError as error:
            raise Ungradable(f"cannot read the file: {error.strerror or error}") from None
    if len(raw) > MAX_BYTES:
        raise Ungradable(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MiB: clear its outputs and save it again")
    if not raw.strip():
        raise Ungradable("the file is empty")
    try:
        text = raw.decode("utf-8-sig")
        check_depth(text, MAX_DEPTH)
        content = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError, WireError) as error:
        raise Ungradable(f"the file is not a notebook: it is not valid JSON ({str(error)[:200]})") from None
    if not isinstance(content, dict) or not isinstance(content.get("cells", content.get("worksheets")), list):
        raise Ungradable("the file is not a notebook: it has no list of cells")
    version = content.get("nbformat")
    if version != 4:
        raise Ungradable(
            f"the notebook is in format {version!r}; only format 4 (Jupyter, Colab) can be graded: "
            "open it in Jupyter and save it again")
    cells = []
    for cell in content["cells"]:
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            continue  # a damaged cell is skipped; the tests it would have held come from the source
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(line, str) for line in source):
            source = "".join(source)
        if not isinstance(source, str):
            continue
        source = source.encode("utf-8", "replace").decode("utf-8")  # lone surrogates
        metadata = _nbgrader_only(cell.get("metadata"))
        cell_id = cell.get("id") if isinstance(cell.get("id"), str) and len(cell.get("id")) <= 64 else None
        cells.append(nbformat.from_dict(
            {"cell_type": cell["cell_type"], "source": source, "metadata": metadata, "id": cell_id}))
    return nbformat.from_dict({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


_NBGRADER_KEYS = {"grade_id": str, "grade": bool, "solution": bool, "locked": bool, "task": bool,
                  "points": (int, float), "schema_version": int}


def _nbgrader_only(metadata) -> dict:
    """A cell's nbgrader metadata, its known keys of the right types only (the rest is the learner's)."""
    nbgrader = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    if not isinstance(nbgrader, dict):
        return {}
    kept = {key: value for key, value in nbgrader.items()
            if key in _NBGRADER_KEYS and isinstance(value, _NBGRADER_KEYS[key])}
    if isinstance(kept.get("grade_id"), str):
        kept["grade_id"] = kept["grade_id"][:200]
    return {"nbgrader": kept}


@dataclass
class Rebuilt:
    """The notebook to run, with what reconciling found."""
    cells: list[str]                       # code of each cell to run, in order
    test_index: dict[str, int]             # grade_id of each test -> its index in `cells`
    notes: list[str] = field(default_factory=list)


def reconcile(submission, source, release) -> Rebuilt:
    """Rebuilds `submission` on the cells of `source` (see the module's docstring).

    Args:
      submission: the learner's notebook (from `read_submission`).
      source: the assignment's source notebook (solutions and hidden tests).
      release: the student version of `source`, to recognize cells whose metadata was lost.
    """
    matches = _match(submission.cells, source.cells, release.cells)
    learner_for = {}                                   # source index -> learner cells matched to it
    extras_after = {}                                  # source index -> learner cells added after it
    anchor = -1
    for position, cell in enumerate(submission.cells):
        target = matches.get(position)
        if target is not None:
            learner_for.setdefault(target, []).append(cell)
            anchor = target
        elif cell.cell_type == "code" and cell.source.strip():
            extras_after.setdefault(anchor, []).append(cell)

    rebuilt = Rebuilt(cells=[], test_index={})
    for cell in extras_after.get(-1, []):
        rebuilt.cells.append(cell.source)
    for index, cell in enumerate(source.cells):
        if cell.cell_type == "code":
            if is_answer(cell):
                answers = learner_for.get(index)
                if not answers:
                    rebuilt.notes.append(f"answer cell '{grade_id(cell)}' is missing: graded as not answered")
                    answers = [release.cells[index]]
                rebuilt.cells.extend(answer.source for answer in answers)
            elif is_fixed(cell):
                if is_test(cell):
                    rebuilt.test_index[grade_id(cell)] = len(rebuilt.cells)
                rebuilt.cells.append(cell.source)
            elif learner_for.get(index):  # a free cell: the learner's version, else the release's
                rebuilt.cells.extend(c.source for c in learner_for[index])
            else:
                rebuilt.cells.append(release.cells[index].source)
        for extra in extras_after.get(index, []):
            rebuilt.cells.append(extra.source)
    return rebuilt


def _match(learner, source, release) -> dict[int, int]:
    """Maps learner cell positions to source cell indices.

    In order of confidence: the nbgrader grade_id; the cell id (Jupyter keeps it);
    for cells that lost both, the exact text of a read-only or free cell of the
    release; and for answer cells, the learner code cell most like the release's stub.
    """
    by_grade_id = {grade_id(c): i for i, c in enumerate(source) if grade_id(c)}
    by_cell_id = {c.get("id"): i for i, c in enumerate(release) if c.get("id")}
    by_text = {}
    for i, c in enumerate(release):
        if i < len(source) and not is_answer(source[i]) and c.source.strip():
            by_text.setdefault(_normalize(c.source), i)
    matches = {}
    for position, cell in enumerate(learner):
        index = by_grade_id.get(grade_id(cell))
        if index is None or source[index].cell_type != cell.cell_type:
            index = by_cell_id.get(cell.get("id"))
        if index is None or source[index].cell_type != cell.cell_type:
            index = by_text.get(_normalize(cell.source))
        if index is not None and index < len(source) and source[index].cell_type == cell.cell_type:
            matches[position] = index

    answered = set(matches.values())
    for index, cell in enumerate(source):
        if not is_answer(cell) or index in answered or index >= len(release):
            continue
        stub = release[index].source
        candidates = [p for p, c in enumerate(learner)
                      if p not in matches and c.cell_type == "code" and c.source.strip()]
        scored = [(_likeness(stub, learner[p].source), p) for p in candidates]
        best = max(scored, default=(0.0, None))
        if best[0] >= 0.5:
            matches[best[1]] = index
    return matches


def _normalize(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def _likeness(stub: str, text: str) -> float:
    """How much `text` looks like a filled-in `stub`: 1.0 if it starts with the stub's first line."""
    first = stub.strip().splitlines()[0] if stub.strip() else ""
    if first and text.strip().startswith(first):
        return 1.0
    return difflib.SequenceMatcher(None, stub, text).quick_ratio() * 0.9
