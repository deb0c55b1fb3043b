"""Running grading jobs in worker processes, so that a worker's death costs only its own job.

When a worker process dies (killed by the out-of-memory killer, a signal, a crash), Python's
ProcessPoolExecutor breaks and fails every job it had not finished. `run` then starts a new
pool: the jobs that had started when it broke are run again one at a time, each alone in its
pool, so that a death is known to be that job's; the others go back to a pool of `workers`.
A job whose worker dies when it runs alone comes out as WorkerDied; it is not run a third time.
"""
from __future__ import annotations

import multiprocessing
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path


class WorkerDied(RuntimeError):
    """The worker process grading a job died, twice (the second time running the job alone): the
    job's result is this exception, and nothing else of the run is lost."""


def run(tasks, function, workers: int):
    """Yields (key, outcome) for each (key, args) in `tasks`, as each finishes, in `workers` processes.

    `function` must be picklable (defined at module level); the outcome is `function(*args)`, or the
    exception it raised, or WorkerDied. Each key comes out exactly once. If the caller stops early
    (an error, ^C), the jobs not started yet are cancelled.
    """
    with tempfile.TemporaryDirectory(prefix="course-grade-started-") as started:
        pending, round_number, idle_breaks = list(tasks), 0, 0
        while pending:
            round_number += 1
            marks = Path(started) / str(round_number)
            marks.mkdir()
            unfinished = yield from _round(pending, function, workers, marks)
            suspects = [task for index, task in unfinished if (marks / str(index)).exists()]
            pending = [task for index, task in unfinished if not (marks / str(index)).exists()]
            idle_breaks += bool(unfinished and not suspects)  # it broke before any job started
            if idle_breaks > 1:
                for key, _ in pending:
                    yield key, WorkerDied("the worker processes died before they could grade it")
                return
            yield from _alone(suspects, function)


def _round(pending, function, workers, marks):
    """Runs `pending` in one pool; yields what finishes; returns the (index, task) it did not finish."""
    unfinished, futures = [], {}
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        for index, task in enumerate(pending):
            try:
                futures[pool.submit(_marked, marks / str(index), function, task[1])] = index, task
            except BrokenProcessPool:   # a worker died already: submit the rest to the next pool
                unfinished.append((index, task))
        for future in as_completed(futures):
            index, task = futures[future]
            try:
                outcome = future.result()
            except BrokenProcessPool:
                unfinished.append((index, task))
                continue
            except Exception as error:  # the job's own failure is its outcome
                outcome = error
            yield task[0], outcome
    finally:
        pool.shutdown(cancel_futures=True)
    return unfinished


def _alone(tasks, function):
    """Runs each task alone in a one-worker pool: a death is then that task's, reported as WorkerDied."""
    pool = None
    try:
        for key, args in tasks:
            pool = pool or ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
            try:
                outcome = pool.submit(function, *args).result()
            except BrokenProcessPool:
                outcome = WorkerDied("its worker process died while grading it, twice (killed, e.g. by the "
                                     "out-of-memory killer, or crashed): not graded")
                pool.shutdown()
                pool = None
            except Exception as error:
                outcome = error
            yield key, outcome
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)


def _marked(mark: Path, function, args):
    """In a worker: leaves `mark` (this job has started), then runs the job."""
    os.close(os.open(mark, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
    return function(*args)
