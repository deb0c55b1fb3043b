"""`python -m course_tools.website [OUT]` (`make site`): the course as a static website, with no answer on it.

The site (Sphinx + MyST-NB, sphinx-book-theme; settings in website/conf.py) has a page for

  the lecture map   README.md's section whose heading holds "Lecture map" (else a page that says it
                    is not written yet);
  each lab          executed (outputs and plots), then cleared of its answers: the lab's source is
                    run top to bottom (solutions/labs/NN_*.ipynb if that folder exists, else
                    notebooks/NN_*.ipynb), then nbgrader's ClearSolutions preprocessor, with the
                    course's nbgrader_config.py, replaces each `### BEGIN SOLUTION`..`### END SOLUTION`
                    region by the release's stub, and MyST-NB renders it without running it again;
  each assignment   the release (assignments/<name>/<name>.ipynb) as learners get it, NOT executed:
                    its exercises are stubs that raise NotImplementedError, so running it would put
                    an error under every exercise and test cell (and tweet_sentiment needs the data).

Every notebook's "Open in Colab" badge and Colab set-up cells are stamped again (colab.stamp) with
the settings given (the course's `[tool.course]`, or the student edition's), so each page shows what
the notebook shows; the badge's image is a local copy, so that the site works offline.

An executed lab is cached in build/site-cache/, keyed by the sha256 of the lab's source and of
course_lib's sources (what a lab's outputs depend on), so a rebuild runs only the labs that changed
(a lab's earlier runs are deleted when it runs again).
Cache files are written whole and then renamed into place: builds running at once are safe.
"""
from __future__ import annotations

import argparse
import hashlib
import html
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from course_tools import colab, layout
from course_tools.execute import execute_notebook, kernel_env

CONF_DIR = "website"                 # conf.py and _static/, in the course's folder
LAB_SOURCES = "solutions/labs"       # the labs with their answers, when the course has them
CACHE = "build/site-cache"
CACHE_VERSION = "1"                  # bump when the way a lab is executed changes
CELL_TIMEOUT_SECONDS = 120           # a lab runs in under 60 s: a cell past this is a bug
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"


class SiteError(RuntimeError):
    """The site cannot be built: a lab failed to run, a notebook has no Colab cells, Sphinx failed."""


def lab_sources(course_dir: Path) -> list[Path]:
    """The labs to execute: solutions/labs/*.ipynb (with answers) if that folder exists, else notebooks/*.ipynb."""
    folder = course_dir / LAB_SOURCES
    if not folder.is_dir():
        folder = course_dir / "notebooks"
    return sorted(folder.glob("*.ipynb"))


def released_assignments(course_dir: Path) -> list[Path]:
    """The released assignments' notebooks, assignments/<name>/*.ipynb (the labs' folder excluded)."""
    return sorted(p for p in (course_dir / layout.RELEASE).glob("*/*.ipynb") if p.parent.name != "labs")


def cache_key(source: Path, course_dir: Path) -> str:
    """sha256 of the lab's bytes, course_lib's sources and CACHE_VERSION (hex)."""
    digest = hashlib.sha256(CACHE_VERSION.encode())
    digest.update(source.read_bytes())
    for path in sorted((course_dir / "course_lib").rglob("*.py")):
        digest.update(path.relative_to(course_dir).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def execute_lab(source: Path, course_dir: Path, cache_dir: Path, log=print) -> nbformat.NotebookNode:
    """The lab at `source`, executed top to bottom (from the cache when its key is there).

    Raises:
      SiteError: a cell raised or ran past CELL_TIMEOUT_SECONDS (the message names the lab).
    """
    cached = cache_dir / f"{source.stem}-{cache_key(source, course_dir)[:32]}.ipynb"
    if cached.exists():
        return nbformat.read(cached, as_version=4)
    # Plots inline (the grader's kernels draw with agg, showing nothing), tqdm bars on.
    env = kernel_env({"MPLBACKEND": "module://matplotlib_inline.backend_inline", "TQDM_DISABLE": "0",
                      "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "")})
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="site-lab-") as workdir:
        try:
            notebook = execute_notebook(source, Path(workdir), timeout=CELL_TIMEOUT_SECONDS, env=env)
        except Exception as error:
            raise SiteError(f"lab {source} failed to run, so the site was not built:\n{error}") from None
    log(f"executed {source.relative_to(course_dir)} in {time.perf_counter() - start:.1f} s")
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=cache_dir, suffix=".tmp", delete=False, encoding="utf-8") as file:
        nbformat.write(notebook, file)
    os.replace(file.name, cached)
    for older in cache_dir.glob(f"{source.stem}-*.ipynb"):     # earlier versions of this lab
        if older != cached:
            older.unlink(missing_ok=True)
    return notebook


def clear_solutions(notebook: nbformat.NotebookNode, course_dir: Path) -> nbformat.NotebookNode:
    """`notebook` with each solution region's text replaced by the release's stub (nbgrader's
    ClearSolutions, configured by the course's nbgrader_config.py); outputs are kept."""
    from nbgrader.preprocessors import ClearSolutions
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(course_dir)).load_config()
    clear = ClearSolutions(config=config, enforce_metadata=False)
    notebook, _ = clear.preprocess(nbformat.from_dict(notebook), {"language": "python"})
    return notebook


