"""Colab: every notebook opens from a badge, and its set-up cell installs course_lib without touching JAX."""
from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import types
import venv
import zipfile
from pathlib import Path

import nbformat
import pytest

from course_lib import data
from course_tools import colab, release
from grading_support import REPO

SETTINGS = colab.settings(REPO)
# The two kinds of release: with the course's repository set, and without (not published yet).
PUBLISHED = dataclasses.replace(SETTINGS, repository="https://github.com/course-org/nn-sentiment", unset_reason="")
UNPUBLISHED = dataclasses.replace(SETTINGS, repository=None, unset_reason="no repository in this test")
KINDS = {"published": PUBLISHED, "unpublished": UNPUBLISHED}
LABS = sorted((REPO / "notebooks").glob("*.ipynb"))
SOURCES = sorted((REPO / "solutions").glob("*/*.ipynb"))
RELEASES = sorted((REPO / "assignments").glob("*/*.ipynb"))
ALL = LABS + SOURCES + RELEASES
DEVICE_CODE = re.compile(r"jax\.(local_)?devices\(|device_put|['\"](gpu|tpu|cuda)['\"]", re.I)


def _first_cells(path):
    cells = nbformat.read(path, as_version=4).cells
    return cells[0], cells[1]


def _public_path(path: Path) -> str:
    relative = path.relative_to(REPO)
    if relative.parts[:2] == ("solutions", "labs"):  # a lab's source: its badge opens the released lab
        return str(Path("notebooks", *relative.parts[2:]))
    if relative.parts[0] == "solutions":  # a source's badge opens its release
        return str(Path("assignments", *relative.parts[1:]))
    return str(relative)


@pytest.mark.parametrize("path", ALL, ids=lambda p: str(p.relative_to(REPO)))
def test_every_notebook_starts_with_its_colab_badge_and_set_up_cell(path):
    badge, setup = _first_cells(path)
    assert (badge.cell_type, badge.get("id")) == ("markdown", "colab-badge")
    assert (setup.cell_type, setup.get("id")) == ("code", "colab-setup")
    assert badge.source == colab.badge(SETTINGS, _public_path(path)), "run `make release` to stamp it"
    metadata = nbformat.read(path, as_version=4).metadata
    needs_data = metadata.get("course", {}).get("needs_data", False)
    assert setup.source == colab.setup_code(SETTINGS, needs_data, metadata.get("extra_packages", [])), \
        "run `make release` to stamp it"
    for example in colab.EXAMPLES - {"https://github.com/OWNER/REPO"}:   # the placeholder may be a hint
        assert example.removeprefix("https://") not in badge.source + setup.source
    if SETTINGS.repository is None:
        return
    url = re.search(r"\]\((https://colab\.research\.google\.com/github/[^)]+)\)", badge.source)[1]
    owner_repo = SETTINGS.repository.removeprefix("https://github.com/")
    assert url == f"https://colab.research.google.com/github/{owner_repo}/blob/{SETTINGS.branch}/{_public_path(path)}"


def test_the_capstone_and_the_pipeline_lab_fetch_the_data_in_colab_and_the_other_labs_do_not():
    needs_data = {"05_data_pipeline.ipynb"}          # the only lab that reads the tweets
    _, setup = _first_cells(REPO / "assignments" / "tweet_sentiment" / "tweet_sentiment.ipynb")
    assert "course_lib.data" in setup.source
    for lab in LABS:
        assert ("course_lib.data" in _first_cells(lab)[1].source) == (lab.name in needs_data), lab.name


