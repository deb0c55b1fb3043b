"""JAX's persistent compilation cache for the grading kernels: filled by the grader from public code,
read-only in the sandbox.

Compiling is most of a grading kernel's time (each `jax.random` draw of a new size, each jitted
function, each eager operation on a new shape compiles). JAX can keep compiled executables on disk,
keyed by a hash of the computation, the compiler's options and JAX's version, and load one instead of
compiling it again. Here:

  - who fills it: the grader, once per assignment and release, in processes of their own
    (`cache_for`), with code that every learner has: course_lib (its random draws, of every size
    `fastmath.random` draws) and the instructor's cells of the RELEASED notebooks (their answer
    cells raise NotImplementedError; test cells are left out). Never a solution, a test or a
    learner's code: an entry is a compiled computation, and one of a solution would show it;
  - where it lives: `build/compile-cache/<assignment>-<key>/` in the course (or under
    $COURSE_GRADE_COMPILE_CACHE if it names a folder), `key` a hash of JAX's and Python's versions,
    the machine, the kernels' settings, course_lib's source and the released notebooks: a new
    release or a new JAX fills a new one;
  - how the kernel sees it: mounted read-only in the sandbox (`SANDBOX_PATH`), with JAX told to write
    nothing (`jax_persistent_cache_min_compile_time_secs` past any compile). A learner's kernel can
    read the entries (the compiled public code above) and cannot add, change or delete one, so no
    learner can poison another's grading, and nothing a hidden test compiles lands in it;
  - kernels without a sandbox (`--unsafe`) do not use it: there nothing would stop a write;
  - beside the entries, TOKEN_MEMO: the tweets the same released cells tokenize with course_lib's
    process_tweet, and their tokens, which a kernel's process_tweet reads instead of tokenizing
    them again (course_lib.data.preprocess.load_token_memo), read-only like the entries.

`COURSE_GRADE_COMPILE_CACHE=0` grades without it (the baseline of `make bench ONLY=grading`).
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from course_lib.data.preprocess import TOKEN_MEMO_ENV

SANDBOX_PATH = "/jax-compile-cache"   # where the kernel sees the cache (read-only)
SWITCH = "COURSE_GRADE_COMPILE_CACHE"  # "0": no cache
# Beside JAX's entries: the tweets that the released notebooks' own cells tokenize, with their tokens
# (course_lib.data.preprocess.save_token_memo), which a grading kernel's process_tweet reads instead of
# tokenizing them again. JAX reads only the entries its keys name, so it never looks at this file.
TOKEN_MEMO = "course_lib-tokens.json"
FILL_SECONDS = 600
# JAX's settings (it reads them from the environment) for filling and reading alike: no eviction (a
# read then writes no access time), and none of XLA's own caches, whose path would enter every key.
_BOTH = {"JAX_COMPILATION_CACHE_MAX_SIZE": "-1", "JAX_PERSISTENT_CACHE_ENABLE_XLA_CACHES": "none"}
# What makes JAX read the cache and never write it.
READ_ONLY_SETTINGS = {**_BOTH, "JAX_COMPILATION_CACHE_DIR": SANDBOX_PATH,
                      "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "1e12",
                      TOKEN_MEMO_ENV: f"{SANDBOX_PATH}/{TOKEN_MEMO}"}


def filling_settings(directory: Path) -> dict[str, str]:
    """What makes JAX write every compilation to `directory`."""
    return {**_BOTH, "JAX_COMPILATION_CACHE_DIR": str(directory), "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
            "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1"}


def enabled() -> bool:
    return os.environ.get(SWITCH, "1") != "0"


def root(course_dir: Path) -> Path:
    """Where the caches are: $COURSE_GRADE_COMPILE_CACHE if it names a folder, else the course's
    build/compile-cache."""
    chosen = os.environ.get(SWITCH, "")
    return Path(chosen if chosen not in ("", "1") else Path(course_dir) / "build" / "compile-cache").resolve()


def cache_for(assignment, kernel_env: dict[str, str]) -> Path | None:
    """The filled cache directory for `assignment`'s kernels (filled now if it is not yet), or None
    when the cache is switched off or could not be filled (grading then simply compiles).

    Two parts: course_lib's draws (`course_lib-<key>`, the same for every assignment, filled once)
    and the assignment's (`<assignment>-<key>`: a copy of the first, plus what its released
    notebooks' instructor cells compile)."""
    if not enabled():
        return None
    folder = root(assignment.course_dir)
    notebooks = [assignment.release(name) for name in assignment.notebook_names]
    shared = folder / f"course_lib-{_key([], kernel_env)}"
    if not _made(shared, lambda staging: _run_fill(staging, [], kernel_env, draws=True)):
        return None
    own = folder / f"{assignment.name}-{_key(notebooks, kernel_env)}"

    def fill(staging: Path) -> bool:
        for entry in shared.iterdir():
            shutil.copy2(entry, staging / entry.name)
        cells = [cell.source for notebook in notebooks for cell in notebook.cells
                 if cell.cell_type == "code" and public(cell)]
        return _run_fill(staging, cells, kernel_env, draws=False)

    return own if _made(own, fill) else None


