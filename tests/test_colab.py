"""Colab: every notebook opens from a badge, and its set-up cell installs course_lib without touching JAX."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import nbformat
import pytest

from course_tools import colab
from grading_support import REPO

SETTINGS = colab.settings(REPO)
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
    if relative.parts[0] == "solutions":  # a source's badge opens its release
        return str(Path("assignments", *relative.parts[1:]))
    return str(relative)


@pytest.mark.parametrize("path", ALL, ids=lambda p: str(p.relative_to(REPO)))
def test_every_notebook_starts_with_its_colab_badge_and_set_up_cell(path):
    badge, setup = _first_cells(path)
    assert (badge.cell_type, badge.get("id")) == ("markdown", "colab-badge")
    assert (setup.cell_type, setup.get("id")) == ("code", "colab-setup")
    assert badge.source == colab.badge(SETTINGS, _public_path(path)), "run `make release` to stamp it"
    url = re.search(r"\]\((https://colab\.research\.google\.com/github/[^)]+)\)", badge.source)[1]
    owner_repo = SETTINGS.repository.removeprefix("https://github.com/")
    assert url == f"https://colab.research.google.com/github/{owner_repo}/blob/{SETTINGS.branch}/{_public_path(path)}"
    metadata = nbformat.read(path, as_version=4).metadata
    needs_data = metadata.get("course", {}).get("needs_data", False)
    assert setup.source == colab.setup_code(SETTINGS, needs_data, metadata.get("extra_packages", []))


def test_the_capstone_fetches_the_data_in_colab_and_the_labs_do_not():
    _, setup = _first_cells(REPO / "assignments" / "tweet_sentiment" / "tweet_sentiment.ipynb")
    assert "course_lib.data" in setup.source
    for lab in LABS:
        assert "course_lib.data" not in _first_cells(lab)[1].source


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


def test_the_set_up_cell_does_nothing_outside_colab():
    code = colab.setup_code(SETTINGS, needs_data=True)
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


def test_in_colab_extra_packages_install_only_in_versions_that_keep_colab_s_jax(tmp_path):
    # Offline: a Colab-like environment that has course_lib's requirements already, and a folder
    # of wheels instead of PyPI, with a newer jax that pip would install if nothing held it back.
    env_dir = tmp_path / "colab"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.check_output(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True).strip())
    _fake_distribution(site, "jax", "0.4.1", "def devices():\n    return ['TpuDevice(id=0)']\n")
    _fake_distribution(site, "jaxlib", "0.4.1", "")
    for name in SETTINGS.requirements:
        _fake_distribution(site, name, "99.0", "")
    (site / "google" / "colab").mkdir(parents=True)
    (site / "google" / "__init__.py").write_text("")
    (site / "google" / "colab" / "__init__.py").write_text("")
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


def test_in_colab_the_set_up_cell_installs_course_lib_and_leaves_jax_untouched(tmp_path):
    # A Colab-like environment: its own jax and jaxlib (too old for course_lib's requirements,
    # so that any reinstall would show), and the google.colab module imported at start-up.
    env_dir = tmp_path / "colab"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.check_output(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True).strip())
    _fake_distribution(site, "jax", "0.4.1", "def devices():\n    return ['TpuDevice(id=0)']\n")
    _fake_distribution(site, "jaxlib", "0.4.1", "")
    (site / "google" / "colab").mkdir(parents=True)
    (site / "google" / "__init__.py").write_text("")
    (site / "google" / "colab" / "__init__.py").write_text("")
    package = tmp_path / "course_kit"  # the course's repository, as pip would fetch it
    package.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, package)
    shutil.copytree(REPO / "course_lib", package / "course_lib",
                    ignore=shutil.ignore_patterns("__pycache__"))

    code = colab.setup_code(SETTINGS, needs_data=True)
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
