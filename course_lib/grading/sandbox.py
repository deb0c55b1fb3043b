"""The sandbox a submission's kernel runs in: bubblewrap namespaces, resource limits, no network.

The grader (the host) starts each kernel inside `bwrap` and talks to it over
Jupyter's messages (JSON) through Unix sockets in a directory shared with it:

  - its own user, PID, IPC, UTS, cgroup and network namespaces: no network at all, and
    no other process in sight; it dies with the grader (--die-with-parent);
  - a read-only view of the system's libraries, the Python environment, course_lib and the
    data directory, and nothing else of the host: no solutions/, gradebook, other
    submissions or home directory;
  - a private writable scratch directory (its working directory and HOME) and a private /tmp,
    both deleted afterwards;
  - limits (limits.Limits): address space and file size per process (rlimits), and the number
    of processes and the memory of the whole sandbox (a cgroup, when the grader runs as root
    and can create one; else RLIMIT_NPROC, which a user namespace counts on its own).

When the grader runs as root, the kernel runs as uid 0 mapped to 'nobody' inside: it can
read what is mounted, which is why only the paths above are.
"""
from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager

from course_lib.grading.limits import Limits

KERNEL_NAME = "course-sandbox"
SCRATCH = "/scratch"
SYSTEM_PATHS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]
ETC_FILES = ["/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
             "/etc/nsswitch.conf", "/etc/passwd", "/etc/group", "/etc/hosts", "/etc/alternatives"]
CGROUP_ROOT = Path("/sys/fs/cgroup")
# Settings of the grader's environment that reach the kernel: how many threads it computes with
# (e.g. XLA_FLAGS=--xla_cpu_multi_thread_eigen=false to keep each kernel on one thread).
PASSED_THROUGH = ["XLA_FLAGS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"]
# The settings of every grading kernel, sandboxed or not (--unsafe, execute.kernel_env):
# deterministic, quiet, on the CPU.
KERNEL_SETTINGS = {"PYTHONHASHSEED": "0", "MPLBACKEND": "agg", "TQDM_DISABLE": "1",
                   "PYDEVD_DISABLE_FILE_VALIDATION": "1", "JAX_PLATFORMS": "cpu"}


class SandboxUnavailable(RuntimeError):
    """No sandbox can be made on this machine; the message says why and what to do."""


@functools.lru_cache(maxsize=1)
def check() -> None:
    """Raises SandboxUnavailable unless bubblewrap works here (checked once per process)."""
    advice = "To grade without a sandbox anyway (trusted notebooks only), pass --unsafe."
    if not sys.platform.startswith("linux"):
        raise SandboxUnavailable(f"Sandboxed grading needs Linux (bubblewrap); this is {sys.platform}. {advice}")
    if not shutil.which("bwrap"):
        raise SandboxUnavailable(
            "Sandboxed grading needs bubblewrap, which is not installed: run `make setup` as root, "
            f"or `sudo apt-get install bubblewrap`. {advice}")
    probe = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent",
                            "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        raise SandboxUnavailable(
            "bubblewrap cannot create a sandbox here (are user namespaces disabled? see "
            f"/proc/sys/user/max_user_namespaces): {probe.stderr.strip()}. {advice}")


def read_only_paths(data_dir: Path | None) -> list[Path]:
    """What the kernel needs to read: the interpreter, the environment, course_lib, the data."""
    import course_lib

    paths = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent.parent,
             Path(sysconfig.get_paths()["purelib"]), Path(course_lib.__file__).resolve().parent}
    if data_dir is not None and Path(data_dir).exists():
        paths.add(Path(data_dir).resolve())
    return sorted(p for p in paths if p.exists())


class Sandbox:
    """A sandbox for one kernel; a context manager that cleans everything up on exit.

        with Sandbox(limits, data_dir) as box:
            client = NotebookClient(notebook, km=box.kernel_manager(), ...)
    """

    def __init__(self, limits: Limits, data_dir: Path | None):
        self.limits, self.data_dir = limits, data_dir
        self._job = None
        self._cgroups: list[Path] = []

    def __enter__(self):
        check()
        _remove_stale_once()
        self._job = Path(tempfile.mkdtemp(prefix="cg-"))  # short: Unix socket paths are limited
        (self._job / "ipc").mkdir()
        (self._job / "scratch").mkdir()
        self._cgroups = _make_cgroups(self._job.name, self.limits)
        return self

    def __exit__(self, *exc):
        for cgroup in self._cgroups:
            _remove_cgroup(cgroup)
        shutil.rmtree(self._job, ignore_errors=True)

    @property
    def scratch(self) -> Path:
        """The host side of the kernel's working directory (empty at start, deleted at exit)."""
        return self._job / "scratch"

    def kernel_manager(self) -> AsyncKernelManager:
        """A kernel manager that starts the kernel in this sandbox and reaches it by IPC."""
        spec = KernelSpec(argv=self.command(), display_name="Python 3 (sandboxed)", language="python",
                          interrupt_mode="message", env={})
        manager = AsyncKernelManager(kernel_name=KERNEL_NAME, transport="ipc",
                                     ip=str(self._job / "ipc" / "k"),
                                     kernel_spec_manager=_OneSpec(spec=spec))
        manager.connection_file = str(self._job / "ipc" / "kernel.json")
        return manager

    def command(self) -> list[str]:
        """The kernel's command line: join the cgroups, then bwrap, rlimits, ipykernel."""
        limits = self.limits
        bwrap = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
                 "--uid", "65534", "--gid", "65534", "--clearenv"]
        for name, value in _environment(self.data_dir).items():
            bwrap += ["--setenv", name, value]
        for path in SYSTEM_PATHS + ETC_FILES:
            if os.path.islink(path):
                bwrap += ["--symlink", os.readlink(path), path]
            elif os.path.exists(path):
                bwrap += ["--ro-bind", path, path]
        for path in read_only_paths(self.data_dir):
            bwrap += ["--ro-bind", str(path), str(path)]
        bwrap += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
                  "--bind", str(self._job / "ipc"), str(self._job / "ipc"),
                  "--bind", str(self.scratch), SCRATCH, "--chdir", SCRATCH]
        mib = 1024 * 1024
        rlimits = ["prlimit", f"--as={limits.memory_mb * mib}", f"--fsize={limits.file_mb * mib}",
                   f"--nproc={limits.processes}", "--core=0", "--nofile=1024", "--"]
        kernel = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        join = []
        if self._cgroups:
            join = ["/bin/sh", "-c", 'for d; do [ "$d" = -- ] && break; echo $$ > "$d/cgroup.procs"'
                    ' || exit 97; done; while [ "$1" != -- ]; do shift; done; shift; exec "$@"',
                    "sh", *map(str, self._cgroups), "--"]
        return join + bwrap + ["--", *rlimits, *kernel]