def test_only_the_ecosystem_lab_installs_extra_packages_which_developers_have_in_the_dev_extra():
    extras = {path.name: colab.extra_packages(nbformat.read(path, as_version=4)) for path in ALL}
    assert extras.pop("06_jax_ecosystem.ipynb") == ["flax", "dm-haiku", "optax"]
    assert not any(extras.values()), extras
    setup = _first_cells(REPO / "notebooks" / "06_jax_ecosystem.ipynb")[1].source
    assert "--constraint" in setup and "['flax', 'dm-haiku', 'optax']" in setup
    assert "--constraint" not in _first_cells(REPO / "notebooks" / "04_grad.ipynb")[1].source
    dev = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    assert {"flax", "dm-haiku", "optax"} <= {re.match(r"[A-Za-z0-9_.-]+", d)[0] for d in dev}


@pytest.mark.parametrize("extras", ["flax", [""], [3], ["jax>=0.4"], ["numpy"]])
def test_extra_packages_must_be_a_list_of_requirements_other_than_colab_s_own(extras):
    notebook = nbformat.v4.new_notebook(metadata={"extra_packages": extras})
    with pytest.raises(ValueError, match="extra_packages"):
        colab.extra_packages(notebook)


@pytest.mark.parametrize("path", ALL, ids=lambda p: str(p.relative_to(REPO)))
def test_no_notebook_picks_a_device_by_hand(path):
    cells = nbformat.read(path, as_version=4).cells
    code = [c.source for c in cells if c.cell_type == "code" and c.get("id") != "colab-setup"]
    assert not [line for text in code for line in text.splitlines() if DEVICE_CODE.search(line)]


def test_stamping_twice_changes_nothing(tmp_path):
    for folder in ("notebooks", "solutions"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    assert colab.stamp_course(tmp_path) == []  # the committed notebooks are stamped already


@pytest.mark.parametrize("kind", KINDS)
def test_the_set_up_cell_does_nothing_outside_colab(kind):
    code = colab.setup_code(KINDS[kind], needs_data=True)
    process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=dict(os.environ, COURSE_LIB_SOURCE="/nonexistent"))
    assert process.returncode == 0 and process.stdout == "" and process.stderr == ""


def _fake_distribution(site: Path, name: str, version: str, code: str):
    """Installs a stand-in for a preinstalled package, as pip would record it."""
    (site / name).mkdir()
    (site / name / "__init__.py").write_text(code)
    info = site / f"{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "INSTALLER").write_text("pip\n")
    (info / "RECORD").write_text(f"{name}/__init__.py,,\n")


def _fake_wheel(folder: Path, name: str, version: str, requires=()) -> Path:
    """A wheel of an empty pure-Python package, depending on `requires`, as pip would download it."""
    info = f"{name}-{version}.dist-info"
    files = {f"{name}/__init__.py": "",
             f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                                 + "".join(f"Requires-Dist: {r}\n" for r in requires),
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    files[f"{info}/RECORD"] = "".join(f"{member},,\n" for member in [*files, f"{info}/RECORD"])
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for member, text in files.items():
            wheel.writestr(member, text)
    return path


def _colab_like(env_dir: Path) -> tuple[Path, Path]:
    """A virtual environment like Colab's: its own jax and jaxlib 0.4.1 (a TPU device), and a
    google.colab module. Returns (its python, its site-packages)."""
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.check_output(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True).strip())
    _fake_distribution(site, "jax", "0.4.1", "def devices():\n    return ['TpuDevice(id=0)']\n")
    _fake_distribution(site, "jaxlib", "0.4.1", "")
    (site / "google" / "colab").mkdir(parents=True)
    (site / "google" / "__init__.py").write_text("")
    (site / "google" / "colab" / "__init__.py").write_text("")
    return python, site


