"""Running a rebuilt notebook, cell by cell, in a fresh Jupyter kernel with time limits."""
from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from course_lib.grading import layout

# Run first in every kernel: the grader's seeds, so that grading twice gives the same score.
# (JAX has no global random state: its keys are explicit, so it needs no seed here.)
PREAMBLE = """\
import random as _grader_random
_grader_random.seed(0)
try:
    import numpy as _grader_numpy
    _grader_numpy.random.seed(0)
    del _grader_numpy
except ImportError:
    pass
del _grader_random
"""

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# Where ipykernel stores a cell's code differs from run to run: name it the same way each time.
_CELL_FILE = re.compile(r"/[^\s:'\"]*/ipykernel_\d+/\d+\.py")


@dataclass
class Limits:
    """Time limits for one notebook, in seconds."""
    cell_seconds: float = 300.0
    notebook_seconds: float = 1200.0


@dataclass
class Run:
    """What happened when the cells ran.

    Attributes:
      errors: cell index -> 'ErrorName: message' for each cell that raised.
      finished: how many cells ran (the cells from index `finished` on did not run).
      stopped: why the run ended early, in words for the learner; None if every cell ran.
    """
    errors: dict[int, str] = field(default_factory=dict)
    finished: int = 0
    stopped: str | None = None


def kernel_env(extra: dict | None = None) -> dict[str, str]:
    """The kernel's environment: ours, made deterministic and quiet, plus `extra`."""
    env = layout.with_tools_on_path()
    env.update({
        "PYTHONHASHSEED": "0",       # the same set and dict orders on every run
        "MPLBACKEND": "agg",         # plots are not needed to grade
        "TQDM_DISABLE": "1",         # nor are progress bars
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    })
    env.update(extra or {})
    return env


def run_cells(sources: list[str], workdir: Path, limits: Limits | None = None,
              env: dict | None = None) -> Run:
    """Runs the code `sources` in order in a new Python kernel started in `workdir`.

    A cell that raises does not stop the run. A cell that runs longer than
    `limits.cell_seconds` is interrupted and counts as failed; if the kernel does not
    respond to the interrupt, or dies, or the notebook runs out of
    `limits.notebook_seconds`, the run stops there.
    """
    limits = limits or Limits()
    cells = [nbformat.v4.new_code_cell(PREAMBLE)] + [nbformat.v4.new_code_cell(s) for s in sources]
    notebook = nbformat.v4.new_notebook(
        cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                              "language": "python"}})
    client = NotebookClient(notebook, timeout=limits.cell_seconds, kernel_name="python3",
                            allow_errors=True, interrupt_on_timeout=False, record_timing=False,
                            shutdown_kernel="immediate",
                            resources={"metadata": {"path": str(workdir)}})
    run = Run()
    deadline = time.monotonic() + limits.notebook_seconds
    with client.setup_kernel(env=env or kernel_env(), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL):
        for index, cell in enumerate(cells):
            number = index - 1  # the preamble is not the learner's
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                run.stopped = f"the notebook ran out of its {limits.notebook_seconds:.0f} s time limit"
                break
            client.timeout = max(1, int(min(limits.cell_seconds, remaining)))
            try:
                client.execute_cell(cell, index)
            except CellTimeoutError:
                run.errors[number] = (f"TimeoutError: the cell ran longer than {client.timeout} s "
                                      "and was stopped (an endless loop?)")
                run.finished = number + 1
                if not _interrupt(client, notebook):
                    run.stopped = "a cell ran past its time limit and the kernel did not stop"
                    break
                continue
            except DeadKernelError:
                run.errors[number] = ("the kernel died while running this cell (the code ended "
                                      "Python, crashed, or used too much memory)")
                run.finished = number + 1
                run.stopped = "the kernel died while the notebook ran"
                break
            error = _first_error(cell)
            if error and number >= 0:
                run.errors[number] = error
            run.finished = number + 1
            cell.outputs = []  # keep no outputs: grading needs only the errors
    return run


def _interrupt(client, notebook, grace_seconds=10) -> bool:
    """Interrupts the kernel; True when it answers again within `grace_seconds`."""
    run_sync(client.km.interrupt_kernel)()
    probe = nbformat.v4.new_code_cell("pass")
    notebook.cells.append(probe)
    client.timeout = grace_seconds
    try:
        client.execute_cell(probe, len(notebook.cells) - 1)
        return True
    except (CellTimeoutError, DeadKernelError):
        return False
    finally:
        notebook.cells.remove(probe)


def _first_error(cell) -> str | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            name = output.get("ename", "Error")
            value = _CELL_FILE.sub("<cell>", _ANSI.sub("", str(output.get("evalue", ""))))
            if name == "NotImplementedError" and not value.strip():
                value = "not implemented yet (the answer cell still raises NotImplementedError)"
            return f"{name}: {value}".strip()
    return None


def execute_notebook(path: Path, workdir: Path, timeout: float = 600.0,
                     env: dict | None = None) -> nbformat.NotebookNode:
    """Runs the notebook at `path` top to bottom in `workdir` and returns it with its outputs.

    Raises:
      nbclient.exceptions.CellExecutionError: a cell raised (the message shows which, and the traceback).
    """
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=int(timeout), kernel_name="python3",
                            resources={"metadata": {"path": str(workdir)}})
    client.execute(env=env or kernel_env({"TQDM_DISABLE": "0"}), stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return notebook
