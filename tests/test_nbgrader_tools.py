"""nbgrader's own tools on a course that the kit grades: formgrader (listing, manual grading, comments),
late submissions (timestamp.txt, due dates from the gradebook, nbgrader's penalties in the gradebook and
grades.csv) and `nbgrader validate` (the source notebooks, and a learner's notebook).

The formgrader test starts a Jupyter server with nbgrader's formgrader on 127.0.0.1, on a free port, with
a token, and always stops it; each of its waits is bounded. The `nbgrader validate` tests run each source
notebook once (tweet_sentiment trains its model: about a minute each on a laptop).
"""
from __future__ import annotations

import contextlib
import csv
import html
import json
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import requests
from nbgrader import nbgraderformat
from nbgrader.api import Gradebook

import fake_grading
from course_tools import gradebook, layout, nbgrader_settings
from course_tools.assignment import Assignment, grade_id
from course_tools.autograde import Course, NotAllGraded, autograde
from course_tools.grade import hidden_lines
from course_tools.limits import Limits
from grading_support import ADD_PROBE, REPO, add_exercise, answered, deadline, nbgrader_cell, new_course, write

WRONG_ADD = "def add(a, b):\n    return abs(a) + abs(b)"   # passes the visible test (1 point), fails the hidden (2)
LEARNERS_HTML = "<script>alert('from the learner')</script> $\\href{javascript:alert(1)}{x}$"


def quiet():
    return open(os.devnull, "w")


def nbgrader(*args, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """Runs `nbgrader ARGS` in `cwd` (where its nbgrader_config.py is), with its tools on PATH."""
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=layout.with_tools_on_path(),
                          capture_output=True, text=True, timeout=timeout)


# --- a small course graded by the kit (`make autograde`) ----------------------------------------------

@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Course:
    """A course with assignment toy (add: a visible test of 1 point, a hidden one of 2), graded by the kit
    in the sandbox: ada answered it (3 points; her timestamp.txt says when), bob's add is wrong (1 point;
    he added a markdown cell with HTML, math and a script), cyd's file is not a notebook (0 points)."""
    root = new_course(tmp_path_factory.mktemp("course"), {"toy": {"toy": add_exercise()}})
    toy = Assignment("toy", root)
    submitted = root / layout.SUBMITTED
    write(answered(toy), submitted / "ada" / "toy" / "toy.ipynb")
    (submitted / "ada" / "toy" / "timestamp.txt").write_text("2024-03-01 16:59:59.123456 UTC\n")
    bob = answered(toy, replace={"add_solution": WRONG_ADD})
    bob.cells.append(nbformat.v4.new_markdown_cell(LEARNERS_HTML))
    write(bob, submitted / "bob" / "toy" / "toy.ipynb")
    (submitted / "cyd" / "toy").mkdir(parents=True)
    (submitted / "cyd" / "toy" / "toy.ipynb").write_text("{")
    course = Course(root)
    results = autograde(course, out=quiet())
    assert {r["student"]: r["score"] for r in results} == {"ada": 3.0, "bob": 1.0, "cyd": 0.0}
    return course


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    """A released course with assignment toy (3 points), its gradebook made by `nbgrader generate_assignment`."""
    return new_course(tmp_path_factory.mktemp("released"), {"toy": {"toy": add_exercise()}})


def course_copy(released: Path, tmp_path: Path) -> Course:
    """A copy of the released course to grade in (faster than releasing a new one)."""
    return Course(Path(shutil.copytree(released, tmp_path / "course")))


