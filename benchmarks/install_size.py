"""Install sizes: what a learner installs (course_lib) and what an instructor installs (both packages).

Two fresh virtual environments in a temporary folder: into one `pip install <repo>` (the learners'
package), into the other `pip install <repo> <repo>/instructor` (course_lib and course_tools). For
each: the size of its site-packages in MiB (the files' sizes, pip and what the new environment came
with included), the number of distributions the command installed (not counting pip and what the
environment came with) and their names, and the seconds the install took, with pip's cache as it is
on this machine (not a first download).

The packages are built from a copy of the repository's files (no .git, .venv, build outputs or data),
so that building them leaves nothing in the repository. It needs a package index (PyPI, or what pip
is configured with): where pip cannot reach one, the benchmark is skipped with a message saying so.
"""
from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

from benchmarks.common import ROOT

INSTALLS = {"learners": ["{repo}"], "instructors": ["{repo}", "{repo}/instructor"]}
# pip's messages when it cannot reach an index, or the index lacks what is asked for.
UNREACHABLE = re.compile(
    r"No matching distribution found|Could not find a version that satisfies|NewConnectionError|"
    r"Failed to establish a new connection|Temporary failure in name resolution|Name or service not known|"
    r"Network is unreachable|Max retries exceeded|ProxyError|ConnectTimeout|Read timed out|"
    r"Connection (refused|reset)|SSLError|HTTP error 40[37]", re.I)
PIP_TIMEOUT_S = 1800
COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "nltk_data", "__pycache__", "*.egg-info",
                                     ".pytest_cache", ".ipynb_checkpoints", "submitted", "autograded",
                                     "feedback", "gradebook.db", "grades.csv")


class Unreachable(RuntimeError):
    """pip could not reach a package index (or find a package on it)."""


def site_packages(env: Path) -> Path:
    [path] = env.glob("lib/python*/site-packages") or env.glob("Lib/site-packages")
    return path


def distributions(site: Path) -> set[str]:
    """The names of the distributions installed in `site` (normalized: lower case, '-')."""
    return {re.sub(r"[-_.]+", "-", p.name.split("-")[0]).lower() for p in site.glob("*.dist-info")}


def size_mib(folder: Path) -> float:
    total = 0
    for directory, _, names in os.walk(folder):
        total += sum(os.lstat(os.path.join(directory, name)).st_size for name in names)
    return total / 2 ** 20


def install(env: Path, requirements: list[str]) -> dict:
    """A fresh virtual environment at `env`, then `pip install` of `requirements` into it.

    Raises:
      Unreachable: pip could not reach a package index.
      RuntimeError: pip failed otherwise (its output's end is in the message).
    """
    venv.EnvBuilder(with_pip=True).create(env)
    python = env / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = site_packages(env)
    before = distributions(site)
    start = time.perf_counter()
    try:
        process = subprocess.run(
            [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
             "--progress-bar", "off", "--timeout", "30", "--retries", "2", *requirements],
            capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"pip install {' '.join(requirements)} took over {PIP_TIMEOUT_S} s") from None
    seconds = time.perf_counter() - start
    if process.returncode != 0:
        output = process.stdout[-2000:] + process.stderr[-3000:]
        if UNREACHABLE.search(output):
            last = [line for line in output.splitlines() if UNREACHABLE.search(line)][-1].strip()
            raise Unreachable(f"pip could not reach a package index (or find a package on it): {last[:300]}")
        raise RuntimeError(f"pip install {' '.join(requirements)} failed:\n{output}")
    installed = sorted(distributions(site) - before)
    return {"site_packages_mib": round(size_mib(site), 1), "packages": len(installed), "names": installed,
            "install_seconds": round(seconds, 1)}


def run(repeats: int = 1) -> dict:
    """Each install once per repeat; sizes and counts of the last, seconds the median."""
    runs = []
    try:
        with tempfile.TemporaryDirectory(prefix="install-size-") as tmp:
            repo = Path(tmp) / "repo"
            shutil.copytree(ROOT, repo, ignore=COPY_IGNORE)
            for number in range(repeats):
                results = {}
                for name, requirements in INSTALLS.items():
                    env = Path(tmp) / f"{name}-{number}"
                    results[name] = install(env, [r.format(repo=repo) for r in requirements])
                    shutil.rmtree(env)
                runs.append(results)
    except Unreachable as why:
        return {"skipped": str(why), "runs": []}
    result = {name: dict(runs[-1][name], install_seconds=statistics.median(r[name]["install_seconds"] for r in runs))
              for name in INSTALLS}
    result["python"] = sys.version.split()[0]
    result["runs"] = runs
    return result
