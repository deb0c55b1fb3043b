"""The sandbox a submission's kernel runs in: bubblewrap namespaces, resource limits, no network.

The grader (the host) starts each kernel inside `bwrap` and talks to it over
Jupyter's messages (JSON) through Unix sockets in a directory shared with it:

  - its own user, PID, IPC, UTS, cgroup and network namespaces: no network at all, and
    no other process in sight (its /proc lists bwrap, the kernel and the kernel's children);
    it dies with the grader (--die-with-parent);
  - no user namespaces of its own (bwrap --disable-userns; with bubblewrap before 0.8, a
    seccomp filter refusing unshare and clone with CLONE_NEWUSER);
  - nothing of the grader's environment: bwrap itself starts with an empty one (env -i), and
    the kernel gets only kernel_environment();
  - a read-only view of the system's libraries, the Python environment, course_lib and the
    data directory, and nothing else of the host: no solutions/, gradebook, other
    submissions or home directory;
  - a private writable scratch directory (its working directory and HOME) and a private /tmp,
    both deleted afterwards;
  - JAX's compilation cache, if the grader has one (compile_cache.py): read-only;
  - limits (limits.Limits): address space and file size per process (rlimits), and the number
    of processes and the memory of the whole sandbox (a cgroup, when the grader runs as root
    and can create one; else RLIMIT_NPROC, which a user namespace counts on its own).

When the grader runs as root, the kernel runs as uid 0 mapped to 'nobody' inside: it can
read what is mounted, which is why only the paths above are.

The sandbox's own /proc, /dev and /tmp are mounted first, then the paths it shows: a course,
its environment or its data may live anywhere, under /tmp included. When a kernel does not
start, Sandbox.diagnose() says what it lacks.
"""
from __future__ import annotations

import functools
import json
import os
import platform
import shutil
import signal
import struct
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager

from course_tools import compile_cache as compile_cache_module
from course_tools.limits import Limits

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
# XLA_FLAGS of every grading kernel: compile fast. A grading compiles some 200 programs that run once
# or twice (each new shape a test tries, for each operation, is a program); at XLA's optimization
# level 0 without the CPU fusion emitters each compiles 2-3x faster (about 20 ms, not 40-60 ms, on 2
# cores), and its results are the same IEEE arithmetic (no fast-math either way). course_lib's
# training and evaluation steps, which run thousands of times, still compile with XLA's defaults
# (course_lib.fastmath.compiling). The grader's own XLA_FLAGS come after these, so theirs win.
# FAST_COMPILE_SWITCH=0 leaves XLA's defaults (the benchmark's baseline).
FAST_COMPILE = "--xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false"
FAST_COMPILE_SWITCH = "COURSE_GRADE_FAST_COMPILE"


