"""`python -m course_tools.course` (`make course`): the whole course, end to end.

1. runs the capstone's reference solution on the real tweets and reads its
   validation accuracy and training time (its notebook defines `accuracy` and
   `train_seconds`); the executed notebook is kept in build/reference/;
2. grades a sample class in build/sample_class/ with the autograder: for each
   assignment, its reference solution ('reference', which must score full marks),
   its unchanged release ('release', which must score 0) and a release with the
   first half of the answers filled in ('partial');
3. prints the grade table and the accuracy, and writes build/course_report.json.

The sample class is graded in the sandbox, like a real one, with $JOBS workers (default 1).

Exits 1 if the reference or the release does not score as it must.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import nbformat

from course_tools import gradebook, layout, release
from course_tools.assignment import Assignment, is_answer
from course_tools.autograde import Course, NotAllGraded, autograde, default_jobs
from course_tools.execute import execute_notebook

CAPSTONE = "tweet_sentiment"
REPORT_CELL = ('import json\nprint("COURSE_REPORT " + json.dumps('
               '{"val_accuracy": float(accuracy), "train_seconds": float(train_seconds)}))')


def run_reference(assignment: Assignment, build: Path) -> dict:
    """Executes the reference solution (with outputs kept in build/reference/) and reads its metrics."""
    folder = build / "reference" / assignment.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    notebook_path = folder / f"{assignment.notebook_names[0]}.ipynb"
    notebook = assignment.sources[assignment.notebook_names[0]]
    notebook.cells.append(nbformat.v4.new_code_cell(REPORT_CELL))
    nbformat.write(notebook, notebook_path)
    executed = execute_notebook(notebook_path, folder)
    nbformat.write(executed, notebook_path)
    for output in executed.cells[-1].outputs:
        for line in output.get("text", "").splitlines():
            if line.startswith("COURSE_REPORT "):
                return json.loads(line.removeprefix("COURSE_REPORT "))
    raise RuntimeError(f"{notebook_path} did not report its accuracy")


def sample_class(course_dir: Path, submitted: Path) -> list[str]:
    """Writes submitted/<student>/<assignment>/ for the sample students; returns the assignment names."""
    names = release.assignments(course_dir)
    for name in names:
        assignment = Assignment(name, course_dir)
        for notebook, source in assignment.sources.items():
            released = assignment.release(notebook)
            partial = nbformat.from_dict(released)
            answers = [i for i, cell in enumerate(source.cells) if is_answer(cell)]
            for index in answers[: len(answers) // 2]:
                partial.cells[index].source = source.cells[index].source
            for student, version in (("reference", source), ("release", released), ("partial", partial)):
                path = submitted / student / name / f"{notebook}.ipynb"
                path.parent.mkdir(parents=True, exist_ok=True)
                nbformat.write(version, path)
    return names


def main(argv=None) -> int:
    try:
        jobs = default_jobs()
    except ValueError as error:
        print(f"course: $JOBS: {error}", file=sys.stderr)
        return 2
    course_dir = layout.course_root()
    build = course_dir / "build"
    sample = build / "sample_class"
    shutil.rmtree(sample, ignore_errors=True)

    print(f"Running the reference solution of {CAPSTONE} on the real tweets...", flush=True)
    capstone = run_reference(Assignment(CAPSTONE, course_dir), build)

    print("Grading the sample class...", flush=True)
    names = sample_class(course_dir, sample / layout.SUBMITTED)
    db, csv_path = sample / layout.GRADEBOOK, sample / layout.GRADES_CSV
    problems = []
    try:
        autograde(Course(course_dir, submitted=sample / layout.SUBMITTED, autograded=sample / layout.AUTOGRADED,
                         feedback_dir=sample / layout.FEEDBACK, db=db, csv=csv_path), jobs=jobs)
    except NotAllGraded as error:
        problems.append(str(error))

    grades = []
    for name in names:
        for student, (score, max_score) in sorted(gradebook.scores(db, name).items()):
            grades.append({"student": student, "assignment": name, "score": score, "max_score": max_score})
            if student == "reference" and score != max_score:
                problems.append(f"the reference solution of {name} scored {score:g} / {max_score:g}")
            if student == "release" and score != 0:
                problems.append(f"the unchanged release of {name} scored {score:g}, not 0")
    report = {
        "assignments": {name: {"max_score": Assignment(name, course_dir).max_score()} for name in names},
        "grades": grades,
        CAPSTONE: capstone,
    }
    (build / "course_report.json").write_text(json.dumps(report, indent=2))

    print("\n" + grade_table(grades, names))
    print(f"\n{CAPSTONE}: validation accuracy {capstone['val_accuracy']:.4f} "
          f"(trained in {capstone['train_seconds']:.1f} s)")
    print(f"Grades: {csv_path.relative_to(course_dir)}; report: build/course_report.json")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


def grade_table(grades: list[dict], names: list[str]) -> str:
    """Students as rows, assignments as columns, 'score / max' in each cell."""
    students = sorted({g["student"] for g in grades})
    cell = {(g["student"], g["assignment"]): f"{g['score']:g} / {g['max_score']:g}" for g in grades}
    widths = [max(len(n), 11) for n in names]
    lines = ["student     " + "  ".join(f"{n:>{w}}" for n, w in zip(names, widths))]
    for student in students:
        lines.append(f"{student:<12}" + "  ".join(f"{cell.get((student, n), '-'):>{w}}"
                                                 for n, w in zip(names, widths)))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
