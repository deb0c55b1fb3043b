"""Running a rebuilt notebook, cell by cell, in a fresh kernel in a sandbox, within limits,
with each test judged here, outside the kernel (judge.py).

The host (this process) runs nbclient; the kernel runs in the sandbox (sandbox.py)
and all that comes back from it are Jupyter messages, JSON, bounded and parsed
defensively (kernel_client.py). Nothing the kernel produces is unpickled or executed
here. Outputs are not kept, only each cell's error and the probes' results (wire data).

A test cell is not run in the kernel: its probes are defined there, and its judge runs
here, calling them (see judge.py).
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from course_tools import layout
from course_tools.judge import StopRun, Test, run_judge
from course_tools.kernel_client import GradingClient, bound_session, bounded_context
from course_tools.limits import Limits
from course_tools.sandbox import KERNEL_SETTINGS, Sandbox, fast_compile_settings
from course_lib.testing import ProbeFailed, WireError, decode, encode

PREAMBLE_SECONDS = 120  # the preamble imports numpy, jax, course_lib: not the learner's time

# Run first in the kernel, without history: seeds, then the probes' runner under a name drawn
# at random for each run. The runner defines a test's probes (their globals: the notebook's)
# and calls one on arguments sent as wire data, publishing its result or its error as wire data.
_PREAMBLE = '''\
def _course_grader_setup(token):
    import builtins, json, random, types
    random.seed(0)
    import numpy
    numpy.random.seed(0)
    from IPython import get_ipython
    from IPython.display import publish_display_data
    from course_lib.testing import MIME, decode, encode
    probes = {}

    def define(source):
        probes.clear()
        exec(compile(source, "<test>", "exec"), get_ipython().user_ns, probes)

    def call(name, arguments):
        args, kwargs = decode(arguments)
        try:
            result = {"value": encode(probes[name](*args, **kwargs))}
        except (Exception, SystemExit) as error:
            try:
                message = str(error)[:2000]
            except Exception:
                message = "(its message could not be read)"
            result = {"error": [type(error).__name__, message]}
        publish_display_data({MIME: json.dumps(result)})

    setattr(builtins, token, types.SimpleNamespace(define=define, call=call))

_course_grader_setup(TOKEN)
del _course_grader_setup
'''


def preamble(token: str) -> str:
    """The code run first in the kernel: seeds, then the probes' runner, as builtins.<token>."""
    return _PREAMBLE.replace("TOKEN", repr(token))


class GraderError(RuntimeError):
    """The grader itself failed (e.g. a kernel could not start): no grade should be recorded."""


@dataclass
class Run:
    """What happened when the cells ran.

    Attributes:
      errors: cell index -> 'ErrorName: message' for each cell that failed.
      finished: how many cells ran (the cells from index `finished` on did not run).
      stopped: why the run ended early, in words for the learner; None if every cell ran.
      limits_hit: the limits some cell ran into, in words (a cell's own error may not say,
        e.g. the NameError of a test whose answer cell ran out of memory).
      seconds: where the time went, in seconds: "kernel_start", "preamble", "cells" (the notebook's
        own cells) and "tests" (defining and calling the probes in the kernel, and the judges here).
    """
    errors: dict[int, str] = field(default_factory=dict)
    finished: int = 0
    stopped: str | None = None
    limits_hit: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(
        ("kernel_start", "preamble", "cells", "tests"), 0.0))

    def hit(self, what: str) -> None:
        if what not in self.limits_hit:
            self.limits_hit.append(what)


def kernel_env(extra: dict | None = None) -> dict[str, str]:
    """The environment of a kernel run without a sandbox: ours with this Python's tools on PATH,
    the settings of a sandboxed kernel (sandbox.KERNEL_SETTINGS), then `extra`."""
    env = layout.with_tools_on_path()
    env.update(KERNEL_SETTINGS)
    env.update(extra or {})
    return env


