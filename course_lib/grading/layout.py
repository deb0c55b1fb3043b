"""Where things are in the course directory (nbgrader's names; nbgrader_config.py reads these too)."""
from pathlib import Path

SOURCE = "solutions"          # nbgrader's source directory: notebooks with solutions and hidden tests
RELEASE = "assignments"       # nbgrader's release directory: what learners get
SUBMITTED = "submitted"       # submitted/<student>/<assignment>/<notebook>.ipynb
AUTOGRADED = "autograded"     # autograded/<student>/<assignment>/<notebook>.json: results
FEEDBACK = "feedback"         # feedback/<student>/<assignment>/<notebook>.html
GRADEBOOK = "gradebook.db"    # nbgrader's gradebook (SQLite)
GRADES_CSV = "grades.csv"     # `nbgrader export`'s default output


def course_root(start=None) -> Path:
    """The course directory: the nearest folder, from `start` (default: cwd) up, holding solutions/."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / SOURCE).is_dir():
            return folder
    return here
