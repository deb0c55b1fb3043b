"""What autograding takes from submitted/, and how it keeps every result: one test per attack on
collection (links, FIFOs, devices, other notebooks, forged student ids, a roster, grades.csv,
--merge) and per way a batch could lose results (a crash in course-grade, a killed worker).

A fake grader (fake_grading.py) stands in for the kernel, so these tests take seconds; the real
grading path is tested in test_grading.py and test_grading_adversarial.py.
"""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import stat
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

import fake_grading
from course_tools import autograde as autograde_module, cli, collect, gradebook, workers
from course_tools.assignment import Assignment
from course_tools.autograde import Course, NotAllGraded, autograde, merge
from course_tools.execute import GraderError
from grading_support import add_exercise, answered, deadline, json_lines, new_course, write


@pytest.fixture(scope="module")
def course_dir(tmp_path_factory):
    root = new_course(tmp_path_factory.mktemp("course"), {"toy": {"toy": add_exercise()}})
    Gradebook(gradebook.db_url(root / "empty.db")).close()   # made once: creating one takes seconds
    return root


@pytest.fixture
def course(course_dir, tmp_path, monkeypatch) -> Course:
    """A course whose submitted/, autograded/, feedback/, (empty) gradebook and grades.csv are this
    test's; the fake grader logs each notebook it grades to tmp_path/graded.log."""
    monkeypatch.setenv(fake_grading.LOG, str(tmp_path / "graded.log"))
    shutil.copy(course_dir / "empty.db", tmp_path / "gradebook.db")
    return Course(course_dir, submitted=tmp_path / "submitted", autograded=tmp_path / "autograded",
                  feedback_dir=tmp_path / "feedback", db=tmp_path / "gradebook.db", csv=tmp_path / "grades.csv")


def submit(course: Course, student: str, name: str = "toy.ipynb") -> Path:
    return write(answered(Assignment("toy", course.root)), course.submitted / student / "toy" / name)


def run(course: Course, **options) -> tuple[list[dict], list[str], str]:
    """Autogrades with the fake grader; returns (the results recorded, the problems listed, the output)."""
    out = io.StringIO()
    try:
        results, problems = autograde(course, sandboxed=False, out=out, grader=fake_grading.full_marks,
                                      **options), []
    except NotAllGraded as error:
        results, problems = error.results, str(error).splitlines()[1:]
    return results, [problem.strip() for problem in problems], out.getvalue()


def graded_log(course: Course) -> list[str]:
    """The students whose notebooks the fake grader was called on, in order."""
    log = Path(os.environ[fake_grading.LOG])
    return log.read_text().splitlines() if log.exists() else []


def students_in_gradebook(course: Course) -> set[str]:
    """The students with a submission of toy in the gradebook."""
    with Gradebook(gradebook.db_url(course.db)) as book:
        return {submission.student.id for submission in book.assignment_submissions("toy")}



def assert_only_ada_graded(course: Course, results: list[dict]) -> None:
    assert [r["student"] for r in results] == ["ada"]
    assert graded_log(course) == ["ada"]
    assert students_in_gradebook(course) == {"ada"}
    assert [p.name for p in course.autograded.iterdir()] == ["ada"]


# --- links, FIFOs, devices ---------------------------------------------------------------------

@pytest.mark.parametrize("target", ["solutions", "classmate"])
def test_a_notebook_that_is_a_symlink_is_reported_and_never_graded(course, target):
    submit(course, "ada")
    link = course.submitted / "mallory" / "toy" / "toy.ipynb"
    link.parent.mkdir(parents=True)
    link.symlink_to(course.root / "solutions" / "toy" / "toy.ipynb" if target == "solutions"
                    else Path("..", "..", "ada", "toy", "toy.ipynb"))
    results, problems, output = run(course)
    assert_only_ada_graded(course, results)
    assert len(problems) == 1 and problems[0].startswith(f"{link}: not graded: a symbolic link")
    assert problems[0] in output


