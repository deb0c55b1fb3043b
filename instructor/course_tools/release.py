"""`python -m course_tools.release [ASSIGNMENT ...]` (`make release`): regenerate the student versions.

First writes the "Open in Colab" badges and Colab set-up cells of the labs and
the sources (see colab.py; with ASSIGNMENT names, only those assignments' sources) from
`[tool.course]` in pyproject.toml (or `$COURSE_REPOSITORY`). While no repository is set (an
empty one, or an example address such as the one the kit shipped with), it never writes a
made-up address: the notebooks get a note instead of a badge and a set-up cell that installs
course_lib only from COURSE_LIB_SOURCE, and it prints a loud warning that says how to set the
repository; with --require-repository it stops there, exit status 1, and changes nothing (for
publishing). Then, without ASSIGNMENT names, releases the labs: solutions/labs/*.ipynb ->
notebooks/*.ipynb, each answer replaced by a stub (labs.py; the labs are not an assignment). Then
runs `nbgrader generate_assignment` for each assignment in solutions/ (all by default): it writes
assignments/<name>/ without solution code or hidden tests, and registers the assignment in the
gradebook. Then it checks the release.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

from course_tools import colab, labs, layout

LEAK = re.compile(r"(BEGIN|END) (SOLUTION|HIDDEN TESTS)")


class ReleaseError(RuntimeError):
    """nbgrader failed, or a released notebook still holds solution or hidden-test markers."""


def assignments(course_dir: Path) -> list[str]:
    """The names of the assignments: the folders of solutions/ that hold a notebook, but labs/
    (the labs' sources, see labs.py)."""
    return sorted(p.name for p in (course_dir / layout.SOURCE).iterdir() if layout.is_assignment(p))


def generate(course_dir: Path, names=None) -> list[Path]:
    """Generates the releases of `names` (all assignments by default); returns the released notebooks.

    Raises:
      ReleaseError: nbgrader failed (its output is in the message) or the release leaks.
    """
    env = layout.with_tools_on_path()
    released = []
    for name in names or assignments(course_dir):
        if name == layout.LABS:
            raise ReleaseError(f"{layout.SOURCE}/{layout.LABS}/ holds the labs' sources, not an assignment: "
                               "`make release` (with no names) releases them into notebooks/.")
        process = subprocess.run(
            [sys.executable, "-m", "nbgrader", "generate_assignment", name, "--force"],
            cwd=course_dir, env=env, capture_output=True, text=True)
        if process.returncode != 0:
            raise ReleaseError(f"nbgrader generate_assignment {name} failed:\n{process.stderr[-3000:]}")
        for path in sorted((course_dir / layout.RELEASE / name).glob("*.ipynb")):
            if LEAK.search(path.read_text(encoding="utf-8")):
                raise ReleaseError(f"{path} still holds solution or hidden-test markers.")
            released.append(path)
    return released


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_tools.release", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="ASSIGNMENT")
    parser.add_argument("--course-dir", default=None)
    parser.add_argument("--require-repository", action="store_true",
                        help="fail, changing nothing, unless the course's repository is set "
                             "([tool.course] repository, or $COURSE_REPOSITORY)")
    args = parser.parse_args(argv)
    course_dir = Path(args.course_dir) if args.course_dir else layout.course_root()
    try:
        settings = colab.settings(course_dir)
        if settings.repository is None:
            print(colab.unset_warning(settings), file=sys.stderr)
            if args.require_repository:
                print("release: stopped (--require-repository): nothing was changed.", file=sys.stderr)
                return 1
        for path in colab.stamp_course(course_dir, args.names, settings):
            print(f"stamped the Colab cells of {path.relative_to(course_dir)}")
        if not args.names:
            for path in labs.release(course_dir):
                print(f"released {path.relative_to(course_dir)}")
        for path in generate(course_dir, args.names):
            print(f"released {path.relative_to(course_dir)}")
        if settings.repository is None:
            print("release: WARNING: released without the course's repository (no Colab badges); "
                  "see the warning above.", file=sys.stderr)
    except (ReleaseError, ValueError, RuntimeError) as error:
        print(f"release: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
