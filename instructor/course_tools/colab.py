"""The "Open in Colab" badge and the Colab set-up cell that `make release` writes into every notebook.

Every lab notebook and every assignment starts with two cells, found by their ids (stamped into
the sources, solutions/, and carried into the releases, notebooks/ and assignments/):

  'colab-badge'  markdown: a badge that opens the notebook (its release version) in Colab;
  'colab-setup'  code: in Colab only, installs course_lib from the course's repository without
                 touching Colab's own jax/jaxlib (replacing them breaks the TPU runtime),
                 installs the notebook's own extra packages if it has any (notebook metadata
                 extra_packages, a list of pip requirements, e.g. ["flax", "dm-haiku"]) in
                 versions that go with Colab's jax, jaxlib and numpy (held by a constraints file),
                 fetches the tweets if the notebook needs them (notebook metadata
                 course.needs_data), and prints jax.devices(). Elsewhere it does nothing.
                 `COURSE_LIB_SOURCE`, set in the learner's Colab session, overrides where it
                 pip-installs course_lib from (any target of `pip install`).

The repository URL and branch are set in one place, `[tool.course]` in pyproject.toml; the
environment variable `COURSE_REPOSITORY` overrides the repository for one run
(`COURSE_REPOSITORY=https://github.com/OWNER/REPO make release`).

The rule: the cells point at a repository only if one is set, explicitly, to a GitHub URL that is
not an example (`EXAMPLES`: the address shipped with the kit, `https://github.com/OWNER/REPO`).
An empty or example repository means "not published yet": the badge cell then says that the
notebook has no badge and why, and the set-up cell installs course_lib only from
`COURSE_LIB_SOURCE`, and otherwise stops with a message that says how to set it. Never a
made-up address. `make release` warns loudly when it stamps such cells (`unset_warning`).
"""
from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import nbformat

from course_tools import layout

BADGE_ID, SETUP_ID = "colab-badge", "colab-setup"
# Colab's own packages that the set-up must never reinstall.
KEEP = {"jax", "jaxlib", "numpy"}
# Overrides [tool.course] repository for one run.
REPOSITORY_VARIABLE = "COURSE_REPOSITORY"
# Repository values that are examples, never a course's address: they count as unset.
EXAMPLES = frozenset({
    "https://github.com/nn-sentiment-course/course-kit",    # the address the kit shipped with
    "https://github.com/OWNER/REPO",                        # the placeholder in the messages
})
GITHUB = re.compile(r"https://github\.com/([^/\s]+)/([^/\s]+)")

SETUP_TEMPLATE = '''\
# Set-up for Google Colab: install course_lib {from_where}, keeping Colab's own
# JAX (reinstalling it would break the TPU runtime){extra_note}{data_note}, and show the devices JAX will use.
# Outside Colab this cell does nothing.
import sys
if "google.colab" in sys.modules:
    import os, subprocess
{source_lines}    pip = [sys.executable, "-m", "pip", "install", "--quiet"]
    subprocess.run(pip + ["--no-deps", source], check=True)
    subprocess.run(pip + {requirements!r}, check=True)
{extra_lines}{data_lines}    import jax
    print("JAX devices:", jax.devices())
'''
SOURCE_LINE = '''\
    source = os.environ.get("COURSE_LIB_SOURCE", "git+{repository}@{branch}")
'''
# The release names no repository: install course_lib only from where the learner says.
SOURCE_LINES_UNSET = '''\
    source = os.environ.get("COURSE_LIB_SOURCE")   # where to pip-install course_lib from
    if not source:
        raise RuntimeError(
            "This notebook was released without the course's repository, so this cell does not "
            "know where to install course_lib from. Ask your instructor for the course's address, "
            "then run, in a new cell above this one, "
            "%env COURSE_LIB_SOURCE=git+https://github.com/OWNER/REPO@{branch} "
            "(with the course's OWNER/REPO), and run this cell again.")
'''
DATA_LINES = '''\
    os.environ.setdefault("COURSE_DATA_DIR", "/content/nltk_data")
    subprocess.run([sys.executable, "-m", "course_lib.data"], check=True)
'''
BADGE_UNSET = (
    "*No \"Open in Colab\" badge: this notebook was released without the course's repository "
    "(instructors: set `[tool.course] repository` in pyproject.toml, then `make release`). "
    "To run it in Colab, upload it (File → Upload notebook) and follow the set-up cell below.*")

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
    repository: str | None     # e.g. https://github.com/owner/repo; None: not set (or an example)
    branch: str                # e.g. main
    requirements: tuple        # course_lib's dependencies, without jax, jaxlib and numpy
    unset_reason: str = ""     # why `repository` is None, for the warning


