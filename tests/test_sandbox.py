"""The sandbox shows nothing of the host, and works wherever the course lives.

Each guarantee is checked by code that runs inside a real sandbox: a sandboxed kernel (execute.run_cells),
or `python -c` run by the very command line the sandbox starts its kernel with (Sandbox.command).
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import nbformat
import pytest

from course_tools import execute, sandbox
from course_tools.limits import Limits
from grading_support import REPO, nbgrader_cell, new_course

# What the grader's environment holds and no sandbox may show.
HOST_SECRET = ("COURSE_TEST_HOST_SECRET", secrets.token_hex(8))

# Run in the sandboxed kernel, one check per cell: each raises AssertionError saying what it saw.
CLEAN_INIT_ENVIRONMENT = f"""
import os
environments = {{}}
for pid in filter(str.isdigit, os.listdir('/proc')):
    try:
        environments[pid] = open(f'/proc/{{pid}}/environ', 'rb').read().decode(errors='replace')
    except OSError:
        pass                                   # unreadable: not visible either
assert '1' in environments, 'the init process is missing from /proc'
for pid, environ in environments.items():
    assert {HOST_SECRET[1]!r} not in environ, f"the grader's environment is in /proc/{{pid}}/environ"
    names = {{entry.split('=', 1)[0] for entry in environ.split(chr(0)) if entry}}
    extra = names - set(os.environ)
    assert not extra, f"/proc/{{pid}}/environ has what the kernel was not given: {{extra}}"
"""
NO_NESTED_USER_NAMESPACES = """
import subprocess, sys
CALL_UNSHARE = ("import ctypes, os; libc = ctypes.CDLL(None, use_errno=True); "
                "print(libc.unshare(0x10000000), os.strerror(ctypes.get_errno()))")  # CLONE_NEWUSER
call = subprocess.run([sys.executable, '-c', CALL_UNSHARE], capture_output=True, text=True)
assert call.stdout.startswith('-1 '), f'unshare(CLONE_NEWUSER) succeeded: {call.stdout}{call.stderr}'
tool = subprocess.run(['unshare', '--user', 'true'], capture_output=True, text=True)
assert tool.returncode != 0, '`unshare --user` succeeded in the sandbox'
"""
ONLY_THE_SANDBOXS_PROCESSES = """
import os
pids = {int(p) for p in os.listdir('/proc') if p.isdigit()}
assert GRADER_PID not in pids, f"the grader's process {GRADER_PID} is in the sandbox's /proc"
assert pids == {1, os.getpid()}, f'/proc lists processes other than bwrap and the kernel: {sorted(pids)}'
init = open('/proc/1/cmdline', 'rb').read().split(b'\\0')[0]
assert os.path.basename(init) == b'bwrap', f'/proc/1 is {init!r}, not the sandbox\\'s bwrap'
""".replace("GRADER_PID", str(os.getpid()))
CHECKS = [CLEAN_INIT_ENVIRONMENT, NO_NESTED_USER_NAMESPACES, ONLY_THE_SANDBOXS_PROCESSES]


@pytest.fixture(scope="module")
def checks_in_a_sandboxed_kernel():
    """Runs CHECKS in a sandboxed kernel, the grader's environment holding HOST_SECRET."""
    os.environ[HOST_SECRET[0]] = HOST_SECRET[1]
    try:
        yield execute.run_cells(CHECKS, sandboxed=True)
    finally:
        del os.environ[HOST_SECRET[0]]


def error_of(run: execute.Run, check: str) -> str | None:
    """The error the cell of `check` (one of CHECKS) raised, or None."""
    assert run.finished == len(CHECKS), run
    return run.errors.get(CHECKS.index(check))


def test_nothing_of_the_graders_environment_is_visible_in_the_sandbox(checks_in_a_sandboxed_kernel):
    """Not even in the environment of the sandbox's init process (bwrap, pid 1)."""
    error = error_of(checks_in_a_sandboxed_kernel, CLEAN_INIT_ENVIRONMENT)
    assert error is None, error


def test_no_user_namespace_can_be_made_inside_the_sandbox(checks_in_a_sandboxed_kernel):
    error = error_of(checks_in_a_sandboxed_kernel, NO_NESTED_USER_NAMESPACES)
    assert error is None, error


