"""Grading on a Dask cluster: one task per notebook, run on the cluster's workers, the results back here.

`run(tasks, function, address)` is workers.run's counterpart for `autograde --engine dask`: it connects
to a running Dask scheduler (`dask scheduler`, dask-jobqueue's SLURMCluster, the Dask Kubernetes
operator...), submits one task per notebook (`function(*args)`: collect.grade_in_worker, which grades
it in its own sandbox on the worker), and yields (key, outcome) as each finishes (distributed's
as_completed), so that this process alone, the client, records results as they arrive.

A worker that dies (killed, out of memory, its node gone) costs nothing but time: the scheduler runs
its tasks again on other workers, up to its `distributed.scheduler.allowed-failures` deaths per task
(3 by default); a task that has killed more workers than that comes out as workers.WorkerDied.
An exception the grading raises (a grader failure) is its outcome, not retried here: the next
`make autograde` grades what was not recorded, as with the local engine.

Each worker needs the instructor package (with this extra), bubblewrap, and the course directory at
the same path as here (solutions/, assignments/, grading.toml and submitted/; read-only will do).
"""
from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

from course_tools import sandbox
from course_tools.workers import WorkerDied

CONNECT_TIMEOUT = 30     # seconds to reach the scheduler before giving up
INSTALL = "pip install -e './instructor[distributed]'"


class ClusterUnavailable(RuntimeError):
    """The Dask scheduler cannot be reached, or its workers cannot grade (the message says which and
    what to do)."""


def connect(address: str, timeout: float = CONNECT_TIMEOUT):
    """A distributed.Client connected to the scheduler at `address` (e.g. 'tcp://host:8786').

    Raises:
      ClusterUnavailable: distributed is not installed, `address` is not an address, or no scheduler
        answers there within `timeout` seconds.
    """
    try:
        from distributed import Client
    except ImportError:
        raise ClusterUnavailable(f"grading on a Dask cluster needs the instructor package's 'distributed' "
                                 f"extra (Dask): {INSTALL}, or `make setup`") from None
    if not address:
        raise ClusterUnavailable("grading on a Dask cluster needs the scheduler's address, e.g. "
                                 "--scheduler tcp://host:8786 (make autograde ENGINE=dask SCHEDULER=tcp://host:8786)")
    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as error:
        raise ClusterUnavailable(
            f"cannot reach a Dask scheduler at {address!r} within {timeout:g} s ({type(error).__name__}: "
            f"{error}). Is one running there (`dask scheduler` prints its address), and is the address "
            "tcp://HOST:PORT (port 8786 by default)?") from None


def check_workers(client, course_root: Path, sandboxed: bool) -> int:
    """Checks that every worker connected now can grade: it imports course_tools (this module is
    unpickled there), sees the course directory at `course_root`, and, if `sandboxed`, has a working
    bubblewrap. Returns the number of workers (0 is allowed: tasks wait for workers to join).

    Raises:
      ClusterUnavailable: a worker cannot grade; the message names it and says why.
    """
    try:
        answers = client.run(_worker_problem, str(course_root), sandboxed)
    except Exception as error:   # e.g. course_tools not importable on a worker
        raise ClusterUnavailable(f"the Dask workers cannot run the grader ({type(error).__name__}: {error}): "
                                 f"each worker needs the instructor package ({INSTALL})") from None
    problems = [f"{worker}: {problem}" for worker, problem in sorted(answers.items()) if problem]
    if problems:
        raise ClusterUnavailable("some Dask workers cannot grade:\n  " + "\n  ".join(problems))
    return len(answers)


def _worker_problem(course_root: str, sandboxed: bool) -> str | None:
    """On a worker: why it cannot grade this course, or None."""
    root = Path(course_root)
    if not (root / "solutions").is_dir():
        return (f"no course directory at {root} (solutions/ is missing): mount the course there, "
                "read-only will do")
    if sandboxed:
        try:
            sandbox.check()
        except sandbox.SandboxUnavailable as error:
            return str(error)
    return None


def task_key(identity) -> str:
    """The Dask key of the task grading one notebook: a digest of `identity` (its path, the SHA-256 of its
    content, the grading key), so that the same notebook graded the same way is one task, even
    submitted twice or by two clients, and another file, content or grading is another task."""
    return "grade-notebook-" + hashlib.sha256(json.dumps(identity, default=str).encode()).hexdigest()[:32]


_ONE_AT_A_TIME = threading.Lock()   # a worker with several threads still grades one notebook at a time


def _grade_one(function, args):
    """On a worker: function(*args), one at a time in this process (as a worker of the local pool)."""
    with _ONE_AT_A_TIME:
        return function(*args)


def run(tasks, function, client):
    """Yields (key, outcome) for each (key, identity, args) in `tasks`, as each finishes on the cluster.

    `function` must be importable on the workers (defined at module level in course_tools); the outcome
    is `function(*args)`, or the exception it raised, or WorkerDied when the task killed more workers than
    the scheduler allows. Each key comes out once. If the caller stops early (an error, ^C), the tasks
    not finished are cancelled.
    """
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    futures = {}
    for key, identity, args in tasks:
        future = client.submit(_grade_one, function, args, key=task_key(identity), retries=0)
        futures.setdefault(future.key, (future, []))[1].append(key)
    try:
        for future in as_completed([future for future, _ in futures.values()], loop=client.loop):
            if future.status == "finished":
                outcome = future.result()
            else:
                error = future.exception() if future.status == "error" else None
                if isinstance(error, KilledWorker):
                    outcome = WorkerDied(f"it killed the Dask worker grading it more often than the scheduler "
                                         f"allows (distributed.scheduler.allowed-failures): not graded ({error})")
                elif error is not None:
                    outcome = error
                else:
                    outcome = WorkerDied(f"its Dask task was {future.status} (the scheduler lost it): not graded")
            for key in futures[future.key][1]:
                yield key, outcome
            future.release()
    finally:
        client.cancel([future for future, _ in futures.values() if not future.done()])
