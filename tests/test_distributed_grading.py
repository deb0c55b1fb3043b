"""Grading on a Dask cluster (`autograde --engine dask --scheduler ADDRESS`): a real
distributed.LocalCluster of several worker processes (no dashboard, ephemeral ports), reached by its
address as a remote cluster would be; this process records the results.

Most tests grade with a fake grader (fake_grading.runs_the_answer: the toy assignment's two tests
applied to the answer, no kernel), so that a class takes seconds; one grades for real, sandboxed.
"""
from __future__ import annotations

import io
import logging
import os
import shutil
import signal
import socket
import threading
import time
import tomllib
from collections import Counter
from pathlib import Path

import pytest
from distributed import Client, LocalCluster
from nbgrader.api import Gradebook

import fake_grading
from course_tools import autograde as autograde_module, cluster, gradebook
from course_tools.assignment import Assignment
from course_tools.autograde import Course, autograde
from grading_support import REPO, add_exercise, answered, deadline, new_course, write

# Each student's answer, and the points it earns by hand: add(1, 2) == 3 is worth 1, add(-2, 2) == 0 is 2.
ANSWERS = {
    "ada": ("def add(a, b):\n    return a + b", 3.0),
    "bob": ("def add(a, b):\n    return abs(a) + b", 1.0),            # 3 == 3, but 4 != 0
    "cyd": ("def add(a, b):\n    return a - b", 0.0),                 # -1, -4
    "dan": ("def add(a, b):\n    return 0 if a < 0 else a + b", 3.0),
    "eve": ("def add(a, b):\n    return a + b + (a < 0)", 1.0),       # 3 == 3, but 1 != 0
    "mallory": ("def add(a, b):\n    return a + b", 3.0),
    "zoe": (None, 0.0),                                                # the release's stub: raises
}


@pytest.fixture(scope="module")
def course_dir(tmp_path_factory):
    root = new_course(tmp_path_factory.mktemp("course"), {"toy": {"toy": add_exercise()}})
    Gradebook(gradebook.db_url(root / "empty.db")).close()   # made once: creating one takes seconds
    return root


@pytest.fixture(scope="module")
def dask_cluster():
    """Three worker processes of one thread each, each under a nanny that restarts it if it dies."""
    with LocalCluster(n_workers=3, threads_per_worker=1, processes=True, dashboard_address=None,
                      scheduler_port=0, silence_logs=logging.CRITICAL) as local:
        yield local


@pytest.fixture
def client(dask_cluster):
    with Client(dask_cluster.scheduler_address, set_as_default=False) as connected:
        yield connected


def make_course(course_dir: Path, folder: Path) -> Course:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(course_dir / "empty.db", folder / "gradebook.db")
    return Course(course_dir, submitted=folder / "submitted", autograded=folder / "autograded",
                  feedback_dir=folder / "feedback", db=folder / "gradebook.db", csv=folder / "grades.csv")


@pytest.fixture
def course(course_dir, tmp_path, monkeypatch, client) -> Course:
    """A course of its own (submitted/, autograded/, gradebook...); the fake grader logs each notebook it
    grades, on any worker, to tmp_path/graded.log."""
    environment = {fake_grading.LOG: str(tmp_path / "graded.log"), fake_grading.HOLD: str(tmp_path / "hold.pid")}
    for name, value in environment.items():
        monkeypatch.setenv(name, value)        # for this process, and workers the nannies start again
    client.run(fake_grading.set_environment, environment)
    return make_course(course_dir, tmp_path / "dask")


def submit_class(course: Course, students=ANSWERS) -> None:
    assignment = Assignment("toy", course.root)
    for student in students:
        code = ANSWERS[student][0]
        notebook = answered(assignment, replace={"add_solution": code}) if code else answered(assignment, answer=set())
        write(notebook, course.submitted / student / "toy" / "toy.ipynb")


def graded_log() -> list[str]:
    log = Path(os.environ[fake_grading.LOG])
    return log.read_text().splitlines() if log.exists() else []