def run_cells(sources: list[str], tests: dict[int, Test] | None = None, imports: str = "",
              limits: Limits | None = None, sandboxed: bool = True, data_dir=None,
              compile_cache: Path | None = None) -> Run:
    """Runs the code `sources` in order in a new Python kernel; judges the test cells here.

    Args:
      sources: the cells' code.
      tests: index of each test cell -> the test (judge.split): its probes are defined in the
        kernel, its judge runs here; the cell's own code is not run in the kernel.
      imports: the instructor's import lines, run in each judge's namespace.
      limits: see limits.Limits.
      sandboxed: run the kernel in the sandbox (False only for trusted notebooks: --unsafe).
      data_dir: the NLTK data directory to show the kernel (read-only).
      compile_cache: a filled JAX compilation cache to show the sandboxed kernel, read-only
        (compile_cache.py); ignored without the sandbox, where nothing would keep it read-only.

    A cell that raises does not stop the run; a test whose judge raises (or whose probe's call
    into the learner's code raised and the judge did not catch it) fails with that message. A
    cell or a probe's call past its time or the output limit is interrupted and fails; if the
    kernel does not respond to the interrupt, or dies, or the notebook runs out of time, the run
    stops there. The notebook's time starts after the grader's preamble. The learner's cells
    share one output budget (limits.output_kb); each test cell has a budget of its own, so that
    a chatty answer cell does not make the tests after it fail.

    Raises:
      GraderError: the kernel could not be started, or the grader's preamble failed in it.
      sandbox.SandboxUnavailable: no sandbox can be made here (and `sandboxed` is true).
    """
    limits, tests = limits or Limits(), tests or {}
    token = "_" + secrets.token_hex(12)
    cells = [nbformat.v4.new_code_cell(preamble(token))]
    cells += [nbformat.v4.new_code_cell(s) for s in sources]
    notebook = nbformat.v4.new_notebook(cells=cells)
    own_budget = {0, *(i + 1 for i in tests)}  # the preamble's and the tests' cell indices
    context = bounded_context()
    try:
        if sandboxed:
            with Sandbox(limits, data_dir, compile_cache) as box:
                km = box.kernel_manager()
                km.context = context
                client = GradingClient(notebook, limits, own_budget, km=km)
                # What starts bwrap (env -i: nothing of it reaches the sandbox; sandbox.kernel_environment).
                runner = _Runner(client, cells, tests, imports, limits, token, box)
                return runner.run(box.scratch, dict(os.environ))
        with tempfile.TemporaryDirectory(prefix="course-grade-") as scratch:
            km = AsyncKernelManager(kernel_name="python3", context=context)
            client = GradingClient(notebook, limits, own_budget, km=km)
            data = {"COURSE_DATA_DIR": str(data_dir)} if data_dir else {}
            env = kernel_env({**fast_compile_settings(), **data})
            return _Runner(client, cells, tests, imports, limits, token).run(Path(scratch), env)
    finally:
        context.destroy(linger=0)


