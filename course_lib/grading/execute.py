"""Running a rebuilt notebook, cell by cell, in a fresh kernel in a sandbox, within limits.

The host (this process) runs nbclient; the kernel runs in the sandbox (sandbox.py)
and all that comes back from it are Jupyter messages, JSON, which nbclient
parses. Nothing the kernel produces is unpickled or executed here. Outputs are
not kept, only each cell's error; whether a cell failed is read both from its
error output and from its execute_reply.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from course_lib.grading import guard, layout
from course_lib.grading.limits import Limits
from course_lib.grading.sandbox import KERNEL_SETTINGS, Sandbox

MAX_ERROR = 100_000   # characters of an error message kept here (grade.py scrubs, then cuts to 1000)
PREAMBLE_SECONDS = 120  # the preamble imports numpy, jax, course_lib: not the learner's time
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# Where ipykernel stores a cell's code differs from run to run: name it the same way each time.
_CELL_FILE = re.compile(r"/[^\s:'\"]*/ipykernel_\d+/\d+\.py")


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
    """
    errors: dict[int, str] = field(default_factory=dict)
    finished: int = 0
    stopped: str | None = None
    limits_hit: list[str] = field(default_factory=list)

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


def run_cells(sources: list[str], tests: set[int] = frozenset(), instructor_imports: str = "",
              limits: Limits | None = None, sandboxed: bool = True, data_dir=None,
              guarded_modules: list[str] = guard.MODULES) -> Run:
    """Runs the code `sources` in order in a new Python kernel.

    Args:
      sources: the cells' code.
      tests: indices of the test cells: they run guarded (guard.py) and out of the kernel's history.
      instructor_imports: import lines of the instructor's cells, re-run before each test.
      limits: see limits.Limits.
      sandboxed: run the kernel in the sandbox (False only for trusted notebooks: --unsafe).
      data_dir: the NLTK data directory to show the kernel (read-only).
      guarded_modules: the modules restored before each test (guard.py).

    A cell that raises does not stop the run. A cell past its time or the output
    limit is interrupted and fails; if the kernel does not respond to the interrupt,
    or dies, or the notebook runs out of time, the run stops there. The notebook's time
    starts after the grader's preamble. The learner's cells share one output budget
    (limits.output_kb); each test cell has a budget of its own, so that a chatty answer
    cell does not make the tests after it fail.

    Raises:
      GraderError: the kernel could not be started, or the grader's preamble failed in it.
      sandbox.SandboxUnavailable: no sandbox can be made here (and `sandboxed` is true).
    """
    limits = limits or Limits()
    token = guard.new_token()
    prologue = guard.test_prologue(token, instructor_imports)
    cells = [nbformat.v4.new_code_cell(guard.preamble(token, guarded_modules))]
    cells += [nbformat.v4.new_code_cell(prologue + s if i in tests else s) for i, s in enumerate(sources)]
    notebook = nbformat.v4.new_notebook(cells=cells)
    own_budget = {0, *(i + 1 for i in tests)}  # the preamble's and the tests' cell indices
    if sandboxed:
        with Sandbox(limits, data_dir) as box:
            client = _GradingClient(notebook, limits, own_budget, km=box.kernel_manager())
            # bwrap's own environment; it gives the kernel a clean one (sandbox._environment).
            return _run(client, cells, tests, limits, box.scratch, env=dict(os.environ))
    with tempfile.TemporaryDirectory(prefix="course-grade-") as scratch:
        client = _GradingClient(notebook, limits, own_budget, kernel_name="python3")
        env = kernel_env({"COURSE_DATA_DIR": str(data_dir)} if data_dir else None)
        return _run(client, cells, tests, limits, Path(scratch), env)


def _run(client, cells, tests, limits, workdir, env) -> Run:
    """Starts the kernel, runs the preamble (cells[0]), then the learner's cells; the kernel is
    shut down and the client's channels stopped however it ends."""
    run = Run()
    client.resources = {"metadata": {"path": str(workdir)}}
    with contextlib.ExitStack() as stack:
        try:  # cleanup_kc: nbclient leaves a kernel manager it was given (the sandbox's) running
            stack.enter_context(client.setup_kernel(env=env, cwd=str(workdir), stdout=subprocess.DEVNULL,
                                                    stderr=subprocess.DEVNULL, cleanup_kc=True))
        except Exception as error:
            box = Sandbox.with_scratch(workdir)  # the sandbox it was to start in: what does it lack?
            why = f" ({box.diagnose()})" if box else ""
            raise GraderError(f"the kernel could not start: {type(error).__name__}: {error}{why}") from error
        _run_preamble(client, cells[0], max(limits.cell_seconds, PREAMBLE_SECONDS))
        deadline = time.monotonic() + limits.notebook_seconds
        for number, cell in enumerate(cells[1:]):
            index = number + 1  # the cell's index in the notebook, after the preamble
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                run.stopped = f"the notebook ran out of its {limits.notebook_seconds:g} s time limit"
                break
            client.timeout = max(1, int(min(limits.cell_seconds, remaining)))
            try:
                client.execute_cell(cell, index, store_history=number not in tests)
            except CellTimeoutError:
                run.errors[number] = (f"TimeoutError: the cell ran longer than {client.timeout} s "
                                      "and was stopped (an endless loop?)")
                run.hit(f"a cell ran longer than its time limit ({client.timeout} s)")
                run.finished = number + 1
                client.stop_pollers()
                if not _interrupt(client, cells):
                    run.stopped = "a cell ran past its time limit and the kernel did not stop"
                    break
                continue
            except DeadKernelError:
                run.errors[number] = ("the kernel died while running this cell (the code ended "
                                      "Python, crashed, or used more memory than allowed)")
                run.finished = number + 1
                run.stopped = "the kernel died while the notebook ran"
                break
            error = client.failure(index)
            if error:
                run.errors[number] = error
            if client.limit_hit(index):
                run.hit(_LIMIT_NOTES[client.limit_hit(index)].format(limits=limits))
            run.finished = number + 1
    return run


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