def count_records(monkeypatch) -> Counter:
    """Counts, per student, the results recorded (autograde.record: autograded/, feedback/, gradebook)."""
    recorded, real_record = Counter(), autograde_module.record

    def counting_record(course, result):
        recorded[result["student"]] += 1
        return real_record(course, result)

    monkeypatch.setattr(autograde_module, "record", counting_record)
    return recorded


def outcome(results) -> dict:
    """{student: (score, {grade_id: passed})}, what two engines must agree on."""
    return {r["student"]: (r["score"], {t["grade_id"]: t["passed"] for t in r["tests"]}) for r in results}


def submissions_in_gradebook(course: Course) -> Counter:
    with Gradebook(gradebook.db_url(course.db)) as book:
        return Counter(s.student.id for s in book.assignment_submissions("toy"))


def kill_the_worker_holding_mallory(client: Client, hold: Path, killed: list) -> None:
    """Waits for mallory's grading to write its pid, checks that it is a Dask worker process, SIGKILLs it."""
    stop = time.monotonic() + 60
    while not hold.exists() and time.monotonic() < stop:
        time.sleep(0.05)
    pid = int(hold.read_text())
    worker_pids = client.run(os.getpid)         # {worker address: pid}
    if pid in worker_pids.values():
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)


def test_a_class_graded_on_the_cluster_survives_a_killed_worker_and_is_recorded_once(
        course, client, dask_cluster, monkeypatch):
    submit_class(course)
    recorded = count_records(monkeypatch)
    workers_before = set(client.run(os.getpid).values())
    killed = []
    killer = threading.Thread(target=kill_the_worker_holding_mallory,
                              args=(client, Path(os.environ[fake_grading.HOLD]), killed))
    killer.start()
    out = io.StringIO()
    with deadline(150):
        results = autograde(course, sandboxed=False, out=out, grader=fake_grading.holds_mallory_once,
                            scheduler=dask_cluster.scheduler_address)
    killer.join()
    assert len(killed) == 1 and killed[0] in workers_before          # a worker process really was killed
    assert graded_log().count("mallory") == 2                         # held and killed, then graded again
    assert set(graded_log()) == set(ANSWERS)    # (a result held by the killed worker is computed again)
    assert recorded == Counter(ANSWERS.keys())                                # every notebook recorded, each once
    assert submissions_in_gradebook(course) == Counter(ANSWERS.keys())
    expected = {student: points for student, (_, points) in ANSWERS.items()}
    assert {r["student"]: r["score"] for r in results} == expected
    assert {student: score for student, (score, _) in gradebook.scores(course.db, "toy").items()} == expected
    assert sorted(p.name for p in course.autograded.iterdir()) == sorted(ANSWERS)
    assert "grading on the Dask cluster at tcp://" in out.getvalue()


def test_the_cluster_grades_a_class_as_the_local_engine_does(course, course_dir, dask_cluster, tmp_path):
    submit_class(course)
    on_cluster = autograde(course, sandboxed=False, out=io.StringIO(), grader=fake_grading.runs_the_answer,
                           scheduler=dask_cluster.scheduler_address)
    local = make_course(course_dir, tmp_path / "local")
    shutil.copytree(course.submitted, local.submitted)
    here = autograde(local, sandboxed=False, out=io.StringIO(), grader=fake_grading.runs_the_answer, jobs=1)
    assert outcome(on_cluster) == outcome(here)
    assert {s: score for s, (score, _) in outcome(on_cluster).items()} == {s: p for s, (_, p) in ANSWERS.items()}
    assert gradebook.scores(course.db, "toy") == gradebook.scores(local.db, "toy")
    # the same rows; in the order the students were first recorded (on a cluster: as their results arrived)
    assert sorted(course.csv.read_text().splitlines()) == sorted(local.csv.read_text().splitlines())


