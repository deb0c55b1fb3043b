"""Writing results into nbgrader's gradebook, and exporting it to CSV. Only the host process writes."""
from __future__ import annotations

import csv
import os
import sqlite3
import warnings
from datetime import datetime
from pathlib import Path

from nbgrader.api import Comment, Grade, Gradebook, MissingEntry, SubmittedNotebook
from sqlalchemy import text
from sqlalchemy.exc import SAWarning

from course_tools import layout
from course_tools.assignment import Assignment, grade_id, is_answer, is_test


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


# The students this grader added to the gradebook on grading them: they are not an instructor's roster.
ADDED = "course_kit_added_students"


def roster(path) -> set[str] | None:
    """The gradebook's roster: all its students, if the instructor entered any (`nbgrader db student
    add` or `import`); None if there is no gradebook or it only has students this grader added itself
    (in table ADDED), so that grading a first batch does not lock out later submissions."""
    if not Path(path).is_file():
        return None
    with sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True) as db:
        try:
            students = {row[0] for row in db.execute("SELECT id FROM student")}
        except sqlite3.OperationalError:   # not a gradebook yet
            return None
        try:
            added = {row[0] for row in db.execute(f"SELECT id FROM {ADDED}")}
        except sqlite3.OperationalError:
            added = set()
    return students if students - added else None


def record(path, assignment: Assignment, student: str, result: dict, timestamp: datetime | None = None,
           late_penalty=None) -> None:
    """Stores one notebook's result (from `grade_notebook`) as `student`'s auto scores, in nbgrader's rows
    (a submission, its notebook, a Grade per test cell, a Comment per answer cell), so that nbgrader's
    formgrader shows them and an instructor can override a score (manual_score) or comment.
    A student new to the gradebook is added, and noted as added by the grader (see `roster`).

    A manual score an instructor gave is kept; if the test's auto score changes under it, the grade
    is flagged as needing a manual grade again (as nbgrader's autograde does).

    Args:
      timestamp: when the student submitted (collect.read_timestamp: UTC, without a time zone), or
        None if unknown; stored as the submission's timestamp, which nbgrader compares with the
        assignment's due date (plus the student's extension, if any).
      late_penalty: `penalty(student, score, seconds_late)` -> points off or None (see
        nbgrader_settings.late_penalty); applied, as nbgrader's autograde does, to this notebook's
        score when the submission is late, and kept between 0 and that score. None: no penalty.
    """
    notebook = Path(result["notebook"]).stem
    if notebook not in assignment.sources:
        notebook = assignment.notebook_names[0]
    with Gradebook(db_url(path)) as gradebook, warnings.catch_warnings():
        # nbgrader's own add_submission triggers SQLAlchemy autoflush warnings; they are harmless.
        warnings.simplefilter("ignore", SAWarning)
        register(gradebook, assignment)
        try:
            gradebook.find_student(student)
        except MissingEntry:
            # the note first: add_student commits both together
            gradebook.db.execute(text(f"CREATE TABLE IF NOT EXISTS {ADDED} (id VARCHAR(128) PRIMARY KEY)"))
            gradebook.db.execute(text(f"INSERT OR IGNORE INTO {ADDED} (id) VALUES (:id)"), {"id": student})
            gradebook.add_student(student)
        submission = gradebook.update_or_create_submission(assignment.name, student)
        submission.timestamp = timestamp
        try:
            submitted = gradebook.find_submission_notebook(notebook, assignment.name, student)
        except MissingEntry:   # a notebook added to the assignment after this submission was first recorded
            submitted = SubmittedNotebook(notebook=gradebook.find_notebook(notebook, assignment.name),
                                          assignment=submission)
            gradebook.db.add(submitted)
        _complete(gradebook.db, submitted)
        for test in result["tests"]:
            grade = gradebook.find_grade(test["grade_id"], notebook, assignment.name, student)
            changed = grade.auto_score != float(test["points"])
            grade.auto_score = float(test["points"])
            if grade.manual_score is None:
                grade.needs_manual_grade = False
            elif changed:
                grade.needs_manual_grade = True
        gradebook.db.flush()
        gradebook.db.expire(submitted)   # its score, summed by the database, is read again
        gradebook.db.expire(submission)
        submitted.late_submission_penalty = _penalty(student, submitted.score, submission.total_seconds_late,
                                                     late_penalty)
        gradebook.db.commit()


def _complete(session, submitted) -> None:
    """Adds the Grade and Comment rows a submitted notebook lacks (for cells added to the assignment
    after it was first recorded), as nbgrader's add_submission makes them: formgrader needs one per
    grade cell and per answer cell."""
    graded = {grade.cell_id for grade in submitted.grades}
    commented = {comment.cell_id for comment in submitted.comments}
    for cell in submitted.notebook.grade_cells:
        if cell.id not in graded:
            session.add(Grade(cell_id=cell.id, notebook=submitted))
    for cell in submitted.notebook.solution_cells:
        if cell.id not in commented:
            session.add(Comment(cell_id=cell.id, notebook=submitted))


def _penalty(student: str, score: float, seconds_late: float, late_penalty) -> float | None:
    """The late penalty of a notebook scoring `score`, `seconds_late` after its due date."""
    if seconds_late <= 0 or late_penalty is None:
        return None
    penalty = late_penalty(student, score, seconds_late)
    if penalty is None:
        return None
    return min(max(0.0, float(penalty)), float(score))


def scores(path, assignment: str) -> dict[str, tuple[float, float]]:
    """`{student: (score, max_score)}` for an assignment, read back from the gradebook."""
    with Gradebook(db_url(path)) as gradebook:
        return {s.student.id: (s.score, s.max_score)
                for s in gradebook.assignment_submissions(assignment)}


COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
           "raw_score", "late_submission_penalty", "score", "max_score"]   # nbgrader export's columns


def export_csv(path, csv_path) -> Path:
    """Exports every grade as `nbgrader export` does (its columns and rows: a student without a
    submission scores 0), with every field quoted and made safe by `safe_field`; written atomically."""
    rows = []
    with Gradebook(db_url(path)) as gradebook:
        for assignment in gradebook.assignments:
            for student in gradebook.students:
                row = {"assignment": assignment.name, "duedate": assignment.duedate, "student_id": student.id,
                       "last_name": student.last_name, "first_name": student.first_name,
                       "email": student.email, "max_score": assignment.max_score, "timestamp": "",
                       "raw_score": 0.0, "late_submission_penalty": 0.0, "score": 0.0}
                try:
                    submission = gradebook.find_submission(assignment.name, student.id)
                except MissingEntry:
                    pass
                else:
                    penalty = submission.late_submission_penalty
                    row.update(timestamp=submission.timestamp, raw_score=submission.score,
                               late_submission_penalty=penalty, score=max(0.0, submission.score - penalty))
                rows.append([safe_field(row[column]) for column in COLUMNS])
    csv_path = Path(csv_path)
    temporary = csv_path.with_name(csv_path.name + ".tmp")
    with open(temporary, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    os.replace(temporary, csv_path)
    return csv_path


def safe_field(value) -> str:
    """`value` as a CSV field that a spreadsheet shows as text: line breaks become spaces, and a field
    that starts (after spaces) with = + - @ or a tab, which spreadsheets evaluate as a formula, gets a
    leading '."""
    field = "" if value is None else str(value)
    field = " ".join(field.splitlines())
    if field.lstrip(" ")[:1] in ("=", "+", "-", "@", "\t"):
        field = "'" + field
    return field