def test_in_colab_extra_packages_install_only_in_versions_that_keep_colab_s_jax(tmp_path):
    # Offline: a Colab-like environment that has course_lib's requirements already, and a folder
    # of wheels instead of PyPI, with a newer jax that pip would install if nothing held it back.
    python, site = _colab_like(tmp_path / "colab")
    for name in SETTINGS.requirements:
        _fake_distribution(site, name, "99.0", "")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    course_lib = _fake_wheel(wheels, "course_lib", "0.1.0")
    for name in ("jax", "jaxlib"):
        _fake_wheel(wheels, name, "0.5.0")
    _fake_wheel(wheels, "plain_extra", "1.0")
    _fake_wheel(wheels, "needs_new_jax", "1.0", requires=["jax>=0.5"])
    env = dict(os.environ, COURSE_LIB_SOURCE=str(course_lib), PIP_NO_INDEX="1",
               PIP_FIND_LINKS=str(wheels), PIP_DISABLE_PIP_VERSION_CHECK="1")

    def set_up(extras):
        code = colab.setup_code(SETTINGS, False, extras)
        return subprocess.run([python, "-c", "import google.colab\n" + code], capture_output=True,
                              text=True, timeout=300, env=env)

    def versions():
        listing = json.loads(subprocess.check_output([python, "-m", "pip", "list", "--format", "json"], env=env))
        return {p["name"].lower().replace("_", "-"): p["version"] for p in listing}

    installed = set_up(["plain_extra"])
    assert installed.returncode == 0, installed.stderr[-3000:]
    assert "JAX devices: ['TpuDevice(id=0)']" in installed.stdout
    assert versions()["plain-extra"] == "1.0"
    assert (versions()["jax"], versions()["jaxlib"]) == ("0.4.1", "0.4.1")

    refused = set_up(["needs_new_jax"])   # it needs a newer jax: pip must refuse, not upgrade jax
    assert refused.returncode != 0 and "ResolutionImpossible" in refused.stderr, refused.stderr[-3000:]
    assert "needs-new-jax" not in versions()
    assert (versions()["jax"], versions()["jaxlib"]) == ("0.4.1", "0.4.1")
    # Without the set-up cell's constraints pip would have upgraded jax: the check above has teeth.
    subprocess.run([python, "-m", "pip", "install", "--quiet", "needs_new_jax"], env=env, check=True,
                   capture_output=True)
    assert versions()["jax"] == "0.5.0"


@pytest.mark.parametrize("kind", KINDS)
def test_in_colab_the_set_up_cell_installs_course_lib_and_leaves_jax_untouched(tmp_path, kind):
    # A Colab-like environment: its own jax and jaxlib (too old for course_lib's requirements,
    # so that any reinstall would show), and the google.colab module imported at start-up.
    python, _ = _colab_like(tmp_path / "colab")
    package = tmp_path / "course_kit"  # the course's repository, as pip would fetch it
    package.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, package)
    shutil.copytree(REPO / "course_lib", package / "course_lib",
                    ignore=shutil.ignore_patterns("__pycache__"))

    code = colab.setup_code(KINDS[kind], needs_data=True)
    process = subprocess.run(
        [python, "-c", "import google.colab\n" + code], capture_output=True, text=True, timeout=900,
        env=dict(os.environ, COURSE_LIB_SOURCE=str(package), PIP_DISABLE_PIP_VERSION_CHECK="1",
                 COURSE_DATA_DIR=os.environ.get("COURSE_DATA_DIR", str(REPO / "nltk_data"))))
    assert process.returncode == 0, process.stderr[-3000:]
    assert "JAX devices: ['TpuDevice(id=0)']" in process.stdout

    listing = json.loads(subprocess.check_output([python, "-m", "pip", "list", "--format", "json"]))
    versions = {p["name"].lower().replace("_", "-"): p["version"] for p in listing}
    assert versions["jax"] == "0.4.1" and versions["jaxlib"] == "0.4.1"
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert versions["course-lib"] == project["version"]
    runtime = {re.match(r"[A-Za-z0-9_.-]+", d)[0].lower().replace("_", "-") for d in project["dependencies"]}
    assert runtime - {"jax", "jaxlib"}, "pyproject.toml lists the runtime dependencies"
    assert runtime <= set(versions), runtime - set(versions)


# -- where the course is published: [tool.course] repository --------------------------------------