def test_a_second_result_for_the_same_notebook_is_ignored_not_recorded_twice(course, dask_cluster, monkeypatch):
    """Recording is keyed by student, assignment, notebook and the notebook's SHA-256: an engine that
    delivered a result twice (a task run again after its first result was already sent) records it once."""
    submit_class(course, ["ada", "bob"])
    recorded = count_records(monkeypatch)
    real_run_jobs = autograde_module._run_jobs

    def twice(*args, **kwargs):
        for submission, result in real_run_jobs(*args, **kwargs):
            yield submission, result
            yield submission, dict(result)

    monkeypatch.setattr(autograde_module, "_run_jobs", twice)
    out = io.StringIO()
    results = autograde(course, sandboxed=False, out=out, grader=fake_grading.runs_the_answer,
                        scheduler=dask_cluster.scheduler_address)
    assert recorded == Counter({"ada": 1, "bob": 1})
    assert sorted(r["student"] for r in results) == ["ada", "bob"]
    assert out.getvalue().count("a second result for the same notebook: ignored") == 2


def test_a_notebook_is_graded_for_real_in_its_sandbox_on_a_cluster_worker(course, dask_cluster):
    submit_class(course, ["ada", "bob"])
    with deadline(240):
        results = autograde(course, sandboxed=True, out=io.StringIO(), scheduler=dask_cluster.scheduler_address)
    assert outcome(results) == {"ada": (3.0, {"add_visible": True, "add_hidden": True}),
                                "bob": (1.0, {"add_visible": True, "add_hidden": False})}
    assert all(r["sha256"] and r["seconds"]["cells"] >= 0 for r in results)   # the real grader's result
    assert gradebook.scores(course.db, "toy") == {"ada": (3.0, 3.0), "bob": (1.0, 3.0)}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_scheduler_address_where_none_answers_fails_with_a_clear_message(course):
    address = f"tcp://127.0.0.1:{closed_port()}"
    submit_class(course, ["ada"])
    with pytest.raises(cluster.ClusterUnavailable) as raised:
        autograde(course, sandboxed=False, out=io.StringIO(), grader=fake_grading.runs_the_answer,
                  scheduler=address, connect_timeout=2)
    message = str(raised.value)
    assert f"cannot reach a Dask scheduler at '{address}' within 2 s" in message
    assert "dask scheduler" in message and "tcp://HOST:PORT" in message
    assert not course.autograded.exists()        # nothing graded, nothing recorded


def test_the_command_exits_2_naming_the_address_it_could_not_reach(course_dir, capsys):
    address = f"tcp://127.0.0.1:{closed_port()}"
    status = autograde_module.main(["--engine", "dask", "--scheduler", address, "--connect-timeout", "2",
                                    "--unsafe", "--course-dir", str(course_dir)])
    assert status == 2
    assert f"autograde: cannot reach a Dask scheduler at '{address}'" in capsys.readouterr().err


def test_the_dask_engine_without_an_address_is_refused_before_anything_runs(capsys, monkeypatch):
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    with pytest.raises(SystemExit) as exited:
        autograde_module.main(["--engine", "dask"])
    assert exited.value.code == 2
    assert "--engine dask needs the scheduler's address: --scheduler tcp://host:8786" in capsys.readouterr().err


def test_a_worker_without_the_course_directory_is_named_with_what_to_mount(tmp_path):
    problem = cluster._worker_problem(str(tmp_path / "course"), sandboxed=False)
    assert problem == (f"no course directory at {tmp_path / 'course'} (solutions/ is missing): "
                       "mount the course there, read-only will do")


def test_dask_is_an_instructors_extra_never_a_learners_dependency():
    learners = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    instructors = tomllib.loads((REPO / "instructor" / "pyproject.toml").read_text())["project"]
    learners_requirements = learners["dependencies"] + sum(learners.get("optional-dependencies", {}).values(), [])
    assert not [r for r in learners_requirements if r.lower().startswith(("dask", "distributed"))]
    assert not [r for r in instructors["dependencies"] if r.lower().startswith(("dask", "distributed"))]
    assert [r for r in instructors["optional-dependencies"]["distributed"] if r.startswith("dask[distributed]>=")]
