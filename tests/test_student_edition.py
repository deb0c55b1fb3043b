"""The student edition (`make student-edition DEST=...`): the learners' repository holds what they need,
nothing that holds an answer, notebooks that open from its own repository, and they run from it."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import nbformat
import pytest

from course_tools import colab, student_edition
from course_tools.assignment import Assignment, grade_id, is_answer
from course_tools.execute import execute_notebook, kernel_env
from grading_support import REPO
from site_pages import site_text

STUDENT_REPOSITORY, STUDENT_BRANCH = "https://github.com/example-org/nn-sentiment-learners", "term-1"
LEARNERS = {"course_lib", "notebooks", "assignments", "site", "pyproject.toml", "README.md", "Makefile",
            "requirements.txt", ".gitignore"}
NEVER = ("solutions", "tests", "benchmarks", "instructor", "nbgrader_config.py", "grading.toml",
         "gradebook.db", "submitted", "autograded", "feedback", "grades.csv")
BLOCK = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.S)

# Lines of solutions that the edition holds on purpose, and where. course_lib is Trax's API, Adam
# included (`optimizers.Adam`, Trax's own code, which lab 04 reads line by line next to the paper):
# the training assignment asks learners to write Adam and its loop again, so these lines of its
# solution are public by the course's design (see the README's "Student edition"). The rest are
# idioms, not answers. Any other line of a solution or hidden test in the edition fails the test.
PUBLISHED = {
    "course_lib/optimizers.py": {
        "m = (1 - b1) * grads + b1 * m                 # First moment estimate.",
        "v = (1 - b2) * (grads ** 2) + b2 * v          # Second moment estimate.",
        "mhat = m / (1 - b1 ** (step + 1))             # Bias correction.",
        "vhat = v / (1 - b2 ** (step + 1))",
        "new_weights = ((1 - weight_decay_rate) * weights",
        "- learning_rate * mhat / (jnp.sqrt(vhat) + eps)).astype(weights.dtype)",
    },
    "notebooks/04_grad.ipynb": {
        "vhat = v / (1 - b2 ** (step + 1))",
        "opt_params = optimizer.opt_params",
        "weights, slots = optimizer.tree_update(step, grads, weights, slots, opt_params)",
        "for step in range(n_steps):",
        "losses.append(float(loss))",
    },
    "course_lib/training/loop.py": {
        "opt_params = optimizer.opt_params",
        "weights, slots = optimizer.tree_update(step, grads, weights, slots, opt_params)",
    },
}
# Lines of a solution that any training code or test writes (lab 06's loop records its losses so too).
IDIOMS = {"except Exception as error:", "except TypeError as error:", "from course_lib import shapes",
          "losses.append(float(loss))"}


@pytest.fixture(scope="module")
def edition(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("learners") / "edition"
    process = subprocess.run(
        [sys.executable, "-m", "course_tools.student_edition", str(dest), "--course-dir", str(REPO),
         "--repository", STUDENT_REPOSITORY, "--branch", STUDENT_BRANCH], capture_output=True, text=True)
    assert process.returncode == 0, process.stderr
    assert STUDENT_REPOSITORY in process.stdout
    return dest


def files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and ".git" not in p.relative_to(folder).parts)


def answer_lines() -> dict[str, str]:
    """Distinctive lines of the solutions and hidden tests (over 25 characters, stripped, and not also
    outside those blocks in any source notebook: a release shows those) -> the source notebook they
    come from."""
    lines = {}
    sources = {path: "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells)
               for path in sorted((REPO / "solutions").glob("*/*.ipynb"))}
    public = "\n".join(BLOCK.sub("", source) for source in sources.values())  # shown in some release
    for path, source in sources.items():
        for block in BLOCK.finditer(source):
            for line in block[2].splitlines():
                line = line.strip()
                if len(line) > 25 and line not in public:
                    lines.setdefault(line, str(path.relative_to(REPO)))
    return lines


def leaks(folder: Path) -> dict[str, set]:
    """Relative path -> the answer lines that file holds, for every file under `folder` (notebooks
    are read as their JSON text: a line is found as it is or as a JSON string escapes it; the
    website's pages as the text they show, its images and fonts not at all)."""
    lines, found = answer_lines(), {}
    for path in files(folder):
        if path.relative_to(folder).parts[0] == student_edition.SITE:
            text = site_text(path)
        else:
            text = path.read_bytes().decode("utf-8")    # every file is text: a binary one fails here
        for line in lines:
            variants = {line, json.dumps(line)[1:-1], json.dumps(line, ensure_ascii=False)[1:-1]}
            if any(v in text for v in variants):
                found.setdefault(path.relative_to(folder).as_posix(), set()).add(line)
    return found


def test_the_edition_holds_course_lib_the_labs_and_the_release_and_none_of_the_instructors_files(edition):
    assert {p.name for p in edition.iterdir()} == LEARNERS
    assert not [name for name in NEVER if (edition / name).exists()]
    relative = {p.relative_to(edition).as_posix() for p in files(edition)
                if p.relative_to(edition).parts[0] != student_edition.SITE}
    labs = {p.relative_to(REPO).as_posix() for p in (REPO / "notebooks").glob("*.ipynb")}
    released = {p.relative_to(REPO).as_posix() for p in (REPO / "solutions").glob("*/*.ipynb")
                if p.parent.name != "labs"}     # solutions/labs/: the labs' sources, released into notebooks/
    package = {p.relative_to(REPO).as_posix() for p in (REPO / "course_lib").rglob("*.py")}
    assert relative == labs | {p.replace("solutions/", "assignments/", 1) for p in released} | package | (
        LEARNERS - {"course_lib", "notebooks", "assignments", "site"})
    for name in package:   # the package as it is
        assert (edition / name).read_bytes() == (REPO / name).read_bytes()
    # The labs as released: exercises with stubs, none of solutions/labs/ (the labs' answers).
    assert not (edition / "solutions").exists() and not list(edition.rglob("labs/*.ipynb"))
    sources = sorted((REPO / "solutions" / "labs").glob("*.ipynb"))
    assert sources and {f"notebooks/{p.name}" for p in sources} == labs
    for lab in labs:
        assert "raise NotImplementedError(" in (edition / lab).read_text(encoding="utf-8")


def _published(path: str) -> set:
    """PUBLISHED's lines for a file of the edition; for a lab's page on the website, its notebook's and
    course_lib's (lab 04 prints course_lib's Adam with `inspect.getsource`)."""
    page = re.fullmatch(rf"{student_edition.SITE}/(notebooks/.*)\.html", path)
    if not page:
        return PUBLISHED.get(path, set())
    package = set().union(*(lines for name, lines in PUBLISHED.items() if name.startswith("course_lib/")))
    return PUBLISHED.get(f"{page[1]}.ipynb", set()) | package


def test_no_line_of_a_solution_or_hidden_test_is_anywhere_in_the_edition(edition):
    found = {path: {line for line in lines if line not in IDIOMS and line not in _published(path)}
             for path, lines in leaks(edition).items()}
    assert {path: lines for path, lines in found.items() if lines} == {}


def test_the_leak_check_finds_answers_where_there_are_some():
    # The check is not blind: the course's own tests hold Adam's solution (which is why tests/ stays out).
    assert len(answer_lines()) > 100
    found = {path: lines - IDIOMS for path, lines in leaks(REPO / "tests").items() if path != Path(__file__).name}
    assert any(len(lines) >= 3 for lines in found.values()), found


def test_the_learners_pyproject_is_course_lib_alone_and_names_the_editions_repository(edition):
    ours, theirs = (tomllib.loads((folder / "pyproject.toml").read_text()) for folder in (REPO, edition))
    assert theirs["project"]["dependencies"] == ours["project"]["dependencies"]
    assert {key: theirs["project"][key] for key in ("name", "version", "requires-python")} == {
        key: ours["project"][key] for key in ("name", "version", "requires-python")}
    assert "optional-dependencies" not in theirs["project"] and "scripts" not in theirs["project"]
    assert theirs["tool"]["course"] == {"repository": STUDENT_REPOSITORY, "branch": STUDENT_BRANCH}
    assert theirs["tool"]["setuptools"]["packages"]["find"]["include"] == ["course_lib*"]
    assert "-e ." in (edition / "requirements.txt").read_text().splitlines()
    makefile = (edition / "Makefile").read_text()
    assert "-m course_lib.data" in makefile and "requirements.txt" in makefile


def test_the_edition_builds_the_learners_wheel_course_lib_alone(edition, tmp_path):
    # What Colab's set-up cell installs (`pip install git+<the edition's repository>`), built from a
    # copy (a build writes course_lib.egg-info beside the package).
    shutil.copytree(edition, tmp_path / "clone")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(tmp_path),
                    str(tmp_path / "clone")], check=True, capture_output=True)
    [wheel] = tmp_path.glob("course_lib-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/")[0] for name in archive.namelist()}
    assert tops == {"course_lib", "-".join(wheel.name.split("-")[:2]) + ".dist-info"}