class _GradingClient(NotebookClient):
    """An nbclient that keeps no outputs, counts their size, and records each cell's failure
    and the limit it ran into.

    Output is counted against a budget of limits.output_kb: the cells of `own_budget` (cell
    indices) each have their own, all other cells share one.
    """

    def __init__(self, notebook, limits: Limits, own_budget: set[int] = frozenset(), **kwargs):
        super().__init__(notebook, timeout=limits.cell_seconds, allow_errors=True,
                         interrupt_on_timeout=False, record_timing=False,
                         shutdown_kernel="immediate", on_cell_executed=self._on_executed, **kwargs)
        self._output_limit = limits.output_kb * 1024
        self._own_budget = own_budget
        self._spent: dict[int | None, int] = {}  # budget (a cell index, or None: shared) -> bytes
        self._errors: dict[int, str] = {}
        self._limits: dict[int, str] = {}        # cell index -> a key of _LIMIT_NOTES
        self._pollers: set = set()

    async def _async_poll_output_msg(self, *args):
        return await self._tracked(super()._async_poll_output_msg(*args))

    async def _async_poll_kernel_alive(self):
        return await self._tracked(super()._async_poll_kernel_alive())

    async def _tracked(self, coroutine):
        task = asyncio.current_task()
        self._pollers.add(task)
        try:
            return await coroutine
        finally:
            self._pollers.discard(task)

    def stop_pollers(self) -> None:
        """Cancels the listeners a timed-out cell leaves behind (nbclient does not): else they
        would swallow the next cells' messages."""
        for task in list(self._pollers):
            task.cancel()

    def failure(self, index) -> str | None:
        """The cell's failure: its output limit, its error output, or its execute_reply's error."""
        if self._limits.get(index) == "output":
            return (f"OutputLimitError: the output went past its limit ({self._output_limit // 1024} KiB) "
                    "and the cell was stopped")
        return self._errors.get(index)

    def limit_hit(self, index) -> str | None:
        """The limit the cell ran into (a key of _LIMIT_NOTES), or None."""
        return self._limits.get(index)

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        budget = cell_index if cell_index in self._own_budget else None
        self._spent[budget] = self._spent.get(budget, 0) + len(str(content))
        if msg.get("msg_type") == "error":
            self._record_error(cell_index, content)
        if self._spent[budget] > self._output_limit and self._limits.get(cell_index) != "output":
            self._limits[cell_index] = "output"
            asyncio.ensure_future(self.km.interrupt_kernel())
        return None  # outputs are not kept

    def _on_executed(self, cell, cell_index, execute_reply):
        content = (execute_reply or {}).get("content", {})
        if content.get("status") == "error":  # even if the error output was suppressed
            self._record_error(cell_index, content)
        elif content.get("status") not in ("ok", None):
            self._errors.setdefault(cell_index, f"the cell ended with status {content.get('status')!r}")

    def _record_error(self, cell_index, content) -> None:
        """Keeps the cell's first error, and the limit it shows the cell ran into."""
        if cell_index not in self._errors:
            self._errors[cell_index] = _describe(content)
            if _limit_of(content):
                self._limits.setdefault(cell_index, _limit_of(content))


_LIMIT_NOTES = {
    "memory": "a cell ran out of the memory limit ({limits.memory_mb} MiB)",
    "processes": "the notebook reached its limit of processes and threads ({limits.processes})",
    "output": "a cell was stopped at the output limit ({limits.output_kb} KiB)",
    "file": "a cell wrote a file larger than the limit ({limits.file_mb} MiB)",
}


def _limit_of(content) -> str | None:
    """The limit (a key of _LIMIT_NOTES) an error shows its cell ran into, or None.

    Read from the exception's type and errno, which the limits produce, not from anywhere in
    its message: a learner's ValueError('MemoryError') is no limit.
    """
    name, value = content.get("ename"), str(content.get("evalue", ""))
    if name == "MemoryError":
        return "memory"
    if (name == "RuntimeError" and value.startswith("can't start new thread")
            or name == "BlockingIOError" and value.startswith("[Errno 11]")):  # EAGAIN: RLIMIT_NPROC
        return "processes"
    if name == "OSError" and value.startswith("[Errno 27]"):                     # EFBIG: RLIMIT_FSIZE
        return "file"
    return None


def _describe(content) -> str:
    """'ErrorName: message' for an error's content, without colours or run-dependent paths."""
    name = str(content.get("ename", "Error"))[:200]
    value = _CELL_FILE.sub("<cell>", _ANSI.sub("", str(content.get("evalue", ""))))[:MAX_ERROR]
    if name == "NotImplementedError" and not value.strip():
        value = "not implemented yet (the answer cell still raises NotImplementedError)"
    if _limit_of(content) == "processes":
        value += " (the notebook reached its limit of processes and threads)"
    return f"{name}: {value}".strip()


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
                     env: dict | None = None) -> nbformat.NotebookNode:
    """Runs a trusted notebook (a lab, a reference solution) top to bottom in `workdir`, unsandboxed,
    and returns it with its outputs.

    Raises:
      nbclient.exceptions.CellExecutionError: a cell raised (the message shows which, and the traceback).
    """
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=int(timeout), kernel_name="python3",
                            resources={"metadata": {"path": str(workdir)}})
    # JAX on whatever device the host has: a lab is not graded.
    labs_env = {"TQDM_DISABLE": "0", "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "")}
    client.execute(env=env or kernel_env(labs_env), stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return notebook