def test_proc_shows_only_the_sandboxs_own_processes(checks_in_a_sandboxed_kernel):
    error = error_of(checks_in_a_sandboxed_kernel, ONLY_THE_SANDBOXS_PROCESSES)
    assert error is None, error


def run_in_sandbox(box: sandbox.Sandbox, code: str, *args: str) -> subprocess.CompletedProcess:
    """Runs `python -c code args` by the sandbox's own command line (Sandbox.command), in place of
    its kernel."""
    return subprocess.run(box.command([box.python, "-c", code, *args]), capture_output=True, text=True,
                          timeout=120)


def test_older_bubblewrap_gets_a_seccomp_filter_against_nested_user_namespaces(monkeypatch):
    """Where bubblewrap has no --disable-userns (before 0.8), a seccomp filter refuses unshare and clone
    with CLONE_NEWUSER, and clone3 (whose flags it cannot read: ENOSYS, and the C library falls back to
    clone); threads and subprocesses still work."""
    monkeypatch.setattr(sandbox, "_bwrap_supports", lambda option: option != "--disable-userns")
    code = NO_NESTED_USER_NAMESPACES + (
        "import threading\nran = []\nthread = threading.Thread(target=ran.append, args=[1])\n"
        "thread.start(); thread.join()\nassert ran == [1]\n"
        "assert subprocess.run(['true']).returncode == 0\nprint('checked')")
    with sandbox.Sandbox(Limits(), data_dir=None) as box:
        assert "--disable-userns" not in box.command() and "--seccomp" in box.command()
        done = run_in_sandbox(box, code)
    assert done.returncode == 0 and done.stdout.strip() == "checked", done.stderr[-2000:]


def test_a_kernel_that_cannot_start_says_what_the_sandbox_lacks(tmp_path, monkeypatch):
    """GraderError: the kernel dies before replying; the message names the interpreter the sandbox
    cannot see (here a link outside everything the sandbox shows)."""
    python = tmp_path / "elsewhere" / "python"
    python.parent.mkdir()
    python.symlink_to(sys.executable)
    monkeypatch.setattr(sandbox.Sandbox, "python", str(python))
    with pytest.raises(execute.GraderError, match="could not start") as raised:
        execute.run_cells(["x = 1"], sandboxed=True)
    assert f"the interpreter {python} is not visible in the sandbox" in str(raised.value)


@pytest.mark.parametrize("hidden, reason", [
    ("course_lib", "cannot import course_lib (ModuleNotFoundError"),
    ("data", "is not visible in the sandbox"),
    ("nothing", "found nothing wrong"),
])
def test_the_diagnosis_names_what_the_sandbox_lacks(tmp_path, monkeypatch, hidden, reason):
    """Sandbox.diagnose, with `hidden` left out of what the sandbox shows: it names what is missing,
    and blames nothing when nothing is."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    import course_lib

    hide = {"course_lib": Path(course_lib.__file__).resolve().parent, "data": data_dir.resolve()}.get(hidden)
    shown = sandbox.read_only_paths
    monkeypatch.setattr(sandbox, "read_only_paths", lambda data: [p for p in shown(data) if p != hide])
    with sandbox.Sandbox(Limits(), data_dir) as box:
        diagnosis = box.diagnose()
    assert reason in diagnosis
    if hidden == "data":
        assert f"the data directory {data_dir.resolve()} is not visible" in diagnosis


# The cloned course's toy assignment: its test checks where the kernel runs from (with __CLONE__ and
# __DATA__ filled in)
WHERE_THE_KERNEL_RUNS = """
from pathlib import Path
from course_lib.testing import probe

@probe
def where():
    import os, sys
    import course_lib, ipykernel
    return {"python": sys.executable, "course_lib": course_lib.__file__, "ipykernel": ipykernel.__file__,
            "data": sorted(os.listdir(os.environ['COURSE_DATA_DIR'])), "cwd": os.getcwd(), "answer": answer}

got = where()
assert Path(got["python"]).parent.parent == Path(__CLONE__, '.venv'), got["python"]
for module in ("course_lib", "ipykernel"):
    assert Path(got[module]).resolve().is_relative_to(__CLONE__), got[module]