def test_the_editions_notebooks_open_from_the_editions_repository_and_the_courses_are_untouched(edition):
    s = colab.settings(edition)            # the edition's own [tool.course]
    assert (s.repository, s.branch) == (STUDENT_REPOSITORY, STUDENT_BRANCH)
    ours = colab.settings(REPO)
    notebooks = sorted(edition.glob("notebooks/*.ipynb")) + sorted(edition.glob("assignments/*/*.ipynb"))
    assert len(notebooks) >= 8
    for path in notebooks:
        public = path.relative_to(edition).as_posix()
        notebook = nbformat.read(path, as_version=4)
        badge, setup = notebook.cells[0], notebook.cells[1]
        assert badge.source == colab.badge(s, public)
        assert f"github/example-org/nn-sentiment-learners/blob/{STUDENT_BRANCH}/{public})" in badge.source
        assert setup.source == colab.setup_code(s, notebook.metadata.get("course", {}).get("needs_data", False),
                                                colab.extra_packages(notebook))
        assert f"git+{STUDENT_REPOSITORY}@{STUDENT_BRANCH}" in setup.source
        # Apart from those two cells, the notebook is the course's own.
        original = nbformat.read(REPO / public, as_version=4)
        assert [c.source for c in notebook.cells[2:]] == [c.source for c in original.cells[2:]]
        assert nbformat.read(REPO / public, as_version=4).cells[0].source == colab.badge(ours, public)
    if ours.repository and ours.repository != STUDENT_REPOSITORY:
        assert not [p for p in files(edition) if ours.repository in p.read_text()]


