"""Writing results into nbgrader's gradebook, and exporting it to CSV. Only the host process writes."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

from nbgrader.api import Gradebook
from sqlalchemy.exc import SAWarning
from nbgrader.plugins import CsvExportPlugin

from course_lib.grading import layout
from course_lib.grading.assignment import Assignment, grade_id, is_answer, is_test


def db_url(path) -> str:
    # Creating a gradebook runs `alembic` by name: it must be on PATH.
    os.environ["PATH"] = layout.with_tools_on_path()["PATH"]
    return f"sqlite:///{Path(path).resolve()}"


def register(gradebook: Gradebook, assignment: Assignment) -> None:
    """Adds the assignment, its notebooks and their graded cells to the gradebook (idempotent)."""
    gradebook.update_or_create_assignment(assignment.name)
    for notebook, source in assignment.sources.items():
        gradebook.update_or_create_notebook(notebook, assignment.name)
        for cell in source.cells:
            if is_test(cell):
                gradebook.update_or_create_grade_cell(
                    grade_id(cell), notebook, assignment.name,
                    max_score=float(cell.metadata["nbgrader"].get("points", 0)), cell_type="code")
            elif is_answer(cell):
                gradebook.update_or_create_solution_cell(grade_id(cell), notebook, assignment.name)


def record(path, assignment: Assignment, student: str, result: dict) -> None:
    """Stores one notebook's result (from `grade_notebook`) as `student`'s auto scores, in one commit."""
    notebook = Path(result["notebook"]).stem
    if notebook not in assignment.sources:
        notebook = assignment.notebook_names[0]
    with Gradebook(db_url(path)) as gradebook, warnings.catch_warnings():
        # nbgrader's own add_submission triggers SQLAlchemy autoflush warnings; they are harmless.
        warnings.simplefilter("ignore", SAWarning)
        register(gradebook, assignment)
        gradebook.update_or_create_student(student)
        gradebook.update_or_create_submission(assignment.name, student)
        for test in result["tests"]:
            grade = gradebook.find_grade(test["grade_id"], notebook, assignment.name, student)
            grade.auto_score = float(test["points"])
            grade.needs_manual_grade = False
        gradebook.db.commit()


def scores(path, assignment: str) -> dict[str, tuple[float, float]]:
    """`{student: (score, max_score)}` for an assignment, read back from the gradebook."""
    with Gradebook(db_url(path)) as gradebook:
        return {s.student.id: (s.score, s.max_score)
                for s in gradebook.assignment_submissions(assignment)}


def export_csv(path, csv_path) -> Path:
    """Exports every grade with nbgrader's CSV exporter (what `nbgrader export` writes)."""
    with Gradebook(db_url(path)) as gradebook:
        CsvExportPlugin(to=str(csv_path)).export(gradebook)
    return Path(csv_path)