def fast_compile_settings() -> dict[str, str]:
    """A grading kernel's XLA_FLAGS: FAST_COMPILE (unless switched off), then the grader's own; {}
    when there are none. Only grading kernels get them: a notebook run to be shown (a lab, the site,
    `make course`'s reference run) compiles as a learner's does."""
    ours = FAST_COMPILE if os.environ.get(FAST_COMPILE_SWITCH, "1") != "0" else ""
    flags = " ".join(part for part in (ours, os.environ.get("XLA_FLAGS", "")) if part)
    return {"XLA_FLAGS": flags} if flags else {}


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
    probe = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--unshare-all", "--unshare-user",
                            *(["--disable-userns"] if _bwrap_supports("--disable-userns") else []),
                            "--die-with-parent", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        raise SandboxUnavailable(
            "bubblewrap cannot create a sandbox here (are user namespaces disabled? see "
            f"/proc/sys/user/max_user_namespaces): {probe.stderr.strip()}. {advice}")
    if not _bwrap_supports("--disable-userns"):
        _userns_filter()  # raises SandboxUnavailable where none can be made


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

    python = sys.executable  # the kernel's interpreter

    def __init__(self, limits: Limits, data_dir: Path | None, compile_cache: Path | None = None):
        """`compile_cache`: a filled JAX compilation cache (compile_cache.py), shown read-only, or None."""
        self.limits, self.data_dir, self.compile_cache = limits, data_dir, compile_cache
        self._job = None
        self._cgroups: list[Path] = []
        self._userns_filter: Path | None = None

    def __enter__(self):
        check()
        _remove_stale_once()
        self._job = Path(tempfile.mkdtemp(prefix="cg-"))  # short: Unix socket paths are limited
        (self._job / "ipc").mkdir()
        (self._job / "scratch").mkdir()
        if not _bwrap_supports("--disable-userns"):
            self._userns_filter = self._job / "userns.bpf"
            self._userns_filter.write_bytes(_userns_filter())
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

    def command(self, program: list[str] | None = None) -> list[str]:
        """The kernel's command line: clear the environment, join the cgroups, then bwrap, rlimits,
        and `program` (by default ipykernel with the interpreter `python`).

        bwrap starts with an empty environment (env -i), so that its process in the sandbox (pid 1)
        shows none of the grader's; it gives the kernel kernel_environment(). The sandbox's own /proc,
        /dev and /tmp are mounted before the paths it shows, which may lie under them (a course
        under /tmp).
        """
        limits = self.limits
        bwrap = [shutil.which("bwrap") or "bwrap", "--unshare-all", "--unshare-user", "--die-with-parent",
                 "--new-session", "--cap-drop", "ALL", "--uid", "65534", "--gid", "65534", "--clearenv"]
        if self._userns_filter is None:
            bwrap += ["--disable-userns"]
        else:
            bwrap += ["--seccomp", "3"]  # the file _userns_filter, opened below
        for name, value in kernel_environment(self.data_dir, self.compile_cache is not None).items():
            bwrap += ["--setenv", name, value]
        bwrap += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
        for path in SYSTEM_PATHS + ETC_FILES:
            if os.path.islink(path):
                bwrap += ["--symlink", os.readlink(path), path]
            elif os.path.exists(path):
                bwrap += ["--ro-bind", path, path]
        for path in read_only_paths(self.data_dir):
            bwrap += ["--ro-bind", str(path), str(path)]
        if self.compile_cache is not None:
            bwrap += ["--ro-bind", str(Path(self.compile_cache).resolve()), compile_cache_module.SANDBOX_PATH]
        bwrap += ["--bind", str(self._job / "ipc"), str(self._job / "ipc"),
                  "--bind", str(self.scratch), SCRATCH, "--chdir", SCRATCH]
        mib = 1024 * 1024
        rlimits = ["prlimit", f"--as={limits.memory_mb * mib}", f"--fsize={limits.file_mb * mib}",
                   f"--nproc={limits.processes}", "--core=0", "--nofile=1024", "--"]
        program = program or [self.python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        before = [shutil.which("env") or "/usr/bin/env", "-i"]
        if self._userns_filter is not None:
            before += ["/bin/sh", "-c", 'exec 3< "$0" && exec "$@"', str(self._userns_filter)]
        if self._cgroups:
            before += ["/bin/sh", "-c", 'for d; do [ "$d" = -- ] && break; echo $$ > "$d/cgroup.procs"'
                       ' || exit 97; done; while [ "$1" != -- ]; do shift; done; shift; exec "$@"',
                       "sh", *map(str, self._cgroups), "--"]
        return before + bwrap + ["--", *rlimits, *program]

    def diagnose(self, timeout: float = 60) -> str:
        """Why a kernel may not start in this sandbox, in words: runs a probe in its place, by the same
        command line, that checks the interpreter runs, imports ipykernel and course_lib, and sees the
        data directory and the directories it must write to. Says so if it found nothing wrong.

        Raises nothing: a probe that cannot run or does not finish (`timeout` seconds) is the answer.
        """
        data = str(Path(self.data_dir).resolve()) if self.data_dir is not None else ""
        try:
            done = subprocess.run(self.command([self.python, "-c", _PROBE, str(self._job / "ipc"), data]),
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return f"a probe in the sandbox did not finish within {timeout:g} s"
        except OSError as error:
            return f"the sandbox's command could not be run: {error}"
        report = [line for line in done.stdout.splitlines() if line.startswith(_PROBE_MARK)]
        if not report:
            return self._why_nothing_ran(done)
        found = json.loads(report[-1][len(_PROBE_MARK):])
        problems = [f"the interpreter {self.python} in the sandbox cannot import {name} ({error})"
                    for name, error in found["imports"].items()]
        if data and not found["data"]:
            problems.append(f"the data directory {data} is not visible in the sandbox" if Path(data).is_dir()
                            else f"the data directory {data} does not exist")
        problems += [f"the kernel cannot write to its {what} in the sandbox"
                     for what in ("working directory", "connection directory") if not found[what]]
        return "; ".join(problems) or (
            f"a probe in the same sandbox found nothing wrong: the interpreter {self.python} runs, imports "
            "ipykernel and course_lib, " + ("sees the data directory " if data else "")
            + "and can write where the kernel writes")

    def _why_nothing_ran(self, done: subprocess.CompletedProcess) -> str:
        """Why the probe printed nothing: the sandbox, the limits or the interpreter failed."""
        errors = done.stderr.strip()
        last = errors.splitlines()[-1] if errors else f"exit status {done.returncode}"
        if self._cgroups and done.returncode == 97:
            return f"the sandbox could not join its cgroups ({', '.join(map(str, self._cgroups))})"
        if errors.startswith("bwrap:"):
            return f"bubblewrap could not make the sandbox: {last}"
        if f"failed to execute {self.python}" in errors:  # prlimit's words
            target = os.path.realpath(self.python)
            if "No such file" not in errors:
                return f"the interpreter {self.python} cannot be run in the sandbox: {last}"
            return (f"the interpreter {self.python} is not visible in the sandbox"
                    + (f", or its target {target} is not" if target != self.python else ""))
        if errors.startswith("prlimit:"):
            return f"the limits could not be set in the sandbox (prlimit): {last}"
        return f"the interpreter {self.python} does not run in the sandbox: {last}"


_PROBE_MARK = "course-sandbox-probe:"
# Run by Sandbox.diagnose in the sandbox, with the connection directory and the data directory ('' if none).
_PROBE = f"""
import json, os, sys
found = {{"imports": {{}}, "working directory": os.access(".", os.W_OK),
         "connection directory": os.access(sys.argv[1], os.W_OK)}}
for name in ("ipykernel", "course_lib"):
    try:
        __import__(name)
    except BaseException as error:
        found["imports"][name] = f"{{type(error).__name__}}: {{error}}"
found["data"] = not sys.argv[2] or os.access(sys.argv[2], os.R_OK | os.X_OK) and os.path.isdir(sys.argv[2])
print({_PROBE_MARK!r} + json.dumps(found))
"""


class _OneSpec(KernelSpecManager):
    """A kernel spec manager that knows one kernel: the sandboxed one."""

    def __init__(self, spec: KernelSpec, **kwargs):
        super().__init__(**kwargs)
        self._spec = spec

    def get_kernel_spec(self, kernel_name):
        return self._spec

    def find_kernel_specs(self):
        return {KERNEL_NAME: ""}


def kernel_environment(data_dir, compile_cache: bool = False) -> dict[str, str]:
    """The sandboxed kernel's whole environment: KERNEL_SETTINGS, and nothing of the host's but
    PASSED_THROUGH; with `compile_cache`, JAX's settings that read the cache and never write it."""
    env = {**KERNEL_SETTINGS, "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
           "HOME": SCRATCH, "TMPDIR": "/tmp", "LANG": "C.UTF-8", "MPLCONFIGDIR": f"{SCRATCH}/.matplotlib"}
    if data_dir is not None:
        env["COURSE_DATA_DIR"] = str(Path(data_dir).resolve())
    env.update({name: os.environ[name] for name in PASSED_THROUGH if name in os.environ})
    env.update(fast_compile_settings())
    if compile_cache:
        env.update(compile_cache_module.READ_ONLY_SETTINGS)
    return env


@functools.cache
def _bwrap_supports(option: str) -> bool:
    """Whether this bubblewrap has `option` (its --help lists it)."""
    usage = subprocess.run([shutil.which("bwrap") or "bwrap", "--help"], capture_output=True, text=True)
    return f"{option} " in usage.stdout + usage.stderr


# Where bubblewrap has no --disable-userns: a seccomp filter (classic BPF, read by bwrap --seccomp)
# that fails unshare and clone with CLONE_NEWUSER (EPERM), and clone3 (ENOSYS: its flags are in
# memory, out of the filter's sight; the C library then falls back to clone), and every system call
# of another ABI (e.g. i386's through int 0x80, x32) with ENOSYS.
# Per machine: its AUDIT_ARCH, the numbers of clone, unshare and clone3, and the bit of x32 calls.
_SECCOMP_ARCHES = {"x86_64": (0xC000003E, 56, 272, 435, 0x40000000),
                   "aarch64": (0xC00000B7, 220, 97, 435, None)}
CLONE_NEWUSER = 0x10000000


def _userns_filter() -> bytes:
    """The seccomp program that refuses new user namespaces (see above), as bwrap --seccomp reads it.

    Raises:
      SandboxUnavailable: this machine's architecture is not one the filter is written for.
    """
    if platform.machine() not in _SECCOMP_ARCHES:
        raise SandboxUnavailable(
            f"This bubblewrap cannot forbid user namespaces in the sandbox (--disable-userns needs "
            f"bubblewrap 0.8 or later), and no filter is written for {platform.machine()}: install a newer "
            "bubblewrap. To grade without a sandbox anyway (trusted notebooks only), pass --unsafe.")
    arch, clone, unshare, clone3, x32 = _SECCOMP_ARCHES[platform.machine()]
    load, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06      # BPF_LD|W|ABS, BPF_JMP|JEQ|K, ...
    allow, enosys, eperm = 0x7FFF0000, 0x00050000 | 38, 0x00050000 | 1  # SECCOMP_RET_ALLOW, _ERRNO
    # (code, jump if true, jump if false, k); seccomp_data: nr at 0, arch at 4, args[0] at 16.
    program = [(load, 0, 0, 4), (jeq, 1, 0, arch), (ret, 0, 0, enosys), (load, 0, 0, 0)]
    if x32:
        program += [(jge, 0, 1, x32), (ret, 0, 0, enosys)]
    program += [(jeq, 0, 1, clone3), (ret, 0, 0, enosys),
                (jeq, 1, 0, unshare), (jeq, 0, 3, clone),
                (load, 0, 0, 16), (jset, 0, 1, CLONE_NEWUSER), (ret, 0, 0, eperm),
                (ret, 0, 0, allow)]
    return b"".join(struct.pack("=HBBI", *instruction) for instruction in program)


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

