"""Which files under submitted/ are graded, read so that what is graded is the file that is there.

Only `submitted/<student>/<assignment>/<name>.ipynb` counts, where <name> is one of the
assignment's notebooks and <student> a valid id (on the gradebook's roster when it has one,
else a plain id: letters, digits and `._@-`, starting with a letter or digit). Everything is
looked at without following symbolic links, and a notebook is read only if it is a regular
file: a link (to solutions/ or to a classmate's notebook), a FIFO (which would block a read
forever), a device or a folder is reported, never graded. Each report is a `Skipped`.

`submitted/<student>/<assignment>/timestamp.txt`, as `nbgrader collect` writes it, is the
submission's time (`read_timestamp`): read the same way, never graded.
"""
from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

LINKED_FOLDER = "a symbolic link in place of a folder: not followed"
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # a FIFO opens at once, unread
_KINDS = [(stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")]


class NotCollected(Exception):
    """A path that is not graded; `reason` says what it is (a symbolic link, a FIFO, ...) or why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Submission:
    """submitted/<student>/<assignment>/<notebook>, found to be a regular file."""
    student: str
    assignment: str
    path: Path

    @property
    def parts(self) -> tuple[str, str, str]:
        return self.student, self.assignment, self.path.name


@dataclass(frozen=True)
class Skipped:
    """A path under submitted/ that is not graded, and why."""
    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{printable(str(self.path))}: not graded: {self.reason}"


def printable(text: str) -> str:
    """`text`, or its ascii() form when it holds a newline or another character that is not printable
    (so that a file name cannot forge lines of the grader's output)."""
    return text if text.isprintable() else ascii(text)


def kind(mode: int) -> str:
    """What a file of this st_mode is, in words ('a regular file', 'a symbolic link', ...)."""
    return next((name for test, name in _KINDS if test(mode)), "a regular file" if stat.S_ISREG(mode)
                else "not a regular file")


def student_problem(student: str, roster: set[str] | None) -> str | None:
    """Why `student` (a folder name under submitted/) is not a valid student id, or None if it is.

    With a roster (the gradebook's students), the id must be on it; without one, it must be a plain id.
    """
    if roster is not None:
        return None if student in roster else (
            f"the student {printable(student)} is not on the gradebook's roster "
            f"(add them with `nbgrader db student add` to grade this)")
    if SAFE_ID.fullmatch(student):
        return None
    return (f"{printable(student)} is not a valid student id (1 to 64 letters, digits and ._@-, "
            "starting with a letter or digit)")


def submissions(submitted: Path, notebook_names, roster: set[str] | None = None, names=None
                ) -> tuple[list[Submission], list[Skipped]]:
    """The notebooks to grade under `submitted`, and what is there but not graded, both sorted.

    Args:
      notebook_names: assignment name -> the names of its notebooks (without .ipynb), or None when that
        folder is not an assignment that can be graded (the caller says why; nothing in it is listed).
      roster: the valid student ids, or None for any plain id (see `student_problem`).
      names: only these assignments (all by default).
    """
    found, skipped = [], []
    for student in _entries(submitted):
        if student.is_symlink():
            skipped.append(Skipped(Path(student.path), LINKED_FOLDER))
            continue
        if not student.is_dir(follow_symlinks=False):
            continue
        assignments = [a for a in _entries(Path(student.path))
                       if (a.is_symlink() or a.is_dir(follow_symlinks=False)) and (not names or a.name in names)]
        if not assignments:
            continue
        problem = student_problem(student.name, roster)
        if problem:
            skipped.append(Skipped(Path(student.path), problem))
            continue
        for assignment in assignments:
            path = Path(assignment.path)
            if assignment.is_symlink():
                skipped.append(Skipped(path, LINKED_FOLDER))
            elif assignment.is_dir(follow_symlinks=False):
                wanted = notebook_names(assignment.name)
                if wanted is not None:
                    _notebooks(student.name, assignment.name, path, set(wanted), found, skipped)
    return found, skipped


def _notebooks(student, assignment, folder: Path, wanted: set, found: list, skipped: list) -> None:
    for entry in _entries(folder):
        path = Path(entry.path)
        if path.suffix != ".ipynb":
            continue
        if path.stem not in wanted:
            names = ", ".join(f"{name}.ipynb" for name in sorted(wanted))
            skipped.append(Skipped(path, f"not a notebook of this assignment (its notebooks: {names})"))
            continue
        mode = entry.stat(follow_symlinks=False).st_mode
        if stat.S_ISREG(mode):
            found.append(Submission(student, assignment, path))
        else:
            skipped.append(Skipped(path, f"{kind(mode)}, not a regular file"))


def _entries(folder: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as entries:
            return sorted(entries, key=lambda entry: entry.name)
    except (FileNotFoundError, NotADirectoryError):
        return []


def read_regular(folder, parts) -> bytes:
    """The bytes of `folder`/parts[0]/.../parts[-1], reached and read without following symbolic links.

    Each part is opened relative to the one before (O_NOFOLLOW), and the file with O_NONBLOCK, so that
    a FIFO cannot block; it is read only if fstat says it is a regular file, from the descriptor opened.

    Raises:
      NotCollected: a part is a symbolic link or missing, or the file is not a regular file (a FIFO, a
        device, a socket, a folder) or cannot be read; the reason says which.
    """
    descriptor = _open_regular(folder, parts)
    with open(descriptor, "rb") as file:
        return file.read()


def check_regular(folder, parts) -> None:
    """Raises NotCollected, as `read_regular` does, unless the file is a regular file (not read)."""
    os.close(_open_regular(folder, parts))


def _open_regular(folder, parts) -> int:
    parts = list(parts)
    descriptor = _open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, None)
    try:
        for part in parts[:-1]:
            inner = _open(part, _DIRECTORY, descriptor)
            os.close(descriptor)
            descriptor = inner
        file = _open(parts[-1], _FILE, descriptor)
    finally:
        os.close(descriptor)
    mode = os.fstat(file).st_mode
    if not stat.S_ISREG(mode):
        os.close(file)
        raise NotCollected(f"{kind(mode)}, not a regular file")
    return file


def _open(path, flags, directory) -> int:
    try:
        return os.open(path, flags, dir_fd=directory)
    except OSError as error:
        try:
            mode = os.stat(path, dir_fd=directory, follow_symlinks=False).st_mode
        except OSError:
            mode = None
        if mode is not None and (stat.S_ISLNK(mode) or error.errno in (errno.ENOTDIR, errno.ENXIO)):
            raise NotCollected(f"{printable(str(path))} is {kind(mode)}: not followed or read") from None
        raise NotCollected(f"cannot read {printable(str(path))}: {error.strerror or error}") from None


TIMESTAMP = "timestamp.txt"   # nbgrader's name for the time of a submission, next to its notebooks
MAX_TIMESTAMP_BYTES = 1024


def read_timestamp(submitted, student: str, assignment: str) -> datetime | None:
    """When `student` submitted `assignment`: the time in submitted/<student>/<assignment>/timestamp.txt
    (as `nbgrader collect` writes it, e.g. '2024-03-01 17:02:11.402915 UTC'), parsed as nbgrader's
    formgrader parses it (nbgrader.utils.parse_utc: UTC, without a time zone, as the gradebook stores
    it); None if there is no such file. Read as `read_regular` reads a notebook, at most 1 KiB.

    Raises:
      NotCollected: it is a symbolic link, a FIFO, a device or a folder, or is on a linked path, or
        cannot be read, or is larger than MAX_TIMESTAMP_BYTES, or does not hold a time; the reason says which.
    """
    from nbgrader.utils import parse_utc

    try:
        os.lstat(Path(submitted, student, assignment, TIMESTAMP))
    except FileNotFoundError:
        return None
    except OSError:
        pass   # read below, which says why it cannot be
    with open(_open_regular(submitted, [student, assignment, TIMESTAMP]), "rb") as file:
        raw = file.read(MAX_TIMESTAMP_BYTES + 1)
    if len(raw) > MAX_TIMESTAMP_BYTES:
        raise NotCollected(f"larger than {MAX_TIMESTAMP_BYTES} bytes: not a timestamp")
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise NotCollected("not text: not a timestamp") from None
    if not text:
        raise NotCollected("empty: no time in it")
    try:
        return parse_utc(text)
    except (ValueError, OverflowError):
        raise NotCollected(f"not a time: {printable(text[:80])}") from None


def grade_bytes(content: bytes, path: Path, assignment, limits, sandboxed: bool) -> dict:
    """Grades `content`, read from `path` (which names it in the result), as grade.grade_notebook does.

    Raises what grade_notebook raises (execute.GraderError: the grader failed).
    """
    from course_tools.grade import grade_notebook  # the grading stack loads only where it runs

    return grade_notebook(path, assignment, limits, sandboxed=sandboxed, content=content)


def grade_submission(submitted: Path, parts, assignment, limits, sandboxed: bool) -> dict:
    """The result of grading submitted/<student>/<assignment>/<notebook> (`parts`), with the SHA-256 of
    the bytes graded, read without following links (`read_regular`).

    Raises:
      NotCollected: it is no longer a regular file reached without links.
      execute.GraderError: the grader failed.
    """
    content = read_regular(submitted, parts)
    result = grade_bytes(content, Path(submitted, *parts), assignment, limits, sandboxed)
    return dict(result, sha256=hashlib.sha256(content).hexdigest())


_WORKER_ASSIGNMENTS = {}  # only filled in the worker processes, one per run (spawned)


def grade_in_worker(grader, root, name, submitted, parts, limits, sandboxed):
    """In a worker process: `grader(submitted, parts, Assignment(name, root), limits, sandboxed)`, the
    assignment read once per worker. (Here, not in autograde.py, so that workers start quickly.)"""
    from course_tools.assignment import Assignment

    if (root, name) not in _WORKER_ASSIGNMENTS:
        _WORKER_ASSIGNMENTS[root, name] = Assignment(name, root)
    return grader(submitted, parts, _WORKER_ASSIGNMENTS[root, name], limits, sandboxed)