assert got["data"] == __DATA__, got["data"]
assert got["cwd"] == '/scratch', got["cwd"]   # the sandbox's scratch directory
"""


def _clone_with_its_own_environment(root: Path) -> Path:
    """`git clone` of this repository (HEAD, plus its uncommitted changes to tracked files) into
    `root`/"course kit", with a .venv and nltk_data of its own there, as `make setup` and `make data`
    would make them. Returns the clone's directory."""
    clone = root / "course kit"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO), str(clone)], check=True)
    changes = subprocess.run(["git", "-C", str(REPO), "diff", "--binary", "HEAD"], capture_output=True,
                             check=True).stdout
    if changes:
        subprocess.run(["git", "-C", str(clone), "apply", "--whitespace=nowarn"], input=changes, check=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(clone / ".venv")], check=True)
    packages = Path(sysconfig.get_paths()["purelib"])
    target = clone / ".venv" / packages.relative_to(sys.prefix)
    for entry in packages.iterdir():     # all but the editable installs of this checkout's packages
        if "course_lib" not in entry.name and "course_tools" not in entry.name:
            subprocess.run(["cp", "-al", str(entry), str(target)], check=True)
    (target / "course_kit_clone.pth").write_text(f"{clone}\n{clone / 'instructor'}\n")
    # A copy (2.7 MB), not hard links: NLTK refuses a corpus file with more than one link, which would
    # break every other reader of the data directory while this test runs.
    subprocess.run(["cp", "-a", os.environ["COURSE_DATA_DIR"], str(clone / "nltk_data")], check=True)
    return clone


@pytest.mark.skipif(not (REPO / ".git").exists() or not shutil.which("git"), reason="not a git checkout")
def test_a_course_cloned_under_tmp_grades_in_the_sandbox_with_its_own_environment():
    """A clone under /tmp (in a folder whose name has a space), with its .venv, course_lib and data there,
    grades a notebook in the sandbox: its kernel runs the clone's interpreter, imports the clone's
    course_lib and ipykernel and reads the clone's data.

    The clone's .venv is made by `python -m venv`, as `make setup` does; instead of installing the
    packages again (minutes), its site-packages is this environment's, hard-linked file by file (the
    same files, but at paths under the clone, which is what the sandbox must show), and course_lib is
    installed from the clone by a .pth file, course_tools too (what `pip install -e` amounts to). Not faithful, and not
    used: a venv made with --system-site-packages, or .pth files or symlinks pointing back to this
    checkout, which would import from paths outside /tmp. The grader is the clone's interpreter, so the
    sandbox is built from the clone's sys.prefix, as `make course` there would build it.
    """
    if not Path(os.environ.get("COURSE_DATA_DIR", "")).is_dir():
        pytest.skip("no data directory (make data)")
    with tempfile.TemporaryDirectory(dir="/tmp") as root:
        clone = _clone_with_its_own_environment(Path(root))
        test = WHERE_THE_KERNEL_RUNS.replace("__CLONE__", repr(str(clone)))
        test = test.replace("__DATA__", repr(sorted(os.listdir(clone / "nltk_data"))))
        source = nbformat.v4.new_notebook(cells=[
            nbgrader_cell("code", "### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION", "answer_solution",
                          solution=True, locked=False),
            nbgrader_cell("code", test + "assert got['answer'] == 42", "where_test", grade=True, points=1)])
        (clone / "toy course").mkdir()
        course = new_course(clone / "toy course", {"where": {"where": source}})
        env = {"PATH": f"{clone / '.venv' / 'bin'}:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/"),
               "COURSE_DATA_DIR": str(clone / "nltk_data"), "LANG": "C.UTF-8"}
        graded = subprocess.run(
            [str(clone / ".venv" / "bin" / "python"), "-m", "course_tools.cli", "where",
             str(course / "solutions" / "where" / "where.ipynb"), "--json", "--course-dir", str(course)],
            capture_output=True, text=True, env=env, cwd=clone, timeout=240)
    assert graded.returncode == 0, graded.stderr[-3000:]
    [result] = [json.loads(line) for line in graded.stdout.splitlines()]
    messages = [(test["grade_id"], test["message"]) for test in result["tests"]]
    assert result["status"] == "graded" and result["score"] == 1.0, messages