@pytest.mark.parametrize("link, target", [
    ("mallory", "ada"),                               # a student folder linked to a classmate's
    ("mallory", "{root}/solutions"),                  # ... or to solutions/, where toy/toy.ipynb is the answer
    ("mallory/toy", "../ada/toy"),                    # an assignment folder linked to a classmate's
])
def test_a_symlinked_folder_is_reported_and_not_followed(course, link, target):
    submit(course, "ada")
    path = course.submitted / link
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target.format(root=course.root))
    results, problems, _ = run(course)
    assert_only_ada_graded(course, results)
    assert problems == [f"{path}: not graded: a symbolic link in place of a folder: not followed"]


def make_fifo(path: Path) -> None:
    os.mkfifo(path)


def make_device(path: Path) -> None:
    try:   # /dev/zero's numbers: reading it would never end
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 5))
    except PermissionError:
        pytest.skip("cannot create a device node here (needs CAP_MKNOD)")


def make_folder(path: Path) -> None:
    path.mkdir()


@pytest.mark.parametrize("make, what", [(make_fifo, "a FIFO"), (make_device, "a character device"),
                                        (make_folder, "a folder")], ids=["fifo", "device", "folder"])
def test_a_special_file_is_reported_without_being_read_and_the_batch_goes_on(course, make, what):
    submit(course, "ada")
    path = course.submitted / "mallory" / "toy" / "toy.ipynb"
    path.parent.mkdir(parents=True)
    make(path)
    with deadline(30):
        results, problems, _ = run(course)
    assert_only_ada_graded(course, results)
    assert len(problems) == 1 and problems[0].startswith(f"{path}: not graded: {what}")


@pytest.mark.parametrize("make, what", [(make_fifo, "a FIFO"), (make_device, "a character device")],
                         ids=["fifo", "device"])
def test_reading_a_notebook_refuses_a_special_file_at_once(tmp_path, make, what):
    """What a file that was regular when listed and was swapped before grading meets."""
    make(tmp_path / "toy.ipynb")
    with deadline(10), pytest.raises(collect.NotCollected, match=what):
        collect.read_regular(tmp_path, ["toy.ipynb"])


def test_reading_a_notebook_refuses_a_symlink_anywhere_on_its_path(tmp_path):
    (tmp_path / "ada" / "toy").mkdir(parents=True)
    (tmp_path / "ada" / "toy" / "toy.ipynb").write_text("{}")
    (tmp_path / "mallory").symlink_to("ada")
    assert collect.read_regular(tmp_path, ["ada", "toy", "toy.ipynb"]) == b"{}"
    with pytest.raises(collect.NotCollected, match="mallory is a symbolic link"):
        collect.read_regular(tmp_path, ["mallory", "toy", "toy.ipynb"])


# --- which notebooks and which students ----------------------------------------------------------

@pytest.mark.parametrize("extra", ["toy (1).ipynb", "solutions.ipynb"])
def test_a_notebook_not_named_after_the_assignments_is_reported_not_graded(course, extra):
    submit(course, "ada")
    other = submit(course, "ada", extra)
    results, problems, _ = run(course)
    assert [r["notebook"] for r in results] == [str(course.submitted / "ada" / "toy" / "toy.ipynb")]
    assert graded_log(course) == ["ada"]
    assert problems == [f"{other}: not graded: not a notebook of this assignment (its notebooks: toy.ipynb)"]


@pytest.mark.parametrize("student", ["eve,0,0\nmallory,3,3", "=SUM(A1:A9)", "+1", ".hidden", "a" * 65])
def test_a_student_id_that_is_not_a_plain_id_is_reported_not_graded(course, student):
    submit(course, "ada")
    submit(course, student)
    results, problems, output = run(course)
    assert_only_ada_graded(course, results)
    assert len(problems) == 1 and "is not a valid student id" in problems[0]
    assert "\nmallory" not in output    # the id is printed escaped: it cannot forge a line