class _OneSpec(KernelSpecManager):
    """A kernel spec manager that knows one kernel: the sandboxed one."""

    def __init__(self, spec: KernelSpec, **kwargs):
        super().__init__(**kwargs)
        self._spec = spec

    def get_kernel_spec(self, kernel_name):
        return self._spec

    def find_kernel_specs(self):
        return {KERNEL_NAME: ""}


def _environment(data_dir) -> dict[str, str]:
    """The sandboxed kernel's whole environment: KERNEL_SETTINGS, and nothing of the host's but
    PASSED_THROUGH."""
    env = {**KERNEL_SETTINGS, "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
           "HOME": SCRATCH, "TMPDIR": "/tmp", "LANG": "C.UTF-8", "MPLCONFIGDIR": f"{SCRATCH}/.matplotlib"}
    if data_dir is not None:
        env["COURSE_DATA_DIR"] = str(Path(data_dir).resolve())
    env.update({name: os.environ[name] for name in PASSED_THROUGH if name in os.environ})
    return env


def _make_cgroups(name: str, limits: Limits) -> list[Path]:
    """Creates pids and memory cgroups for the sandbox (root only); [] where that is not possible."""
    if os.geteuid() != 0:
        return []
    memory = str(limits.memory_mb * 1024 * 1024)
    v2 = (CGROUP_ROOT / "cgroup.controllers").exists()
    if v2:
        plans = [(CGROUP_ROOT / "course-grade" / name, {"pids.max": str(limits.processes),
                                                         "memory.max": memory})]
    else:                                                        # cgroup v1
        plans = [(CGROUP_ROOT / "pids" / "course-grade" / name, {"pids.max": str(limits.processes)}),
                 (CGROUP_ROOT / "memory" / "course-grade" / name, {"memory.limit_in_bytes": memory})]
    made = []
    try:
        if v2:  # else the sandbox's cgroup has no pids.max and memory.max to write
            (CGROUP_ROOT / "course-grade").mkdir(exist_ok=True)
            (CGROUP_ROOT / "course-grade" / "cgroup.subtree_control").write_text("+pids +memory")
        for directory, settings in plans:
            directory.mkdir(parents=True)
            made.append(directory)
            for file, value in settings.items():
                (directory / file).write_text(value)
    except OSError:
        for directory in made:
            _remove_cgroup(directory)
        return []
    return made


STALE_AFTER_SECONDS = 6 * 3600  # far more than any notebook's time limit


@functools.cache
def _remove_stale_once() -> None:
    """_remove_stale, the first time a sandbox is made in this process only."""
    _remove_stale()


def _remove_stale(max_age_seconds: float = STALE_AFTER_SECONDS) -> None:
    """Removes what graders that were killed left behind: their job directories and cgroups.

    Only what is ours (a job directory holds ipc/ and scratch/) and older than `max_age_seconds`
    goes, so that other programs' files and the sandboxes of graders running now are left alone.
    """
    def old(path: Path) -> bool:
        try:
            return time.time() - path.stat().st_mtime > max_age_seconds
        except FileNotFoundError:  # another grader removed it first
            return False

    jobs = Path(tempfile.gettempdir()).glob("cg-*")
    stale = [p for p in jobs if (p / "ipc").is_dir() and (p / "scratch").is_dir() and old(p)]
    if os.geteuid() == 0:
        cgroups = [*CGROUP_ROOT.glob("*/course-grade/cg-*"), *CGROUP_ROOT.glob("course-grade/cg-*")]
        stale += [p for p in cgroups if old(p)]
    for path in stale:
        if path.is_relative_to(CGROUP_ROOT):
            _remove_cgroup(path)
        else:
            shutil.rmtree(path, ignore_errors=True)


def _remove_cgroup(directory: Path) -> None:
    """Kills what is left in the cgroup, then removes it."""
    for _ in range(50):
        try:
            pids = [int(p) for p in (directory / "cgroup.procs").read_text().split()]
        except OSError:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            directory.rmdir()
            return
        except OSError:
            time.sleep(0.1)