class _Runner:
    """One run: the kernel's cells in order, the tests' judges here."""

    def __init__(self, client, cells, tests, imports, limits, token, box=None):
        self.client, self.cells, self.tests, self.imports = client, cells, tests, imports
        self.limits, self.token, self.box, self.result = limits, token, box, Run()
        self.deadline = float("inf")

    def run(self, workdir, env) -> Run:
        """Starts the kernel, runs the preamble (cells[0]), then the notebook's cells; the kernel is
        shut down and the client's channels stopped however it ends."""
        client, run = self.client, self.result
        client.resources = {"metadata": {"path": str(workdir)}}
        bound_session(client.km.session, client.received)
        clock = time.monotonic()
        with contextlib.ExitStack() as stack:
            try:  # cleanup_kc: nbclient leaves a kernel manager it was given (the sandbox's) running
                stack.enter_context(client.setup_kernel(env=env, cwd=str(workdir), stdout=subprocess.DEVNULL,
                                                        stderr=subprocess.DEVNULL, cleanup_kc=True))
            except Exception as error:
                why = f" ({self.box.diagnose()})" if self.box else ""   # what does the sandbox lack?
                raise GraderError(f"the kernel could not start: {type(error).__name__}: {error}{why}") from error
            clock = self._spent("kernel_start", clock)
            _run_preamble(client, self.cells[0], max(self.limits.cell_seconds, PREAMBLE_SECONDS))
            clock = self._spent("preamble", clock)
            self.deadline = time.monotonic() + self.limits.notebook_seconds
            for number in range(len(self.cells) - 1):
                if time.monotonic() >= self.deadline:
                    run.stopped = f"the notebook ran out of its {self.limits.notebook_seconds:g} s time limit"
                    break
                try:
                    if number in self.tests:
                        self._judge(number)
                    else:
                        self._cell(number)
                except StopRun as stop:   # the cell (or test) that was running fails with the reason
                    run.stopped = str(stop)
                    run.errors.setdefault(number, f"not finished: {stop}")
                    run.finished = number + 1
                    break
                finally:
                    clock = self._spent("tests" if number in self.tests else "cells", clock)
                run.finished = number + 1
        return run

    def _spent(self, what: str, since: float) -> float:
        """Adds the time since `since` to `what` in the run's seconds; returns now."""
        now = time.monotonic()
        self.result.seconds[what] += now - since
        return now

    def _execute(self, number: int, cell) -> str | None:
        """Runs `cell` as cell `number` of the notebook; its failure message, or None.

        Raises:
          StopRun: the kernel died, or did not answer after an interrupt.
        """
        client, run, index = self.client, self.result, number + 1
        client.timeout = seconds = max(1, int(min(self.limits.cell_seconds, self.deadline - time.monotonic())))
        try:
            client.execute_cell(cell, index, store_history=number not in self.tests)
        except CellTimeoutError:
            run.hit(f"a cell ran longer than its time limit ({seconds} s)")
            client.stop_pollers()
            if not _interrupt(client, self.cells):
                raise StopRun("a cell ran past its time limit and the kernel did not stop") from None
            return f"TimeoutError: the cell ran longer than {seconds} s and was stopped (an endless loop?)"
        except DeadKernelError:
            run.errors.setdefault(number, "the kernel died while running this cell (the code ended "
                                          "Python, crashed, or used more memory than allowed)")
            raise StopRun("the kernel died while the notebook ran") from None
        except Exception as error:  # e.g. an execute_reply that is not what the protocol says
            client.stop_pollers()
            run.errors.setdefault(number, f"MalformedMessage: {type(error).__name__}: {str(error)[:200]}")
            raise StopRun("the kernel sent a message the grader could not read") from None
        if client.limit_hit(index):
            run.hit(_LIMIT_NOTES[client.limit_hit(index)].format(limits=self.limits))
        return client.failure(index)

    def _cell(self, number: int) -> None:
        error = self._execute(number, self.cells[number + 1])
        if error:
            self.result.errors[number] = error

    def _judge(self, number: int) -> None:
        """Defines the test's probes in the kernel, then runs its judge here."""
        test, index = self.tests[number], number + 1
        if test.probes:
            self.client.forget(index)
            source = f"{self.token}.define({test.probe_source!r})"
            error = self._execute(number, nbformat.v4.new_code_cell(source))
            if error:
                self.result.errors[number] = f"the test could not be set up in your kernel: {error}"
                return
        message = run_judge(test, self.imports, lambda name, args, kwargs: self._call(number, name, args, kwargs))
        if message:
            self.result.errors[number] = message

    def _call(self, number: int, name: str, args, kwargs):
        """Runs probe `name` in the kernel on (args, kwargs); its result, as wire data.

        Raises:
          ProbeFailed: the probe raised, ran out of time or output, or sent no valid result.
          StopRun: the kernel died, or the notebook ran out of time.
        """
        if time.monotonic() >= self.deadline:
            raise StopRun(f"the notebook ran out of its {self.limits.notebook_seconds:g} s time limit")
        index = number + 1
        self.client.forget(index)
        arguments = json.dumps(encode([list(args), dict(kwargs)]))
        error = self._execute(number, nbformat.v4.new_code_cell(f"{self.token}.call({name!r}, {arguments!r})"))
        results = self.client.results(index)
        if error and (self.client.limit_hit(index) or not results):
            ename, _, evalue = error.partition(": ")
            raise ProbeFailed(name, ename, evalue)
        if len(results) != 1:
            raise ProbeFailed(name, "NoResult", f"the test got {len(results)} results from one call of your code, "
                                                "not 1 (did your code print to the test's channel or stop it?)")
        try:
            result = decode(results[0], max_bytes=self.limits.result_mb * 1024 * 1024)
            if not isinstance(result, dict) or len(result) != 1:
                raise WireError("not a probe's result")
            if "error" in result:
                ename, evalue = (str(part) for part in result["error"])
                raise ProbeFailed(name, ename[:200], evalue[:2000])
            return result["value"]
        except (WireError, KeyError, TypeError, ValueError) as failure:
            raise ProbeFailed(name, "WireError", str(failure)[:300]) from None