def add_to_roster(db: Path, *students: str, **details) -> None:
    """Adds students to the gradebook as an instructor does (`nbgrader db student add`)."""
    with Gradebook(gradebook.db_url(db)) as book:
        for student in students:
            book.add_student(student, **details)


def test_with_a_roster_in_the_gradebook_only_students_on_it_are_graded(course):
    add_to_roster(course.db, "ada", "bob")
    submit(course, "ada")
    submit(course, "zed")
    results, problems, _ = run(course)
    assert_only_ada_graded(course, results)
    assert len(problems) == 1 and problems[0].startswith(str(course.submitted / "zed"))
    assert "not on the gradebook's roster" in problems[0]


def test_students_the_grader_added_itself_do_not_lock_out_later_submissions(course):
    submit(course, "ada")
    run(course)
    submit(course, "bob")                # late
    results, problems, _ = run(course)
    assert problems == [] and sorted(r["student"] for r in results) == ["ada", "bob"]
    assert students_in_gradebook(course) == {"ada", "bob"}
    assert gradebook.roster(course.db) is None


# --- grades.csv ------------------------------------------------------------------------------------

def test_grades_csv_quotes_every_field_and_defuses_formulas_and_line_breaks(course):
    evil = "eve,0,0\n=1+1"               # a roster can hold any id
    add_to_roster(course.db, "ada")
    add_to_roster(course.db, evil, first_name='=HYPERLINK("http://x","y")', last_name="@SUM(1)", email="-2+3")
    submit(course, "ada")
    run(course)
    text = course.csv.read_bytes().decode()
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == gradebook.COLUMNS and len(rows) == 3      # a header, then one row per student
    assert len(text.splitlines()) == len(rows)                  # no line break inside a field
    quoted = io.StringIO()
    csv.writer(quoted, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
    assert text == quoted.getvalue()                            # every field is quoted
    assert not [field for row in rows for field in row if field.lstrip(" ")[:1] in ("=", "+", "-", "@")]
    eve = next(row for row in rows if row[3].startswith("eve"))
    assert eve[3] == "eve,0,0 =1+1" and eve[4] == "'@SUM(1)" and eve[6] == "'-2+3"


@pytest.mark.parametrize("value, field", [("=1+1", "'=1+1"), ("a\nb\r\nc", "a b c"), ("  @x", "'  @x"),
                                          ("\t=1", "'\t=1"), ("-", "'-"), ("3.0", "3.0"), (None, "")])
def test_a_csv_field_is_made_safe_for_spreadsheets(value, field):
    assert gradebook.safe_field(value) == field


# --- --merge ----------------------------------------------------------------------------------------

def result_line(course: Course, student: str, name: str = "toy.ipynb") -> str:
    """A full-marks result for submitted/<student>/toy/<name>, as course-grade --json prints it."""
    path = course.submitted / student / "toy" / name
    return json.dumps(fake_grading.result_for(path, Assignment("toy", course.root)))


def make_link(course, path):
    path.parent.mkdir(parents=True)
    path.symlink_to(course.root / "solutions" / "toy" / "toy.ipynb")


@pytest.mark.parametrize("student, name, make, problem", [
    ("mallory", "toy.ipynb", make_link, "a symbolic link"),
    ("mallory", "toy.ipynb", lambda course, path: path.parent.parent.symlink_to("ada"), "mallory is a symbolic link"),
    ("mallory", "toy.ipynb", lambda course, path: (path.parent.mkdir(parents=True), os.mkfifo(path)), "a FIFO"),
    ("mallory", "toy.ipynb", lambda course, path: None, "No such file"),
    ("ada", "solutions.ipynb", lambda course, path: submit(course, "ada", path.name), "not a notebook of toy"),
    ("=1+1", "toy.ipynb", lambda course, path: submit(course, "=1+1"), "not a valid student id"),
], ids=["linked_notebook", "linked_student_folder", "fifo", "missing", "other_notebook", "bad_student_id"])
def test_merge_refuses_a_result_for_what_autograde_would_not_grade(course, tmp_path, student, name, make, problem):
    submit(course, "ada")
    make(course, course.submitted / student / "toy" / name)
    results = tmp_path / "results.jsonl"
    results.write_text(result_line(course, "ada") + "\n" + result_line(course, student, name) + "\n")
    with deadline(30), pytest.raises(ValueError, match=f"results.jsonl:2: .*not graded: .*{problem}"):
        merge(course, [results], out=io.StringIO())
    assert students_in_gradebook(course) == set() and not course.autograded.exists()


def test_merge_refuses_a_student_not_on_the_roster(course, tmp_path):
    add_to_roster(course.db, "bob")
    submit(course, "ada")
    results = tmp_path / "results.jsonl"
    results.write_text(result_line(course, "ada") + "\n")
    with pytest.raises(ValueError, match="not on the gradebook's roster"):
        merge(course, [results], out=io.StringIO())
    assert students_in_gradebook(course) == set() and not course.autograded.exists()


def test_merge_reads_json_lines_and_the_older_object_and_list_forms(course, tmp_path):
    for student in ("ada", "bob", "cyd", "dan"):
        submit(course, student)
    files = {"lines.jsonl": result_line(course, "ada") + "\n\n" + result_line(course, "bob") + "\n",
             "object.json": json.dumps(json.loads(result_line(course, "cyd")), indent=2),
             "list.json": json.dumps([json.loads(result_line(course, "dan"))], indent=2)}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    merged = merge(course, [tmp_path / name for name in files], out=io.StringIO())
    assert sorted(r["student"] for r in merged) == ["ada", "bob", "cyd", "dan"]
    assert students_in_gradebook(course) == {"ada", "bob", "cyd", "dan"}


def test_merge_records_the_graded_results_and_lists_the_grader_failures(course, tmp_path):
    submit(course, "ada")
    bob = submit(course, "bob")
    failure = cli.error_result(bob, Assignment("toy", course.root), GraderError("the kernel did not start"))
    results = tmp_path / "results.jsonl"
    results.write_text(result_line(course, "ada") + "\n" + json.dumps(failure) + "\n")
    with pytest.raises(NotAllGraded, match="bob.*the kernel did not start") as raised:
        merge(course, [results], out=io.StringIO())
    assert [r["student"] for r in raised.value.results] == ["ada"]
    assert students_in_gradebook(course) == {"ada"}


# --- course-grade --json: JSON Lines, nothing lost -------------------------------------------------

def notebooks_in(folder: Path, course: Course, names) -> list[Path]:
    return [write(answered(Assignment("toy", course.root)), folder / name / "toy.ipynb") for name in names]


@pytest.mark.parametrize("failure", [RuntimeError("disk on fire"), GraderError("the kernel did not start")],
                         ids=["unexpected", "grader"])
def test_course_grade_prints_each_result_as_a_json_line_as_soon_as_it_is_graded(
        course, tmp_path, monkeypatch, capsys, failure):
    paths = notebooks_in(tmp_path, course, ["a", "b", "c"])
    printed = []   # stdout so far, when each notebook's grading starts

    def fake_grade_bytes(content, path, assignment, limits, sandboxed):
        printed.append(capsys.readouterr().out)
        if path.parent.name == "b":
            raise failure
        return fake_grading.result_for(path, assignment)

    monkeypatch.setattr(collect, "grade_bytes", fake_grade_bytes)
    status = cli.main(["toy", *map(str, paths), "--json", "--unsafe", "--course-dir", str(course.root)])
    printed.append(capsys.readouterr().out)
    assert status == 1
    before_b = json_lines(printed[1])
    assert [(r["notebook"], r["status"]) for r in before_b] == [(str(paths[0]), "graded")]
    lines = json_lines("".join(printed))
    assert [(r["notebook"], r["status"]) for r in lines] == [
        (str(paths[0]), "graded"), (str(paths[1]), "error"), (str(paths[2]), "graded")]
    assert str(failure) in lines[1]["reason"] and lines[1]["tests"] == []
    assert all(set(r) == {"notebook", "assignment", "score", "max_score", "status", "reason", "tests"}
               for r in lines)


def test_course_grade_output_keeps_the_first_result_when_the_grader_process_dies(course, tmp_path):
    paths = notebooks_in(tmp_path, course, ["a", "b"])
    script = ("import os, sys, fake_grading\n"
              "from course_tools import cli, collect\n"
              "def grade(content, path, *args):\n"
              "    if path.parent.name == 'b':\n"
              "        os._exit(9)   # the grader dies, as if killed\n"
              "    return fake_grading.result_for(path, args[0])\n"
              "collect.grade_bytes = grade\n"
              "cli.main(sys.argv[1:])\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]))
    process = subprocess.run([sys.executable, "-c", script, "toy", *map(str, paths), "--json", "--unsafe",
                              "--course-dir", str(course.root)], capture_output=True, text=True, env=env, timeout=120)
    assert process.returncode == 9
    assert [(r["notebook"], r["status"]) for r in json_lines(process.stdout)] == [(str(paths[0]), "graded")]


@pytest.mark.parametrize("make, what", [(lambda path: path.symlink_to(path.parent / "real.ipynb"), "symbolic link"),
                                        (make_fifo, "FIFO")], ids=["symlink", "fifo"])
def test_course_grade_gives_an_error_result_for_a_link_or_fifo_without_grading_it(
        course, tmp_path, monkeypatch, capsys, make, what):
    write(answered(Assignment("toy", course.root)), tmp_path / "real.ipynb")
    make(tmp_path / "toy.ipynb")
    monkeypatch.setattr(collect, "grade_bytes", lambda *args: pytest.fail("graded a file that is not regular"))
    with deadline(30):
        status = cli.main(["toy", str(tmp_path / "toy.ipynb"), "--json", "--unsafe", "--course-dir", str(course.root)])
    (line,) = json_lines(capsys.readouterr().out)
    assert status == 1 and line["status"] == "error" and what in line["reason"] and line["score"] == 0


# --- a worker process that dies -------------------------------------------------------------------

def test_a_job_that_kills_its_worker_is_reported_and_every_other_job_finishes_once():
    outcomes = list(workers.run([(n, (n,)) for n in range(6)], fake_grading.square_unless_three, 2))
    assert sorted(key for key, _ in outcomes) == list(range(6))
    by_key = dict(outcomes)
    assert isinstance(by_key.pop(3), workers.WorkerDied)
    assert by_key == {n: n ** 2 for n in (0, 1, 2, 4, 5)}


def test_a_worker_killed_mid_batch_costs_only_its_own_notebook(course, monkeypatch):
    students = ["ada", "bob", "cyd", "dan", "mallory", "zoe"]
    for student in students:
        submit(course, student)
    recorded, real_record = Counter(), autograde_module.record

    def counting_record(course, result):
        recorded[result["student"]] += 1
        return real_record(course, result)

    monkeypatch.setattr(autograde_module, "record", counting_record)
    with pytest.raises(NotAllGraded) as raised:
        autograde(course, jobs=2, sandboxed=False, out=io.StringIO(), grader=fake_grading.kills_its_worker_for_mallory)
    honest = set(students) - {"mallory"}
    assert recorded == Counter(honest)                              # each once
    assert students_in_gradebook(course) == honest
    assert {r["student"] for r in raised.value.results} == honest
    (problem,) = str(raised.value).splitlines()[1:]
    assert "mallory" in problem and "grader failure" in problem and "worker process died" in problem
    assert graded_log(course).count("mallory") == 2                 # tried, then retried alone once
    assert not (course.autograded / "mallory").exists()
