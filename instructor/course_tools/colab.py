"""The "Open in Colab" badge and the Colab set-up cell that `make release` writes into every notebook.

Every lab notebook and every assignment starts with two cells, found by their ids:

  'colab-badge'  markdown: a badge that opens the notebook (its release version) in Colab;
  'colab-setup'  code: in Colab only, installs course_lib from the course's repository without
                 touching Colab's own jax/jaxlib (replacing them breaks the TPU runtime),
                 installs the notebook's own extra packages if it has any (notebook metadata
                 extra_packages, a list of pip requirements, e.g. ["flax", "dm-haiku"]) in
                 versions that go with Colab's jax, jaxlib and numpy (held by a constraints file),
                 fetches the tweets if the notebook needs them (notebook metadata
                 course.needs_data), and prints jax.devices(). Elsewhere it does nothing.

The repository URL and branch are set in one place, `[tool.course]` in pyproject.toml.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import nbformat

from course_tools import layout

BADGE_ID, SETUP_ID = "colab-badge", "colab-setup"
# Colab's own packages that the set-up must never reinstall.
KEEP = {"jax", "jaxlib", "numpy"}

SETUP_TEMPLATE = '''\
# Set-up for Google Colab: install course_lib from the course's repository, keeping Colab's own
# JAX (reinstalling it would break the TPU runtime){extra_note}{data_note}, and show the devices JAX will use.
# Outside Colab this cell does nothing.
import sys
if "google.colab" in sys.modules:
    import os, subprocess
    source = os.environ.get("COURSE_LIB_SOURCE", "git+{repository}@{branch}")
    pip = [sys.executable, "-m", "pip", "install", "--quiet"]
    subprocess.run(pip + ["--no-deps", source], check=True)
    subprocess.run(pip + {requirements!r}, check=True)
{extra_lines}{data_lines}    import jax
    print("JAX devices:", jax.devices())
'''
DATA_LINES = '''\
    os.environ.setdefault("COURSE_DATA_DIR", "/content/nltk_data")
    subprocess.run([sys.executable, "-m", "course_lib.data"], check=True)
'''

# A notebook's own packages (metadata extra_packages, replacing EXTRAS), in versions that go with
# Colab's KEEP packages: a constraints file holds those at the versions installed.
EXTRA_LINES = '''\
    import tempfile
    from importlib.metadata import distributions
    held = sorted({f"{d.metadata['Name']}=={d.version}" for d in distributions()
                   if str(d.metadata["Name"]).lower() in KEEP})
    with tempfile.NamedTemporaryFile("w", suffix="-constraints.txt", delete=False) as constraints:
        constraints.write("".join(line + "\\n" for line in held))
    subprocess.run(pip + ["--constraint", constraints.name] + EXTRAS, check=True)
'''
EXTRA_PACKAGES = "extra_packages"   # the notebook metadata key


@dataclass(frozen=True)
class Settings:
    repository: str            # e.g. https://github.com/owner/repo
    branch: str                # e.g. main
    requirements: tuple        # course_lib's dependencies, without jax, jaxlib and numpy


def settings(course_dir: Path) -> Settings:
    """Reads `[tool.course]` (repository, branch) and the dependencies from pyproject.toml.

    Raises:
      ValueError: pyproject.toml lacks one of them.
    """
    path = course_dir / "pyproject.toml"
    project = tomllib.loads(path.read_text())
    course = project.get("tool", {}).get("course", {})
    dependencies = project.get("project", {}).get("dependencies")
    for key in ("repository", "branch"):
        if not isinstance(course.get(key), str):
            raise ValueError(f"{path}: [tool.course] must set {key} (a string), e.g. "
                             'repository = "https://github.com/OWNER/REPO", branch = "main"')
    if not isinstance(dependencies, list):
        raise ValueError(f"{path}: [project] must list the dependencies")
    names = [re.split(r"[<>=!~ \[;]", dep, maxsplit=1)[0] for dep in dependencies]
    return Settings(course["repository"].rstrip("/").removesuffix(".git"), course["branch"],
                    tuple(n for n in names if n.lower() not in KEEP))


def badge(s: Settings, public_path: str) -> str:
    """Markdown for the badge opening `public_path` (a path in the repository) in Colab.

    Raises:
      ValueError: the repository is not on GitHub (Colab opens notebooks from GitHub).
    """
    match = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+)", s.repository)
    if not match:
        raise ValueError(f"[tool.course] repository must be a https://github.com/OWNER/REPO URL, "
                         f"got {s.repository!r}")
    url = f"https://colab.research.google.com/github/{match[1]}/{match[2]}/blob/{s.branch}/{public_path}"
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"


def setup_code(s: Settings, needs_data: bool, extra_packages=()) -> str:
    """The set-up cell's code; `extra_packages`: pip requirements of this notebook alone."""
    extras = list(extra_packages)
    extra_lines = EXTRA_LINES.replace("KEEP", repr(sorted(KEEP))).replace("EXTRAS", repr(extras))
    return SETUP_TEMPLATE.format(
        repository=s.repository, branch=s.branch, requirements=list(s.requirements),
        extra_note=f", install {', '.join(extras)}" if extras else "",
        extra_lines=extra_lines if extras else "",
        data_note=", fetch the tweets" if needs_data else "",
        data_lines=DATA_LINES if needs_data else "")


