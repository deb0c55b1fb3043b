"""The autograded notebook, where nbgrader's formgrader looks for it:
autograded/<student>/<assignment>/<notebook>.ipynb (next to the kit's result, <notebook>.json).

It is the learner's notebook rebuilt on the source notebook's cells, as the grader matched them
(notebooks.reconcile's matching): the source's markdown, read-only and test cells (hidden tests
included: autograded/ is for instructors only, and the file is readable by its owner alone), the
learner's code in the answer cells, the learner's own extra cells after the cell they followed;
each source cell keeps its nbgrader metadata (grade_id, points, ...), so that formgrader shows a
score box on each test cell and a comment box on each answer cell. A failed test cell carries the
kit's failure message as its error output (already scrubbed of hidden test code).

What the learner wrote that formgrader would render as HTML (markdown or raw cells) is put in as
verbatim text (a fenced block): formgrader's page runs with the instructor's rights, and a
learner's <script> or MathJax must not run there. Outputs of the learner's notebook are not kept.

Feedback never comes from this notebook: `make autograde` writes it from the result (feedback.py),
and nbgrader's own generate_feedback is configured to remove hidden tests (nbgrader_config.py).
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import nbformat

from course_tools.assignment import Assignment, grade_id, is_answer, is_fixed, is_test, nbgrader_meta
from course_tools.notebooks import Ungradable, _match, read_submission

# The exception's name at the start of a failure message ('AssertionError: ...', 'ProbeFailed ...')
_ERROR_NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_.]{0,80}(?:Error|Exception|Interrupt|Exit|Failed))\b:?[ ]?")


def build(assignment: Assignment, name: str, result: dict, content: bytes | None,
          note: str | None = None) -> nbformat.NotebookNode:
    """The autograded notebook of `name` (one of the assignment's notebooks) for a learner.

    Args:
      result: the kit's result for it (grade.grade_notebook); its tests give the test cells' outputs.
      content: the bytes of the learner's notebook, or None if they cannot be read (then the release's
        cells stand in for the learner's, and `note` says why).
      note: what the instructor should know about this notebook, shown at its top.

    Raises:
      FileNotFoundError: the assignment's release is missing or out of date (`make release`).
    """
    source, release = assignment.sources[name], assignment.release(name)
    notes = [note] if note else []
    submission = None
    if content is not None:
        if result.get("sha256") and hashlib.sha256(content).hexdigest() != result["sha256"]:
            notes.append("the file changed after it was graded: the scores are for the earlier version "
                         "(`make autograde` grades it again)")
        try:
            submission = read_submission(Path(result["notebook"]), content)
        except Ungradable as error:
            notes.append(f"the learner's notebook could not be read: {error.reason}")
    learner = submission.cells if submission is not None else []
    matches = _match(learner, source.cells, release.cells) if learner else {}
    learner_for, extras_after, anchor = {}, {}, -1
    for position, cell in enumerate(learner):
        if position in matches:
            learner_for.setdefault(matches[position], []).append(cell)
            anchor = matches[position]
        elif cell.source.strip():
            extras_after.setdefault(anchor, []).append(cell)

    outcomes = {test["grade_id"]: test for test in result.get("tests", [])}
    cells = [_learners(cell) for cell in extras_after.get(-1, [])]
    for index, cell in enumerate(source.cells):
        if is_answer(cell):
            answers = learner_for.get(index)
            if answers:
                cells.append(_learners(answers[0], cell))
                cells.extend(_learners(extra) for extra in answers[1:])
            else:
                cells.append(_instructors(release.cells[index], cell))
        elif is_fixed(cell) or cell.cell_type == "markdown" and not learner_for.get(index):
            made = _instructors(cell, cell)
            if is_test(cell):
                made.outputs = _outputs(outcomes.get(grade_id(cell)))
            cells.append(made)
        elif learner_for.get(index):     # a free cell: the learner's version, else the release's
            cells.extend(_learners(c) for c in learner_for[index])
        else:
            cells.append(_instructors(release.cells[index], None))
        cells.extend(_learners(extra) for extra in extras_after.get(index, []))

    cells.insert(0, nbformat.v4.new_markdown_cell(_header(result, notes)))
    for number, cell in enumerate(cells):
        cell.id = f"cell-{number}"
    notebook = nbformat.v4.new_notebook(cells=cells)
    for key in ("kernelspec", "language_info"):
        if key in source.metadata:
            notebook.metadata[key] = source.metadata[key]
    return notebook


def write(notebook: nbformat.NotebookNode, path: Path) -> Path:
    """Writes `notebook` at `path` atomically, readable and writable by its owner only (it holds the
    hidden tests)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with open(descriptor, "w", encoding="utf-8") as file:
        nbformat.write(notebook, file)
    os.chmod(temporary, 0o600)   # if it was there already, with other permissions
    os.replace(temporary, path)
    return path


def verbatim(text: str) -> str:
    """Markdown that shows `text` as it is (a fenced block, longer than any run of backticks in it):
    no HTML, links or math of it is rendered."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def _instructors(cell, metadata_from) -> nbformat.NotebookNode:
    """A copy of an instructor's cell (of the source or the release), with the nbgrader metadata of
    `metadata_from` (a source cell) if given."""
    make = nbformat.v4.new_code_cell if cell.cell_type == "code" else (
        nbformat.v4.new_markdown_cell if cell.cell_type == "markdown" else nbformat.v4.new_raw_cell)
    made = make(cell.source)
    if metadata_from is not None and nbgrader_meta(metadata_from):
        made.metadata["nbgrader"] = dict(nbgrader_meta(metadata_from))
    return made


def _learners(cell, metadata_from=None) -> nbformat.NotebookNode:
    """A learner's cell: code as it is; anything else as verbatim markdown (see the module's docstring).
    With `metadata_from` (the source's answer cell it answers), that cell's nbgrader metadata."""
    if cell.cell_type == "code":
        made = nbformat.v4.new_code_cell(cell.source)
    else:
        made = nbformat.v4.new_markdown_cell(verbatim(cell.source))
    if metadata_from is not None and nbgrader_meta(metadata_from):
        made.metadata["nbgrader"] = dict(nbgrader_meta(metadata_from))
    return made


def _outputs(test: dict | None) -> list:
    """A test cell's outputs: none if it passed, else an error with the kit's message."""
    if test is None or test["passed"]:
        return []
    message = test["message"] or "failed"
    found = _ERROR_NAME.match(message)
    ename, evalue = (found.group(1), message[found.end():]) if found else ("TestFailed", message)
    return [nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=message.splitlines() or [message])]


def _header(result: dict, notes: list[str]) -> str:
    """The first cell: the kit's score and status, and the notes (verbatim: they may quote the learner)."""
    lines = [f"**Autograded by the course kit**: {result['score']:g} / {result['max_score']:g} points "
             f"({result['status']}). Scores and comments entered here are kept when the notebook is "
             f"graded again."]
    details = ([result["reason"]] if result.get("reason") else []) + notes
    if details:
        lines.append(verbatim("\n".join(details)))
    return "\n\n".join(lines)
