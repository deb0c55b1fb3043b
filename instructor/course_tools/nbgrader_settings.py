"""What this kit and nbgrader's own tools share of nbgrader's configuration (nbgrader_config.py).

  - `execution_timeout`: the seconds nbgrader gives a cell when it runs a notebook (`nbgrader
    validate`, and nbgrader's own autograde) come from the kit's limits (grading.toml's
    cell_seconds), not from nbgrader's default of 30 s;
  - `late_penalty`: the late-submission penalty that nbgrader's configuration sets
    (`c.LateSubmissionPlugin.penalty_method`, or a plugin of its own in
    `c.AssignLatePenalties.plugin_class`), which the kit applies when it records a submission
    that came after its due date (see gradebook.record);
  - `hide_labs`: nbgrader's own listing of the assignments (formgrader's "Manage Assignments", and
    every NbGraderAPI call that walks solutions/) leaves out solutions/labs/, the labs' sources,
    which are not an assignment (labs.py).
"""
from __future__ import annotations

import math
import sys
import tomllib
from pathlib import Path
from typing import Callable

from course_tools import limits as limits_module

CONFIG_NAME = "nbgrader_config.py"

# penalty(student, score, seconds_late) -> the points taken off, or None for none
Penalty = Callable[[str, float, float], "float | None"]


def execution_timeout(course_dir) -> int:
    """Seconds per cell for nbgrader's Execute preprocessor: the largest cell_seconds of the kit's
    limits over grading.toml's [defaults] and every [assignments.<name>] (nbgrader has one timeout
    for all assignments), rounded up to a whole second. With an invalid grading.toml (which the
    kit's grader refuses anyway), the default limit, and a warning on stderr."""
    course_dir = Path(course_dir)
    try:
        names = [None, *_assignments_in_grading_toml(course_dir)]
        seconds = max(limits_module.load(course_dir, name).cell_seconds for name in names)
    except (OSError, ValueError) as error:
        print(f"nbgrader_config.py: {error}; nbgrader's cell timeout is the default "
              f"{limits_module.Limits().cell_seconds:g} s", file=sys.stderr)
        seconds = limits_module.Limits().cell_seconds
    return max(1, math.ceil(seconds))


def _assignments_in_grading_toml(course_dir: Path) -> list[str]:
    path = course_dir / limits_module.CONFIG_NAME
    if not path.exists():
        return []
    try:
        tables = tomllib.loads(path.read_text()).get("assignments", {})
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path}: not valid TOML: {error}") from None
    return sorted(tables) if isinstance(tables, dict) else []


def load_config(course_dir):
    """nbgrader's configuration as nbgrader's commands read it: nbgrader_config.py in each Jupyter
    configuration folder (system-wide, then the user's), then the course's own, each overriding
    the ones before."""
    from jupyter_core.paths import jupyter_config_path
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = Config()
    folders = [*reversed(jupyter_config_path()), str(Path(course_dir).resolve())]
    seen = set()
    for folder in folders:
        path = Path(folder, CONFIG_NAME)
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        config.merge(PyFileConfigLoader(CONFIG_NAME, path=str(folder)).load_config())
    return config


def late_penalty(course_dir) -> Penalty | None:
    """The late-submission penalty of the course's nbgrader configuration, as a function
    penalty(student, score, seconds_late) -> points off (None: no penalty); None when the
    configuration sets no penalty (nbgrader's default, penalty_method 'none').

    Raises:
      ImportError, traitlets.TraitError: the configured plugin class cannot be loaded.
    """
    from nbgrader.plugins import LateSubmissionPlugin
    from nbgrader.preprocessors import AssignLatePenalties

    config = load_config(course_dir)
    folder = str(Path(course_dir).resolve())
    sys.path.insert(0, folder)     # nbgrader imports a plugin from the course's folder (its cwd) too
    try:
        assigner = AssignLatePenalties(config=config)
        assigner.init_plugin()
    finally:
        sys.path.remove(folder)
    plugin = assigner.plugin_inst
    if type(plugin) is LateSubmissionPlugin and plugin.penalty_method == "none":
        return None
    return plugin.late_submission_penalty


def hide_labs() -> None:
    """Makes nbgrader's `NbGraderAPI.get_source_assignments` (every folder of the source directory)
    leave out `layout.LABS`, the labs' sources. nbgrader has no setting for it: nbgrader_config.py
    calls this, and formgrader reads that file before each use of the API. Idempotent."""
    from nbgrader.apps.api import NbGraderAPI

    from course_tools import layout

    listed = NbGraderAPI.get_source_assignments
    if getattr(listed, "hides_labs", False):
        return

    def get_source_assignments(self):
        return set(listed(self)) - {layout.LABS}

    get_source_assignments.__doc__ = listed.__doc__
    get_source_assignments.hides_labs = True
    NbGraderAPI.get_source_assignments = get_source_assignments