def _pyproject(folder: Path, repository: str | None, branch: str = "main") -> Path:
    """A copy of the course's pyproject.toml with `repository` (None: the key left out)."""
    text = re.sub(r'(?m)^repository = .*\n', "", (REPO / "pyproject.toml").read_text())
    line = "" if repository is None else f"repository = {json.dumps(repository)}\n"
    text = re.sub(r'(?m)^branch = .*$', line + f'branch = "{branch}"', text)
    (folder / "pyproject.toml").write_text(text)
    return folder


@pytest.mark.parametrize("repository", ["", "  ", *sorted(colab.EXAMPLES),
                                        "https://github.com/nn-sentiment-course/course-kit.git",
                                        "https://github.com/nn-sentiment-course/course-kit/",
                                        "https://github.com/owner/repo"])
def test_an_empty_or_example_repository_counts_as_unset(tmp_path, repository):
    s = colab.settings(_pyproject(tmp_path, repository), environ={})
    assert s.repository is None and "[tool.course] repository" in s.unset_reason
    warning = colab.unset_warning(s)
    assert "WARNING" in warning and "COURSE_REPOSITORY=" in warning and "[tool.course]" in warning


def test_a_set_repository_is_used_and_course_repository_overrides_it(tmp_path):
    _pyproject(tmp_path, "https://github.com/course-org/nn-sentiment.git")
    assert colab.settings(tmp_path, environ={}).repository == "https://github.com/course-org/nn-sentiment"
    override = {colab.REPOSITORY_VARIABLE: "https://github.com/other-org/fork/"}
    assert colab.settings(tmp_path, environ=override).repository == "https://github.com/other-org/fork"
    example = {colab.REPOSITORY_VARIABLE: "https://github.com/OWNER/REPO"}
    assert colab.settings(tmp_path, environ=example).repository is None
    assert "$COURSE_REPOSITORY" in colab.settings(tmp_path, environ=example).unset_reason


@pytest.mark.parametrize("repository", ["https://gitlab.com/course-org/nn-sentiment", "course-org/nn-sentiment",
                                        "https://github.com/course-org"])
def test_a_repository_that_colab_cannot_open_is_refused(tmp_path, repository):
    with pytest.raises(ValueError, match="https://github.com/OWNER/REPO"):
        colab.settings(_pyproject(tmp_path, repository), environ={})


def test_a_missing_repository_key_is_an_error_that_says_how_to_set_it(tmp_path):
    with pytest.raises(ValueError, match=r"\[tool.course\] must set repository.*OWNER/REPO"):
        colab.settings(_pyproject(tmp_path, None), environ={})


def test_the_shipped_pyproject_names_no_example_address():
    course = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["course"]
    assert course["repository"] not in colab.EXAMPLES


def test_without_a_repository_no_cell_holds_an_address_and_the_badge_says_why():
    for needs_data in (False, True):
        code = colab.setup_code(UNPUBLISHED, needs_data)
        assert "COURSE_LIB_SOURCE" in code and "git+https://github.com/OWNER/REPO@main" in code
        assert not re.search(r"github\.com/(?!OWNER/REPO)", code)
    badge = colab.badge(UNPUBLISHED, "notebooks/00_why_jax.ipynb")
    assert "colab.research.google.com" not in badge and "github.com" not in badge
    assert "[tool.course] repository" in badge and "Upload" in badge
    published = colab.setup_code(PUBLISHED, needs_data=True)
    assert 'os.environ.get("COURSE_LIB_SOURCE", "git+https://github.com/course-org/nn-sentiment@main")' in published


def test_without_a_repository_the_set_up_cell_in_colab_says_how_to_install_course_lib():
    code = colab.setup_code(UNPUBLISHED, needs_data=True)
    fake_colab = "import sys, types\nsys.modules['google.colab'] = types.ModuleType('google.colab')\n"
    environ = {k: v for k, v in os.environ.items() if k != "COURSE_LIB_SOURCE"}
    process = subprocess.run([sys.executable, "-c", fake_colab + code], capture_output=True, text=True,
                             env=environ, timeout=120)
    assert process.returncode != 0 and process.stdout == ""
    assert "RuntimeError" in process.stderr and "%env COURSE_LIB_SOURCE=git+https://github.com/" in process.stderr