def test_the_autograded_notebook_is_the_learners_on_the_sources_cells_for_instructors_only(graded):
    toy = Assignment("toy", graded.root)
    source_ids = [grade_id(cell) for cell in toy.sources["toy"].cells]
    for student in ("ada", "bob", "cyd"):
        path = graded.autograded / student / "toy" / "toy.ipynb"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600          # it holds the hidden tests
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        ids = [cell.metadata["nbgrader"]["grade_id"] for cell in notebook.cells if "nbgrader" in cell.metadata]
        assert ids == source_ids                                    # each source cell once, in order
        assert (graded.autograded / student / "toy" / "toy.json").exists()   # the kit's result is kept
    bob = {grade_id(c): c for c in nbformat.read(graded.autograded / "bob" / "toy" / "toy.ipynb", 4).cells
           if "nbgrader" in c.metadata}
    assert bob["add_solution"].source == WRONG_ADD
    assert bob["add_hidden"].source == next(c.source for c in toy.sources["toy"].cells if grade_id(c) == "add_hidden")
    assert bob["add_visible"].outputs == []
    (error,) = bob["add_hidden"].outputs
    assert error.output_type == "error" and error.ename == "AssertionError"
    cells = nbformat.read(graded.autograded / "bob" / "toy" / "toy.ipynb", 4).cells
    assert cells[-1].source.startswith("```") and LEARNERS_HTML in cells[-1].source   # shown verbatim
    cyd = {grade_id(c): c for c in nbformat.read(graded.autograded / "cyd" / "toy" / "toy.ipynb", 4).cells
           if "nbgrader" in c.metadata}
    assert "raise NotImplementedError()" in cyd["add_solution"].source       # the release stands in
    assert "not a notebook" in cyd["add_hidden"].outputs[0].evalue


