"""Resource limits for grading one notebook: defaults, and per-assignment overrides in grading.toml.

    # grading.toml, at the course's root
    [defaults]                  # for every assignment
    notebook_seconds = 1200

    [assignments.tweet_sentiment]
    cell_seconds = 240

Unknown keys are an error, so that a typo does not silently leave a limit at its default.
"""
from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

CONFIG_NAME = "grading.toml"


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one submission may use. The defaults are generous for the course's notebooks.

    Attributes:
      cell_seconds: wall time of one cell; past it the cell is interrupted and fails.
      notebook_seconds: wall time of the learner's cells, counted once the grader's preamble
        has run (kernel start and imports are not the learner's time); past it the run stops.
      memory_mb: address space of each process of the kernel (RLIMIT_AS), in MiB; when the
        grader runs as root with writable cgroups, also the memory of the whole sandbox.
      processes: processes and threads of the sandbox (pids cgroup, else RLIMIT_NPROC).
      output_kb: output (printed text, displays, errors), in KiB: the learner's cells share one
        budget of this size, each test cell has its own; past it the cell is interrupted and fails.
      file_mb: largest file the notebook may write (RLIMIT_FSIZE), in MiB.
      result_mb: largest result one call of a test's probe may send back to the grader, in MiB.
    """
    cell_seconds: float = 300.0
    notebook_seconds: float = 1200.0
    memory_mb: int = 4096
    processes: int = 256
    output_kb: int = 2048
    file_mb: int = 512
    result_mb: int = 16


def load(course_dir: Path, assignment: str | None = None) -> Limits:
    """The limits for `assignment`: the defaults, then grading.toml's [defaults], then its own table.

    Raises:
      ValueError: grading.toml is not valid TOML, has a key that is not a limit, or a value that
        is not a positive number (a whole number for all but the seconds).
    """
    path = Path(course_dir) / CONFIG_NAME
    if not path.exists():
        return Limits()
    try:
        config = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path}: not valid TOML: {error}") from None
    defaults, assignments = config.get("defaults", {}), config.get("assignments", {})
    own = assignments.get(assignment, {}) if assignment and isinstance(assignments, dict) else {}
    for name, table in (("defaults", defaults), ("assignments", assignments), (f"assignments.{assignment}", own)):
        if not isinstance(table, dict):
            raise ValueError(f"{path}: [{name}] must be a table, got {table!r}.")
    values = {**defaults, **own}
    known = {f.name for f in dataclasses.fields(Limits)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"{path}: unknown limits {sorted(unknown)}; the limits are {sorted(known)}.")
    for key, value in values.items():
        _check(path, key, value)
    return Limits(**values)


def _check(path: Path, key: str, value) -> None:
    """Raises ValueError unless `value` is a positive number, a whole one unless `key` is in seconds."""
    kinds = (int, float) if key.endswith("_seconds") else (int,)
    if isinstance(value, bool) or not isinstance(value, kinds) or not value > 0:
        kind = "number" if float in kinds else "whole number"
        raise ValueError(f"{path}: {key} must be a positive {kind}, got {value!r}.")