def _made(directory: Path, fill) -> bool:
    """Whether `directory` exists, made by `fill(staging)` if not: in a temporary directory beside
    it, renamed when `fill` returns True, so that a cache is whole or absent. One process fills it
    (a lock file); the others wait, then read it."""
    if directory.is_dir():
        return True
    directory.parent.mkdir(parents=True, exist_ok=True)
    with open(directory.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if directory.is_dir():
            return True
        staging = Path(tempfile.mkdtemp(prefix=".filling-", dir=directory.parent))
        try:
            if not fill(staging):
                return False
            staging.chmod(0o755)
            os.rename(staging, directory)
            return True
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _run_fill(staging: Path, cells: list[str], kernel_env: dict[str, str], draws: bool) -> bool:
    """Runs _FILL (course_lib's draws if `draws`, then `cells`) in a process of its own, in a scratch
    directory, writing JAX's cache entries to `staging`. Whether it finished."""
    scratch = Path(tempfile.mkdtemp(prefix="course-cache-fill-"))
    try:
        (scratch / "cells.json").write_text(json.dumps({"draws": draws, "cells": cells,
                                                        "token_memo": str(staging / TOKEN_MEMO)}))
        env = {**kernel_env, "HOME": str(scratch), "MPLCONFIGDIR": str(scratch / ".matplotlib"),
               **filling_settings(staging)}
        try:
            done = subprocess.run([sys.executable, "-c", _FILL, str(scratch / "cells.json")], cwd=scratch, env=env,
                                  stdin=subprocess.DEVNULL, capture_output=True, timeout=FILL_SECONDS)
        except subprocess.TimeoutExpired:
            return False
        return done.returncode == 0
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def public(cell) -> bool:
    """A released cell that is the instructor's code learners see: not an answer, not a test."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return not meta.get("solution") and not meta.get("grade") and "BEGIN HIDDEN" not in cell.source


def _key(notebooks, kernel_env: dict[str, str]) -> str:
    """A hash of what the cache's entries depend on besides the computations themselves."""
    import jax
    import jaxlib

    import course_lib

    digest = hashlib.sha256()
    for part in (jax.__version__, jaxlib.__version__, sys.version, platform.machine(), platform.node(),
                 json.dumps(sorted(kernel_env.items())), _FILL):
        digest.update(part.encode() + b"\0")
    for path in sorted(Path(course_lib.__file__).parent.rglob("*.py")):
        digest.update(path.read_bytes() + b"\0")
    for notebook in notebooks:
        digest.update(nbformat.writes(notebook).encode() + b"\0")
    return digest.hexdigest()[:16]


# Run by `fill` in a process of its own: course_lib's draws of every size it compiles for, then the
# released notebooks' instructor cells (each may fail: the answers are missing). Only this fills the cache.
_FILL = r'''
import json, sys
import course_lib                       # course_lib's settings first, as in a grading kernel
import jax
from course_lib.fastmath import random
work = json.load(open(sys.argv[1]))
key = random.get_prng(0)
size = random.SMALLEST_DRAW if work["draws"] else random.LARGEST_DRAW * 2
while size <= random.LARGEST_DRAW:
    for draw in (lambda: random.normal(key, (size,)), lambda: random.uniform(key, (size,)),
                 lambda: random.uniform(key, (size,), minval=-1),
                 lambda: random.truncated_normal(key, -2.0, 2.0, (size,))):
        draw().block_until_ready()
    size *= 2
num = random.SMALLEST_SPLIT if work["draws"] else 2048
while num <= 1024:
    random.split(key, num).block_until_ready()
    num *= 2
for seed in (0, 1):
    random.get_prng(seed)
namespace = {"__name__": "__main__"}
for source in work["cells"]:
    source = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    try:
        exec(compile(source, "<released cell>", "exec"), namespace)
    except BaseException:
        pass
preprocess = sys.modules.get("course_lib.data.preprocess")
if preprocess is not None and preprocess._memo:    # the cells tokenized tweets (they are all public)
    try:
        preprocess.save_token_memo(work["token_memo"])
    except OSError:                                 # the cache is still whole without it
        pass
'''