def test_feedback_never_holds_the_autograded_notebook_nor_hidden_tests(graded):
    source = Assignment("toy", graded.root).sources["toy"]
    public = "\n".join(re.sub(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", "", c.source, flags=re.S)
                       for c in source.cells)
    hidden = [line for line in hidden_lines(source) if line not in public]   # (the visible test has the same probe)
    assert hidden

    def leaks():
        files = [path for path in graded.feedback.rglob("*") if path.is_file()]
        assert files and not [path for path in files if path.suffix == ".ipynb"]
        texts = {path: html.unescape(re.sub(r"<[^>]*>", "", path.read_text())) for path in files}  # as shown
        return [(path.name, line) for path, text in texts.items() for line in hidden if line in text]

    assert leaks() == []
    # nbgrader's own feedback (formgrader's "Generate Feedback") renders the autograded notebook: the
    # course's nbgrader_config.py has it remove the hidden tests first.
    process = nbgrader("generate_feedback", "toy", "--force", cwd=graded.root)
    assert process.returncode == 0, process.stderr[-3000:]
    assert "add_hidden" in (graded.feedback / "bob" / "toy" / "toy.html").read_text()
    assert leaks() == []


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Formgrader:
    """A client of formgrader's REST API, on loopback, with the server's token."""

    def __init__(self, port: int, token: str):
        self.url = f"http://127.0.0.1:{port}"
        self.session = requests.Session()
        self.session.trust_env = False              # no proxy: loopback only
        self.session.headers["Authorization"] = f"token {token}"

    def get(self, path: str, **params):
        response = self.session.get(self.url + path, params=params, timeout=60, allow_redirects=False)
        response.raise_for_status()
        return response

    def put(self, path: str, data: dict):
        response = self.session.put(self.url + path, data=json.dumps(data), timeout=60)
        response.raise_for_status()
        return response.json()


@contextlib.contextmanager
def formgrader(root: Path, folder: Path, startup_seconds: float = 180):
    """A Jupyter server with nbgrader's formgrader (and no other extension) serving the course at
    `root`, on 127.0.0.1, on a free port, with a random token; stopped on leaving, whatever happens."""
    config, runtime = folder / "jupyter_config", folder / "jupyter_runtime"
    config.mkdir(parents=True, exist_ok=True)
    runtime.mkdir(parents=True, exist_ok=True)
    others = ["jupyterlab", "notebook", "notebook_shim", "jupyter_lsp", "jupyter_server_terminals",
              "nbgrader.server_extensions.assignment_list", "nbgrader.server_extensions.course_list",
              "nbgrader.server_extensions.validate_assignment"]
    extensions = {name: False for name in others} | {"nbgrader.server_extensions.formgrader": True}
    (config / "jupyter_server_config.json").write_text(json.dumps({"ServerApp": {"jpserver_extensions": extensions}}))
    env = layout.with_tools_on_path(dict(os.environ, JUPYTER_CONFIG_DIR=str(config), JUPYTER_RUNTIME_DIR=str(runtime)))
    token = secrets.token_hex(24)
    for attempt in range(3):                        # the free port may be taken before the server binds it
        port = free_port()
        log = folder / f"formgrader-{attempt}.log"
        with open(log, "wb") as output:
            server = subprocess.Popen(
                [sys.executable, "-m", "jupyter_server", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
                 "--ServerApp.port_retries=0", "--ServerApp.open_browser=False", "--ServerApp.allow_root=True",
                 f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}"],
                cwd=root, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            client = Formgrader(port, token)
            deadline = time.monotonic() + startup_seconds
            while server.poll() is None and time.monotonic() < deadline:
                try:
                    if client.get("/formgrader/api/status").json() == {"status": True}:
                        break
                except requests.RequestException:
                    time.sleep(0.5)
            else:
                if server.poll() is not None and "already in use" in log.read_text(errors="replace"):
                    continue
                raise AssertionError(f"formgrader did not start:\n{log.read_text(errors='replace')[-3000:]}")
            yield client
            return
        finally:
            _stop(server)
    raise AssertionError("formgrader found no free port")


def _stop(server: subprocess.Popen) -> None:
    """Stops the server we started, and its process group (it was started in a session of its own)."""
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=20)


def test_formgrader_lists_every_submission_with_the_kits_scores_and_takes_manual_grades(graded, tmp_path):
    kit = {student: json.loads((graded.autograded / student / "toy" / "toy.json").read_text())
           for student in ("ada", "bob", "cyd")}
    with formgrader(graded.root, tmp_path) as api:
        submissions = {s["student"]: s for s in api.get("/formgrader/api/submissions/toy").json()}
        assert {s: (x["score"], x["max_score"], x["autograded"]) for s, x in submissions.items()} == {
            s: (result["score"], result["max_score"], True) for s, result in kit.items()}
        assert submissions["ada"]["timestamp"] == "2024-03-01T16:59:59.123456"

        notebooks = {n["student"]: n for n in api.get("/formgrader/api/submitted_notebooks/toy/toy").json()}
        assert set(notebooks) == set(kit) and all(n["index"] is not None for n in notebooks.values())
        for student, result in kit.items():
            grades = api.get("/formgrader/api/grades", submission_id=notebooks[student]["id"]).json()
            assert {g["name"]: g["auto_score"] for g in grades} == {t["grade_id"]: t["points"] for t in result["tests"]}
            comments = api.get("/formgrader/api/comments", submission_id=notebooks[student]["id"]).json()
            assert [c["name"] for c in comments] == ["add_solution"]

        page = api.get(f"/formgrader/submissions/{notebooks['bob']['id']}/").text   # the manual grading page
        assert 'id="add_hidden"' in page and 'id="add_solution-comment"' in page
        text = html.unescape(re.sub(r"<[^>]*>", "", page))
        assert "return abs(a) + abs(b)" in text
        assert LEARNERS_HTML in text and "<script>alert" not in page       # the learner's HTML is shown, not run

        bob = {g["name"]: g for g in api.get("/formgrader/api/grades", submission_id=notebooks["bob"]["id"]).json()}
        assert api.put(f"/formgrader/api/grade/{bob['add_hidden']['id']}", {"manual_score": 1.5})["manual_score"] == 1.5
        comment = api.get("/formgrader/api/comments", submission_id=notebooks["bob"]["id"]).json()[0]
        api.put(f"/formgrader/api/comment/{comment['id']}", {"manual_comment": "Mind negative numbers."})
        assert gradebook.scores(graded.db, "toy")["bob"] == (2.5, 3.0)
        assert {s["student"]: s["score"] for s in api.get("/formgrader/api/submissions/toy").json()}["bob"] == 2.5

    # Grading again keeps the instructor's score and comment (the notebook is unchanged: only re-recorded).
    autograde(graded, out=quiet())
    assert gradebook.scores(graded.db, "toy")["bob"] == (2.5, 3.0)
    with Gradebook(gradebook.db_url(graded.db)) as book:
        grade = book.find_grade("add_hidden", "toy", "toy", "bob")
        assert (grade.auto_score, grade.manual_score, grade.needs_manual_grade) == (0.0, 1.5, False)
        assert book.find_comment("add_solution", "toy", "toy", "bob").manual_comment == "Mind negative numbers."
    rows = {row["student_id"]: row for row in csv.DictReader(open(graded.csv))}
    assert rows["bob"]["score"] == "2.5"


def test_a_manual_score_is_flagged_for_review_when_the_auto_score_under_it_changes(released, tmp_path):
    course = course_copy(released, tmp_path)
    write(answered(Assignment("toy", course.root)), course.submitted / "ada" / "toy" / "toy.ipynb")
    autograde(course, sandboxed=False, out=quiet(), grader=fake_grading.full_marks)
    with Gradebook(gradebook.db_url(course.db)) as book:
        book.find_grade("add_hidden", "toy", "toy", "ada").manual_score = 1.0
        book.db.commit()
    result = fake_grading.result_for(course.submitted / "ada" / "toy" / "toy.ipynb", Assignment("toy", course.root))
    result["tests"][1].update(points=0.0, passed=False, message="AssertionError")
    gradebook.record(course.db, Assignment("toy", course.root), "ada", result)
    with Gradebook(gradebook.db_url(course.db)) as book:
        grade = book.find_grade("add_hidden", "toy", "toy", "ada")
        assert (grade.auto_score, grade.manual_score, grade.needs_manual_grade) == (0.0, 1.0, True)


def test_a_test_added_to_the_assignment_after_grading_gets_its_grade_in_the_gradebook(released, tmp_path):
    from course_tools import release

    # (nbgrader's release refuses to add a cell to a notebook with submissions in its own gradebook: here
    # the kit's gradebook is another one, as `Course(db=...)` allows.)
    root = course_copy(released, tmp_path).root
    course = Course(root, db=tmp_path / "kit.db")
    write(answered(Assignment("toy", course.root)), course.submitted / "ada" / "toy" / "toy.ipynb")
    autograde(course, sandboxed=False, out=quiet(), grader=fake_grading.full_marks)
    source = add_exercise()
    source.cells.append(nbgrader_cell("code", ADD_PROBE + "assert added(0, 0) == 0", "add_zero", grade=True, points=1))
    write(source, course.root / layout.SOURCE / "toy" / "toy.ipynb")
    release.generate(course.root)
    autograde(Course(root, db=course.db), sandboxed=False, out=quiet(), grader=fake_grading.full_marks)
    assert gradebook.scores(course.db, "toy") == {"ada": (4.0, 4.0)}
    ids = [grade_id(c) for c in nbformat.read(course.autograded / "ada" / "toy" / "toy.ipynb", 4).cells
           if "nbgrader" in c.metadata]
    assert ids[-1] == "add_zero"


def test_nbgraders_own_autograde_refuses_to_run_learners_code(released, tmp_path):
    """nbgrader's autograde (formgrader's "Autograde" button) would run it unconfined, in the instructor's kernel."""
    course = course_copy(released, tmp_path)
    marker = tmp_path / "ran-unconfined"
    notebook = answered(Assignment("toy", course.root))
    notebook.cells.insert(2, nbformat.v4.new_code_cell(f"open({str(marker)!r}, 'w').write('ran')"))
    write(notebook, course.submitted / "ada" / "toy" / "toy.ipynb")
    autograde(course, sandboxed=False, out=quiet(), grader=fake_grading.full_marks)
    process = nbgrader("autograde", "toy", "--student", "ada", "--force", cwd=course.root)
    assert "graded by `make autograde`" in process.stderr, process.stderr[-3000:]
    assert not marker.exists()
    autograde(course, sandboxed=False, out=quiet(), grader=fake_grading.full_marks)   # puts back what it removed
    assert (course.autograded / "ada" / "toy" / "toy.ipynb").exists()
    assert gradebook.scores(course.db, "toy") == {"ada": (3.0, 3.0)}


# --- late submissions ----------------------------------------------------------------------------------

LATE_PLUGIN = '''
import math
from nbgrader.plugins import LateSubmissionPlugin


class PointPerDay(LateSubmissionPlugin):
    """One point off per day late, or part of one."""

    def late_submission_penalty(self, student_id, score, total_seconds_late):
        return math.ceil(total_seconds_late / 86400)
'''


@pytest.mark.parametrize("policy, bob_penalty", [
    ("c.LateSubmissionPlugin.penalty_method = 'zero'", 3.0),
    ("c.AssignLatePenalties.plugin_class = 'late_policy.PointPerDay'", 1.0),
], ids=["zero", "own_plugin"])
def test_late_submissions_get_nbgraders_penalty_in_the_gradebook_and_grades_csv(released, tmp_path, policy, bob_penalty):
    course = course_copy(released, tmp_path)
    (course.root / "late_policy.py").write_text(LATE_PLUGIN)
    with open(course.root / "nbgrader_config.py", "a") as config:
        config.write(f"\n{policy}\n")
    process = nbgrader("db", "assignment", "add", "toy", "--duedate=2024-03-01 17:00:00 UTC", cwd=course.root)
    assert process.returncode == 0, process.stderr[-3000:]
    toy = Assignment("toy", course.root)
    times = {"ada": "2024-03-01 16:59:59.000000 UTC", "bob": "2024-03-02 09:00:00.000000 UTC", "cyd": None}
    for student, when in times.items():
        write(answered(toy), course.submitted / student / "toy" / "toy.ipynb")
        if when:
            (course.submitted / student / "toy" / "timestamp.txt").write_text(when + "\n")
    results = autograde(course, sandboxed=False, out=quiet(), grader=fake_grading.full_marks)
    assert sorted(r["student"] for r in results) == ["ada", "bob", "cyd"]     # timestamp.txt is not graded

    rows = {row["student_id"]: row for row in csv.DictReader(open(course.csv))}
    assert {s: (r["duedate"], r["timestamp"], r["raw_score"], r["late_submission_penalty"], r["score"])
            for s, r in rows.items()} == {
        "ada": ("2024-03-01 17:00:00", "2024-03-01 16:59:59", "3.0", "0.0", "3.0"),
        "bob": ("2024-03-01 17:00:00", "2024-03-02 09:00:00", "3.0", str(bob_penalty), str(3.0 - bob_penalty)),
        "cyd": ("2024-03-01 17:00:00", "", "3.0", "0.0", "3.0")}
    # ... as nbgrader's own export writes them, from the same gradebook
    process = nbgrader("export", "--to=nbgrader.csv", cwd=course.root)
    assert process.returncode == 0, process.stderr[-3000:]
    assert list(csv.DictReader(open(course.root / "nbgrader.csv"))) == list(csv.DictReader(open(course.csv)))


def test_the_submission_time_follows_timestamp_txt(released, tmp_path):
    course = course_copy(released, tmp_path)
    write(answered(Assignment("toy", course.root)), course.submitted / "ada" / "toy" / "toy.ipynb")
    stamp = course.submitted / "ada" / "toy" / "timestamp.txt"
    recorded = []
    for text in ("2024-03-01 12:00:00.000000 UTC", "2024-03-02 12:00:00 UTC", None):
        if text:
            stamp.write_text(text)
        else:
            stamp.unlink()
        autograde(course, sandboxed=False, out=quiet(), grader=fake_grading.full_marks)
        with Gradebook(gradebook.db_url(course.db)) as book:
            recorded.append(book.find_submission("toy", "ada").timestamp)
    assert [str(t) for t in recorded] == ["2024-03-01 12:00:00", "2024-03-02 12:00:00", "None"]



def _symlink(path: Path) -> None:
    (path.parent / "early.txt").write_text("2020-01-01 00:00:00 UTC")
    path.symlink_to("early.txt")


@pytest.mark.parametrize("make, reason", [
    (_symlink, "a symbolic link"),
    (os.mkfifo, "a FIFO"),
    (lambda path: path.mkdir(), "a folder"),
    (lambda path: path.write_text("next Tuesday, roughly"), "not a time"),
    (lambda path: path.write_text("2024-03-01 12:00:00 UTC" + " " * 2000), "larger than"),
    (lambda path: path.write_text(""), "empty"),
], ids=["symlink", "fifo", "folder", "not_a_time", "huge", "empty"])
def test_a_timestamp_txt_that_cannot_be_used_is_reported_and_the_grade_still_recorded(released, tmp_path, make,
                                                                                     reason):
    course = course_copy(released, tmp_path)
    write(answered(Assignment("toy", course.root)), course.submitted / "ada" / "toy" / "toy.ipynb")
    make(course.submitted / "ada" / "toy" / "timestamp.txt")
    with deadline(60), pytest.raises(NotAllGraded) as raised:     # a FIFO must not block the grader
        autograde(course, sandboxed=False, out=quiet(), grader=fake_grading.full_marks)
    (problem,) = str(raised.value).splitlines()[1:]
    assert "timestamp.txt: not used" in problem and reason in problem
    assert [r["student"] for r in raised.value.results] == ["ada"]
    assert gradebook.scores(course.db, "toy") == {"ada": (3.0, 3.0)}
    with Gradebook(gradebook.db_url(course.db)) as book:
        assert book.find_submission("toy", "ada").timestamp is None


# --- nbgrader validate ---------------------------------------------------------------------------------

def test_nbgraders_cell_timeout_is_the_kits_limit_per_cell(tmp_path, monkeypatch):
    assert nbgrader_settings.execution_timeout(REPO) == int(Limits().cell_seconds)
    (tmp_path / "grading.toml").write_text("[defaults]\ncell_seconds = 100\n[assignments.big]\ncell_seconds = 600.5\n")
    assert nbgrader_settings.execution_timeout(tmp_path) == 601
    (tmp_path / "grading.toml").write_text("[defaults]\ncell_seconds = -1\n")
    assert nbgrader_settings.execution_timeout(tmp_path) == int(Limits().cell_seconds)   # and a warning
    # A learner's copy of the course has no course_tools: the default limit all the same.
    from traitlets.config.loader import PyFileConfigLoader
    monkeypatch.setitem(sys.modules, "course_tools", None)
    assert PyFileConfigLoader("nbgrader_config.py", path=str(REPO)).load_config().Execute.timeout == Limits().cell_seconds


def test_nbgrader_validate_stops_a_cell_at_the_kits_limit(tmp_path):
    shutil.copy(REPO / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    (tmp_path / "grading.toml").write_text("[defaults]\ncell_seconds = 3\n")
    notebook = add_exercise()
    notebook.cells[1].source = "import time\ntime.sleep(60)\n" + notebook.cells[1].source
    write(notebook, tmp_path / "slow.ipynb")
    process = nbgrader("validate", "slow.ipynb", cwd=tmp_path)
    assert "Timeout waiting for execute reply (3s)" in process.stderr, process.stderr[-3000:]
    assert "VALIDATION FAILED" in process.stdout


def validate(notebook: Path) -> str:
    """`nbgrader validate NOTEBOOK` from the course's root (its nbgrader_config.py); its output."""
    process = nbgrader("validate", str(notebook), cwd=REPO, timeout=1500)
    assert process.returncode == 0, process.stderr[-3000:]
    return process.stdout


ASSIGNMENT_SOURCES = sorted(p for p in REPO.glob(f"{layout.SOURCE}/*/*.ipynb") if p.parent.name != "labs")
LAB_SOURCES = sorted(REPO.glob(f"{layout.SOURCE}/labs/*.ipynb"))


@pytest.mark.parametrize("notebook", ASSIGNMENT_SOURCES, ids=lambda path: path.parent.name)
def test_nbgrader_validate_passes_on_every_assignment_source(notebook, tmp_path):
    # A copy: nbgrader runs a notebook in its own folder, and tweet_sentiment's training writes model/ there
    # (which `make release` would then copy into the release).
    output = validate(Path(shutil.copy(notebook, tmp_path / notebook.name)))
    assert "Success! Your notebook passes all the tests." in output, output[-3000:]


@pytest.mark.parametrize("notebook", LAB_SOURCES, ids=lambda path: path.stem)
def test_every_lab_source_has_metadata_that_nbgrader_accepts(notebook):
    # What `nbgrader validate` checks of a lab besides running it (test_lab_notebooks runs each top to
    # bottom, and the site's build reads that run): its cells' nbgrader metadata, read by nbgrader's own
    # format validator (a duplicate grade_id, a graded cell without points, an unknown schema version raise).
    nbgraderformat.read(str(notebook), as_version=4)


def test_a_learner_can_validate_their_notebook(tmp_path):
    layers = Assignment("layers", REPO)
    output = validate(write(answered(layers), tmp_path / "answered" / "layers.ipynb"))
    assert "Success! Your notebook passes all the tests." in output, output[-3000:]
    output = validate(write(layers.release("layers"), tmp_path / "release" / "layers.ipynb"))
    assert "VALIDATION FAILED" in output and "NotImplementedError" in output
