"""Where things are in the course directory (nbgrader's names; nbgrader_config.py reads these too)."""
import os
import sys
from pathlib import Path

SOURCE = "solutions"          # nbgrader's source directory: notebooks with solutions and hidden tests
RELEASE = "assignments"       # nbgrader's release directory: what learners get
SUBMITTED = "submitted"       # submitted/<student>/<assignment>/<notebook>.ipynb
AUTOGRADED = "autograded"     # autograded/<student>/<assignment>/<notebook>.json: results
FEEDBACK = "feedback"         # feedback/<student>/<assignment>/<notebook>.html
GRADEBOOK = "gradebook.db"    # nbgrader's gradebook (SQLite)
GRADES_CSV = "grades.csv"     # `nbgrader export`'s default output
LABS = "labs"                 # solutions/labs/: the labs' sources (answers in solution regions), not an assignment
LAB_RELEASE = "notebooks"     # notebooks/: the released labs (labs.py)


def is_assignment(folder: Path) -> bool:
    """Whether `folder`, a folder of solutions/, is an assignment's source: one that holds a notebook
    and is not solutions/labs/ (the labs' sources, released into notebooks/ by labs.py)."""
    folder = Path(folder)
    return folder.is_dir() and folder.name != LABS and any(folder.glob("*.ipynb"))


def course_root(start=None) -> Path:
    """The course directory: the nearest folder, from `start` (default: cwd) up, holding solutions/."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / SOURCE).is_dir():
            return folder
    return here


def with_tools_on_path(env=None) -> dict:
    """`env` (default: os.environ) with this Python's bin/ first on PATH.

    nbgrader runs tools of its environment by name (alembic, to create a gradebook),
    and a kernel started from this Python should find the same tools.
    """
    env = dict(os.environ if env is None else env)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env