def test_the_edition_holds_the_built_website_whose_pages_open_the_editions_notebooks_in_colab(edition):
    site = edition / student_edition.SITE
    assert (site / "index.html").is_file() and (site / "lecture_map.html").is_file()
    notebooks = sorted(edition.glob("notebooks/*.ipynb")) + sorted(edition.glob("assignments/*/*.ipynb"))
    s = colab.settings(edition)
    for path in notebooks:
        public = path.relative_to(edition).as_posix()
        page = (site / public).with_suffix(".html").read_text(encoding="utf-8")
        url = f"https://colab.research.google.com/github/example-org/nn-sentiment-learners/blob/{STUDENT_BRANCH}/{public}"
        assert url in colab.badge(s, public) and f'href="{url}"' in page, public
    assert any((site / "_images").glob("*.png")), "the labs' plots"
    assert "site/index.html" in (edition / "README.md").read_text()


def test_the_learners_readme_says_how_to_set_up_open_test_and_submit_and_nothing_of_the_instructors(edition):
    readme = (edition / "README.md").read_text()
    for needed in ("pip install -e .", "python -m course_lib.data", "Colab", "jupyter lab", "make check",
                   "test cell", "Submit", ".ipynb", STUDENT_REPOSITORY.removeprefix("https://github.com/")):
        assert needed in readme, needed
    for instructors in ("nbgrader", "solutions", "hidden test", "course_tools", "instructor/", "autograde",
                        "gradebook", "make release", "BEGIN"):
        assert instructors.lower() not in readme.lower(), instructors


def test_student_settings_use_the_student_repository_if_set_else_the_courses(tmp_path):
    project = (REPO / "pyproject.toml").read_text()
    (tmp_path / "pyproject.toml").write_text(project)
    ours = colab.settings(tmp_path)
    assert colab.student_settings(tmp_path) == ours
    assert colab.student_settings(tmp_path, "https://github.com/a/b.git/", "x") == colab.Settings(
        "https://github.com/a/b", "x", ours.requirements)
    (tmp_path / "pyproject.toml").write_text(project.replace(
        "[tool.course]\n", '[tool.course]\nstudent_repository = "https://github.com/a/learners"\n'
                           'student_branch = "2025"\n'))
    assert colab.student_settings(tmp_path) == colab.Settings("https://github.com/a/learners", "2025",
                                                              ours.requirements)
    assert colab.settings(tmp_path) == ours     # the course's own stamping is unchanged


def test_a_non_empty_folder_is_replaced_only_with_force_keeping_git_and_the_course_is_refused(tmp_path):
    s = colab.student_settings(REPO, STUDENT_REPOSITORY, STUDENT_BRANCH)
    dest = tmp_path / "learners"
    (dest / ".git").mkdir(parents=True)
    (dest / "stale.txt").write_text("from an older edition")
    with pytest.raises(student_edition.EditionError, match="not empty"):
        student_edition.write(REPO, dest, s)
    student_edition.write(REPO, dest, s, force=True)
    assert not (dest / "stale.txt").exists() and (dest / ".git").is_dir() and (dest / "course_lib").is_dir()
    for wrong in (REPO, REPO.parent, REPO / "notebooks" / "edition"):
        with pytest.raises(student_edition.EditionError):
            student_edition.write(REPO, wrong, s, force=True)
    assert (REPO / "solutions").is_dir() and (REPO / "notebooks" / "00_why_jax.ipynb").is_file()