def settings(course_dir: Path, environ=None) -> Settings:
    """Reads `[tool.course]` (repository, branch) and the dependencies from pyproject.toml;
    `$COURSE_REPOSITORY`, if set, overrides the repository.

    The repository is None (unset) when it is empty or one of `EXAMPLES`; `unset_reason` says which.

    Raises:
      ValueError: pyproject.toml lacks one of them, or the repository is set to something that is
        not a https://github.com/OWNER/REPO URL (Colab opens notebooks from GitHub).
    """
    environ = os.environ if environ is None else environ
    path = course_dir / "pyproject.toml"
    project = tomllib.loads(path.read_text())
    course = project.get("tool", {}).get("course", {})
    dependencies = project.get("project", {}).get("dependencies")
    for key in ("repository", "branch"):
        if not isinstance(course.get(key), str):
            raise ValueError(f"{path}: [tool.course] must set {key} (a string), e.g. "
                             'repository = "https://github.com/OWNER/REPO", branch = "main" '
                             '(repository = "" until the course is published)')
    if not isinstance(dependencies, list):
        raise ValueError(f"{path}: [project] must list the dependencies")
    names = [re.split(r"[<>=!~ \[;]", dep, maxsplit=1)[0] for dep in dependencies]
    requirements = tuple(n for n in names if n.lower() not in KEEP)

    if environ.get(REPOSITORY_VARIABLE, "").strip():
        given, where = environ[REPOSITORY_VARIABLE], f"${REPOSITORY_VARIABLE}"
    else:
        given, where = course["repository"], f"[tool.course] repository in {path}"
    repository = given.strip().rstrip("/").removesuffix(".git")
    reason = ""
    if not repository:
        reason = f"{where} is not set"
    elif repository.lower() in {example.lower() for example in EXAMPLES}:   # GitHub ignores case
        reason = f"{where} is {repository}, an example address, not the course's"
    elif not GITHUB.fullmatch(repository):
        raise ValueError(f"{where} must be a https://github.com/OWNER/REPO URL (Colab opens "
                         f"notebooks from GitHub), got {given!r}")
    return Settings(None if reason else repository, course["branch"], requirements, reason)


def unset_warning(s: Settings) -> str:
    """The release's warning when the repository is unset: what it means and how to set it."""
    rule = "=" * 78
    return (f"{rule}\nWARNING: {s.unset_reason}.\n"
            "The notebooks get no \"Open in Colab\" badge, and their Colab set-up cell installs\n"
            "course_lib only from COURSE_LIB_SOURCE, which each learner would have to set.\n"
            "Before publishing the course, set where learners get it, in pyproject.toml:\n"
            "    [tool.course]\n"
            '    repository = "https://github.com/OWNER/REPO"\n'
            "or for one run: COURSE_REPOSITORY=https://github.com/OWNER/REPO make release\n"
            f"{rule}")


def badge(s: Settings, public_path: str) -> str:
    """Markdown for the badge opening `public_path` (a path in the repository) in Colab; without a
    repository, a note that says why there is no badge and what to do."""
    if s.repository is None:
        return BADGE_UNSET
    match = GITHUB.fullmatch(s.repository)
    if not match:
        raise ValueError(f"[tool.course] repository must be a https://github.com/OWNER/REPO URL, "
                         f"got {s.repository!r}")
    url = f"https://colab.research.google.com/github/{match[1]}/{match[2]}/blob/{s.branch}/{public_path}"
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"


def setup_code(s: Settings, needs_data: bool, extra_packages=()) -> str:
    """The set-up cell's code; `extra_packages`: pip requirements of this notebook alone."""
    extras = list(extra_packages)
    extra_lines = EXTRA_LINES.replace("KEEP", repr(sorted(KEEP))).replace("EXTRAS", repr(extras))
    source_lines = (SOURCE_LINES_UNSET.format(branch=s.branch) if s.repository is None else
                    SOURCE_LINE.format(repository=s.repository, branch=s.branch))
    return SETUP_TEMPLATE.format(
        from_where="from the course's repository" if s.repository else "from COURSE_LIB_SOURCE",
        source_lines=source_lines, requirements=list(s.requirements),
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


def stamp_course(course_dir: Path, names=None, s: Settings | None = None) -> list[Path]:
    """Stamps the labs' sources (solutions/labs/, whose badges open the released lab in notebooks/)
    and the assignment sources (solutions/<name>/, whose badges open the release in assignments/)
    from `s` (default: `settings(course_dir)`); returns the notebooks that changed. With `names`,
    only the sources of those assignments."""
    s = settings(course_dir) if s is None else s
    lab_sources = sorted((course_dir / layout.SOURCE / layout.LABS).glob("*.ipynb"))
    targets = [] if names else [(p, f"{layout.LAB_RELEASE}/{p.name}") for p in lab_sources]
    targets += [(p, f"{layout.RELEASE}/{p.parent.name}/{p.name}")
                for p in sorted((course_dir / layout.SOURCE).glob("*/*.ipynb"))
                if layout.is_assignment(p.parent) and (not names or p.parent.name in names)]
    return [path for path, public in targets if stamp(path, public, s)]


def student_settings(course_dir: Path, repository: str | None = None, branch: str | None = None) -> Settings:
    """The settings that the student edition's notebooks are stamped with (student_edition.py):
    `repository` and `branch` if given, else `[tool.course] student_repository` and `student_branch`
    if set, else the course's own (`settings`), the repository learners are then given.

    Raises:
      ValueError: as `settings`, or student_repository or student_branch is set but not a string.
    """
    s = settings(course_dir)
    path = course_dir / "pyproject.toml"
    course = tomllib.loads(path.read_text()).get("tool", {}).get("course", {})
    for key in ("student_repository", "student_branch"):
        if key in course and not isinstance(course[key], str):
            raise ValueError(f"{path}: [tool.course] {key} must be a string")
    repository = repository or course.get("student_repository") or s.repository
    branch = branch or course.get("student_branch") or s.branch
    if not repository:     # unset: the edition's notebooks say so, as the course's do (`settings`)
        return Settings(None, branch, s.requirements, s.unset_reason)
    return Settings(repository.rstrip("/").removesuffix(".git"), branch, s.requirements)