def _progress_html(widget_id: str, state: dict) -> str | None:
    """tqdm's notebook bar (an HBox of an HTML label, a FloatProgress and an HTML label), as it
    ended, in HTML with a <progress> element; None for another widget."""
    box = state.get(widget_id, {}).get("state", {})
    children = [state.get(c.removeprefix("IPY_MODEL_"), {}).get("state", {}) for c in box.get("children", [])]
    if len(children) != 3 or children[1].get("_model_name") != "FloatProgressModel":
        return None
    bar = children[1]
    return (f'<div class="course-progress">{children[0].get("value", "")} '
            f'<progress value="{html.escape(str(bar.get("value", 0)))}" max="{html.escape(str(bar.get("max", 1)))}">'
            f'</progress> {children[2].get("value", "")}</div>')


def static_widgets(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """`notebook` with its widget outputs made static: tqdm's bars as HTML <progress> elements,
    other widgets as their text; its widget state removed (it would load widget JavaScript from a CDN)."""
    state = notebook.metadata.pop("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            view = output.get("data", {}).pop("application/vnd.jupyter.widget-view+json", None)
            if view:
                progress = _progress_html(view.get("model_id", ""), state)
                if progress:
                    output["data"]["text/html"] = progress
    return notebook


def stamped(notebook: nbformat.NotebookNode, path: Path, public_path: str, s: colab.Settings,
            badge_image: str) -> None:
    """Writes `notebook` to `path` with its Colab cells stamped from `s`, the badge's image `badge_image`.

    Raises:
      SiteError: the notebook has no 'colab-badge' or 'colab-setup' cell.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    try:
        colab.stamp(path, public_path, s)
    except ValueError as error:
        raise SiteError(f"{public_path}: {error}") from None
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.get("id") == colab.BADGE_ID:
            cell.source = cell.source.replace(BADGE_IMAGE, badge_image)
        elif cell.get("id") == colab.SETUP_ID:     # shown folded: it does nothing outside Colab
            cell.metadata.setdefault("tags", []).append("hide-input")
    nbformat.write(notebook, path)


def lecture_map(readme: str) -> str:
    """README's section whose heading holds "Lecture map" (up to the next heading of its level or
    above; lines in fenced code are not headings), or a page that says it is not written yet."""
    lines, fenced, start, level = readme.splitlines(keepends=True), False, None, 0
    for i, line in enumerate(lines):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        heading = None if fenced else re.match(r"(#{1,6})\s+(.*)", line)
        if heading and start is None and "lecture map" in heading[2].lower():
            start, level = i, len(heading[1])
        elif heading and start is not None and len(heading[1]) <= level:
            return "# " + "".join(lines[start:i]).lstrip("#").lstrip()   # its heading at level 1: the title
    if start is not None:
        return "# " + "".join(lines[start:]).lstrip("#").lstrip()
    return ("# Lecture map\n\nThe lecture map (each lecture topic, and the notebook and section that "
            "teach it) is not written yet: it will be the README's \"Lecture map\" section.\n")


INDEX = """\
# {title}

{intro}

{colab}The labs are shown as they ran, with their outputs and plots, and with their exercises as you
get them (no answers); the graded assignments are shown as released, not run.

```{{toctree}}
:caption: Lectures
:maxdepth: 1

lecture_map
```

```{{toctree}}
:caption: Labs
:maxdepth: 1

{labs}
```

```{{toctree}}
:caption: Graded assignments
:maxdepth: 1

{assignments}
```
"""


def stage(course_dir: Path, src: Path, s: colab.Settings, cache_dir: Path, log=print) -> None:
    """Writes the site's sources into the empty folder `src`: index.md, lecture_map.md, the labs
    (executed, answer-free) in notebooks/ and the released assignments in assignments/<name>/."""
    shutil.copyfile(course_dir / CONF_DIR / "_static" / "colab-badge.svg", src / "colab-badge.svg")
    labs = []
    for source in lab_sources(course_dir):
        notebook = static_widgets(clear_solutions(execute_lab(source, course_dir, cache_dir, log), course_dir))
        public = f"notebooks/{source.name}"
        stamped(notebook, src / public, public, s, "../colab-badge.svg")
        labs.append(public)
    assignments = []
    for path in released_assignments(course_dir):
        public = path.relative_to(course_dir).as_posix()
        stamped(nbformat.read(path, as_version=4), src / public, public, s, "../../colab-badge.svg")
        assignments.append(public)
    readme = (course_dir / "README.md").read_text(encoding="utf-8")
    (src / "lecture_map.md").write_text(lecture_map(readme), encoding="utf-8")
    heading = re.search(r"^# (.+)$", readme, re.M)
    paragraph = re.search(r"^# .+?\n\n(.+?)\n\n", readme, re.S)
    (src / "index.md").write_text(INDEX.format(
        title=heading[1] if heading else "The course",
        intro=paragraph[1] if paragraph else "",
        colab="A notebook's page opens it in Colab from the badge at its top. " if s.repository else "",
        labs="\n".join(p.removesuffix(".ipynb") for p in labs),
        assignments="\n".join(p.removesuffix(".ipynb") for p in assignments)), encoding="utf-8")


def build(course_dir: Path, out: Path, s: colab.Settings | None = None, cache_dir: Path | None = None,
          log=print) -> Path:
    """Builds the site of the course at `course_dir` into `out` (replaced); returns out/index.html.

    Args:
      s: the Colab settings the notebooks are stamped with (default: the course's, colab.settings).
      cache_dir: where executed labs are cached (default: the course's build/site-cache).

    Raises:
      SiteError: see the class. ValueError: the course's [tool.course] settings are invalid.
    """
    course_dir, out = course_dir.resolve(), out.resolve()
    s = colab.settings(course_dir) if s is None else s
    cache_dir = course_dir / CACHE if cache_dir is None else cache_dir
    with tempfile.TemporaryDirectory(prefix="site-src-") as work:
        src, doctrees = Path(work) / "src", Path(work) / "doctrees"
        src.mkdir()
        stage(course_dir, src, s, cache_dir, log)
        if out.exists():
            shutil.rmtree(out)
        start = time.perf_counter()
        process = subprocess.run(
            [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-W", "--keep-going", "-c",
             str(course_dir / CONF_DIR), "-d", str(doctrees), str(src), str(out)],
            capture_output=True, text=True)
        if process.returncode != 0:
            raise SiteError(f"Sphinx failed to build the site:\n{process.stderr}{process.stdout}")
        log(f"rendered the site in {time.perf_counter() - start:.1f} s")
    return out / "index.html"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_tools.website", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", nargs="?", default="build/site", help="the folder to write the site into "
                                                                     "(replaced; default build/site)")
    parser.add_argument("--course-dir", default=None)
    parser.add_argument("--cache-dir", default=None, help=f"where executed labs are cached (default: the "
                                                          f"course's {CACHE})")
    args = parser.parse_args(argv)
    course_dir = Path(args.course_dir) if args.course_dir else layout.course_root()
    try:
        index = build(course_dir, Path(args.out), cache_dir=Path(args.cache_dir) if args.cache_dir else None)
    except (SiteError, ValueError) as error:
        print(f"site: {error}", file=sys.stderr)
        return 1
    print(f"wrote the course website to {index.parent}: view it with "
          f"`python -m http.server -d {args.out}`, then open http://localhost:8000")
    return 0


if __name__ == "__main__":
    sys.exit(main())