def test_git_makes_the_edition_a_repository_and_commits_it_once(tmp_path, monkeypatch):
    for variable in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{variable}_NAME", "Course")
        monkeypatch.setenv(f"GIT_{variable}_EMAIL", "course@example.org")
    dest = tmp_path / "learners"
    student_edition.write(REPO, dest, colab.student_settings(REPO))
    student_edition.commit(dest, REPO)
    assert student_edition.commit(dest, REPO) == "nothing changed since the last commit"
    tracked = subprocess.run(["git", "ls-files"], cwd=dest, capture_output=True, text=True, check=True).stdout
    assert {line.split("/")[0] for line in tracked.splitlines()} == LEARNERS


def _run_from_the_edition(edition: Path, notebook, folder: Path, tmp_path: Path):
    """Runs `notebook` (from the edition, perhaps with answers) with `folder` of the edition as its
    working directory, in a kernel that imports the edition's course_lib (PYTHONPATH); returns the
    executed notebook and the course_lib it imported."""
    notebook.cells.append(nbformat.v4.new_code_cell("import course_lib\nprint(course_lib.__file__)"))
    path = tmp_path / "run.ipynb"            # a temporary copy: the edition is not written to
    nbformat.write(notebook, path)
    env = kernel_env({"PYTHONPATH": str(edition), "TQDM_DISABLE": "1", "COURSE_DATA_DIR":
                      os.environ.get("COURSE_DATA_DIR", str(REPO / "nltk_data"))})
    executed = execute_notebook(path, folder, timeout=120, env=env)   # raises on a cell's error
    imported = "".join(o.get("text", "") for o in executed.cells[-1].outputs).strip()
    return executed, Path(imported)


def test_a_lab_and_an_answered_assignment_run_from_the_edition_with_its_course_lib(edition, tmp_path):
    # The released lab with its exercises answered from the lab's source (in a copy).
    lab = nbformat.read(edition / "notebooks" / "01_classes.ipynb", as_version=4)
    source = nbformat.read(REPO / "solutions" / "labs" / "01_classes.ipynb", as_version=4)
    answers = {cell.id: cell.source for cell in source.cells if "nbgrader" in cell.metadata}
    stubbed = [cell for cell in lab.cells if cell.get("id") in answers]
    assert stubbed and all("raise NotImplementedError(" in cell.source for cell in stubbed)
    for cell in stubbed:
        cell.source = answers[cell.id]
    _, imported = _run_from_the_edition(edition, lab, edition / "notebooks", tmp_path)
    assert imported == edition / "course_lib" / "__init__.py"

    # The released layers assignment with each answer cell filled in from the solution (in a copy).
    source = Assignment("layers", REPO).sources["layers"]
    answers = {grade_id(cell): cell.source for cell in source.cells if is_answer(cell)}
    released = nbformat.read(edition / "assignments" / "layers" / "layers.ipynb", as_version=4)
    stubs = [cell for cell in released.cells if grade_id(cell) in answers]
    assert stubs and all("raise NotImplementedError()" in cell.source for cell in stubs)
    for cell in stubs:
        cell.source = answers[grade_id(cell)]
    executed, imported = _run_from_the_edition(edition, released, edition / "assignments" / "layers", tmp_path)
    assert imported == edition / "course_lib" / "__init__.py"
    tests = [c for c in executed.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    assert tests and all(c.get("execution_count") for c in tests), "every visible test cell ran"


def test_the_install_size_benchmark_is_skipped_with_a_message_when_pip_cannot_reach_an_index(
        tmp_path, monkeypatch, capsys):
    from benchmarks import run
    empty = tmp_path / "no-wheels"
    empty.mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")             # no index, and no local wheels either
    monkeypatch.setenv("PIP_FIND_LINKS", str(empty))
    output = tmp_path / "bench.json"
    earlier = {"install_size": {"learners": {"site_packages_mib": 1.0, "packages": 1},
                                "instructors": {"site_packages_mib": 2.0, "packages": 2}},
               "runs": {"install_size": []}, "machine": {}}
    output.write_text(json.dumps(earlier))

    assert run.main(["--only", "install_size", "--output", str(output)]) == 0

    assert "install_size skipped: pip could not reach a package index" in capsys.readouterr().err
    assert json.loads(output.read_text())["install_size"] == earlier["install_size"], "earlier results are kept"