def _course_with_labs(folder: Path, repository: str) -> Path:
    shutil.copytree(REPO / "notebooks", folder / "notebooks")
    shutil.copytree(REPO / "solutions" / "labs", folder / "solutions" / "labs")   # released into notebooks/
    shutil.copy(REPO / "nbgrader_config.py", folder)
    return _pyproject(folder, repository)


def test_release_without_a_repository_warns_and_stamps_no_address(tmp_path, monkeypatch, capsys):
    course = _course_with_labs(tmp_path, "https://github.com/nn-sentiment-course/course-kit")
    monkeypatch.delenv(colab.REPOSITORY_VARIABLE, raising=False)
    assert release.main(["--course-dir", str(course)]) == 0
    stderr = capsys.readouterr().err
    assert "WARNING" in stderr and "an example address" in stderr and "COURSE_REPOSITORY=" in stderr
    for lab in sorted((course / "notebooks").glob("*.ipynb")):
        badge, setup = (cell.source for cell in nbformat.read(lab, as_version=4).cells[:2])
        assert badge == colab.BADGE_UNSET and "nn-sentiment-course" not in setup


def test_release_with_require_repository_stops_without_one_and_changes_nothing(tmp_path, monkeypatch, capsys):
    course = _course_with_labs(tmp_path, "")
    monkeypatch.delenv(colab.REPOSITORY_VARIABLE, raising=False)
    before = {p: p.read_bytes() for p in (course / "notebooks").glob("*.ipynb")}
    assert release.main(["--course-dir", str(course), "--require-repository"]) == 1
    assert "is not set" in capsys.readouterr().err
    assert before == {p: p.read_bytes() for p in (course / "notebooks").glob("*.ipynb")}


def test_release_with_course_repository_stamps_its_badges(tmp_path, monkeypatch, capsys):
    course = _course_with_labs(tmp_path, "")
    monkeypatch.setenv(colab.REPOSITORY_VARIABLE, "https://github.com/course-org/nn-sentiment")
    assert release.main(["--course-dir", str(course), "--require-repository"]) == 0
    assert "WARNING" not in capsys.readouterr().err
    lab = course / "notebooks" / LABS[0].name
    badge = nbformat.read(lab, as_version=4).cells[0].source
    assert f"colab.research.google.com/github/course-org/nn-sentiment/blob/main/notebooks/{lab.name}" in badge
    source = nbformat.read(course / "solutions" / "labs" / LABS[0].name, as_version=4)
    assert source.cells[0].source == badge         # stamped into the lab's source, and released from it


# -- the data, in Colab ---------------------------------------------------------------------------

def test_in_colab_a_missing_corpus_says_what_to_run_in_colab(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    empty = tmp_path / "nltk_data"
    with pytest.raises(data.CorpusNotFoundError) as info:
        data.load_twitter_samples(data_dir=empty)
    message = str(info.value)
    assert "make data" not in message and str(empty) in message
    assert "set-up cell" in message
    assert f"nltk.download('twitter_samples', download_dir={str(empty)!r})" in message


def test_in_colab_the_download_it_names_is_where_course_lib_reads(tmp_path, monkeypatch):
    """The set-up cell's directory (COURSE_DATA_DIR), or course_lib's default: the first one tried."""
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "content" / "nltk_data"))
    import nltk
    monkeypatch.setattr(nltk.data, "path", [])    # earlier tests registered the real data directory
    with pytest.raises(data.CorpusNotFoundError) as info:
        data.load_stopwords()
    assert f"nltk.download('stopwords', download_dir={str(tmp_path / 'content' / 'nltk_data')!r})" in str(info.value)