def extra_packages(notebook: nbformat.NotebookNode) -> list[str]:
    """The notebook's own pip requirements (metadata extra_packages), [] if it has none.

    Raises:
      ValueError: the metadata is not a list of requirement strings, or names jax, jaxlib or
        numpy (Colab's own, which the set-up cell never reinstalls).
    """
    extras = notebook.metadata.get(EXTRA_PACKAGES, [])
    if not isinstance(extras, list) or not all(isinstance(e, str) and e.strip() for e in extras):
        raise ValueError(f"notebook metadata {EXTRA_PACKAGES} must be a list of pip requirements, "
                         f'e.g. ["flax", "dm-haiku"]; got {extras!r}')
    kept = [e for e in extras if re.split(r"[<>=!~ \[;]", e, maxsplit=1)[0].lower() in KEEP]
    if kept:
        raise ValueError(f"notebook metadata {EXTRA_PACKAGES} names {kept}: the set-up cell keeps "
                         "Colab's own jax, jaxlib and numpy.")
    return extras


def stamp(path: Path, public_path: str, s: Settings) -> bool:
    """Writes the badge and set-up cells of the notebook at `path`; True if it changed.

    Raises:
      ValueError: the notebook lacks a cell with id 'colab-badge' or 'colab-setup', or its
        metadata extra_packages is not a list of requirements (see `extra_packages`).
    """
    notebook = nbformat.read(path, as_version=4)
    cells = {cell.get("id"): cell for cell in notebook.cells}
    missing = [i for i in (BADGE_ID, SETUP_ID) if i not in cells]
    if missing:
        raise ValueError(f"{path} has no cell with id {missing}: add them as its first cells.")
    needs_data = bool(notebook.metadata.get("course", {}).get("needs_data", False))
    new = {BADGE_ID: badge(s, public_path),
           SETUP_ID: setup_code(s, needs_data, extra_packages(notebook))}
    if all(cells[i].source == text for i, text in new.items()):
        return False
    for i, text in new.items():
        cells[i].source = text
    nbformat.write(notebook, path)
    return True


def stamp_course(course_dir: Path, names=None) -> list[Path]:
    """Stamps the labs (notebooks/) and the assignment sources (solutions/, whose badges open the
    release in assignments/); returns the notebooks that changed. With `names`, only the sources
    of those assignments."""
    s = settings(course_dir)
    targets = [] if names else [(p, f"notebooks/{p.name}")
                                for p in sorted((course_dir / "notebooks").glob("*.ipynb"))]
    targets += [(p, f"{layout.RELEASE}/{p.parent.name}/{p.name}")
                for p in sorted((course_dir / layout.SOURCE).glob("*/*.ipynb"))
                if not names or p.parent.name in names]
    return [path for path, public in targets if stamp(path, public, s)]