def _run_preamble(client, cell, seconds) -> None:
    """Runs the grader's preamble (cell 0) within `seconds`. It is not the learner's code, so
    however it fails, the grader has failed.

    Raises:
      GraderError: the preamble raised, ran past `seconds` or the kernel died running it.
    """
    client.timeout = int(seconds)
    try:
        client.execute_cell(cell, 0, store_history=False)
    except CellTimeoutError as error:
        raise GraderError(f"the grader's preamble ran longer than {client.timeout} s") from error
    except DeadKernelError as error:
        raise GraderError("the kernel died while running the grader's preamble") from error
    if client.failure(0):
        raise GraderError(f"the grader's preamble failed in the kernel: {client.failure(0)}")


_LIMIT_NOTES = {
    "memory": "a cell ran out of the memory limit ({limits.memory_mb} MiB)",
    "processes": "the notebook reached its limit of processes and threads ({limits.processes})",
    "output": "a cell was stopped at the output limit ({limits.output_kb} KiB)",
    "file": "a cell wrote a file larger than the limit ({limits.file_mb} MiB)",
}


def _interrupt(client, cells, grace_seconds=10) -> bool:
    """Interrupts the kernel; True when it answers again within `grace_seconds`."""
    run_sync(client.km.interrupt_kernel)()
    probe = nbformat.v4.new_code_cell("pass")
    cells.append(probe)
    client.timeout = grace_seconds
    try:
        client.execute_cell(probe, len(cells) - 1, store_history=False)
        return True
    except (CellTimeoutError, DeadKernelError):
        client.stop_pollers()
        return False
    finally:
        cells.remove(probe)


def execute_notebook(path: Path, workdir: Path, timeout: float = 600.0,
                     env: dict | None = None, allow_errors: bool = False) -> nbformat.NotebookNode:
    """Runs a trusted notebook (a lab, a reference solution) top to bottom in `workdir`, unsandboxed,
    and returns it with its outputs. With `allow_errors`, a cell that raises does not stop the run:
    its error is in its outputs (output_type 'error').

    Raises:
      nbclient.exceptions.CellExecutionError: a cell raised, without `allow_errors` (the message
        shows which, and the traceback).
    """
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=int(timeout), kernel_name="python3", allow_errors=allow_errors,
                            resources={"metadata": {"path": str(workdir)}})
    # JAX on whatever device the host has: a lab is not graded.
    labs_env = {"TQDM_DISABLE": "0", "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "")}
    client.execute(env=env or kernel_env(labs_env), stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return notebook
