"""The course website (`make site`, course_tools.website): built once into a temporary folder, served on
127.0.0.1 and read in headless Chromium (Debian's chromium and chromium-driver, `make system-deps`),
with every other address unreachable: the lab pages show their plots, the navigation reaches every
lab and assignment, no page shows an answer, and nothing is loaded from the network."""
from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import subprocess
import sys
import threading
import tomllib
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import nbformat
import pytest

from course_tools import colab, website
from grading_support import REPO
from site_pages import answer_lines, lab_and_assignment_sources, page_text, site_text

LABS = website.lab_sources(REPO)
ASSIGNMENTS = website.released_assignments(REPO)
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


# With test_lab_notebooks' runs of the labs, on one worker: the site reads the labs they executed
# into the session's cache (conftest.SITE_CACHE), which they fill first (collected first).
pytestmark = pytest.mark.xdist_group("lab-executions")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("website") / "site"
    cache = os.environ.get("COURSE_TESTS_SITE_CACHE") or str(tmp_path_factory.mktemp("site-cache"))
    process = subprocess.run([sys.executable, "-m", "course_tools.website", str(out), "--course-dir", str(REPO),
                              "--cache-dir", cache], capture_output=True, text=True)
    assert process.returncode == 0, process.stderr
    return out


@pytest.fixture(scope="module")
def server(site):
    """The site over HTTP on a free port of 127.0.0.1, as `python -m http.server -d build/site` serves
    it; yields (its base URL, the (path, status) of every request it answered)."""
    requests = []

    class Handler(SimpleHTTPRequestHandler):
        def log_request(self, code="-", size="-"):
            requests.append((self.path, int(getattr(code, "value", code))))

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", requests
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("the website's browser test needs Debian's chromium and chromium-driver: "
                    "`make system-deps` as root, or `sudo apt-get install chromium chromium-driver`")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1600",
                     # Offline: every host but the test's server is unreachable.
                     "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def open_page(browser, url: str) -> None:
    """Loads `url` and waits until its images and MathJax are done."""
    browser.get(url)
    browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const images = Array.from(document.images).map(i => i.decode().catch(() => null));
        const math = window.MathJax && MathJax.startup ? MathJax.startup.promise : Promise.resolve();
        Promise.all([...images, math]).then(() => done(true), () => done(false));
    """)


def _lab_page(name: str) -> str:
    return f"notebooks/{name.removesuffix('.ipynb')}.html"


def _draws_a_plot(path: Path) -> bool:
    return any(cell.cell_type == "code" and re.search(r"plt\.show\(\)|plt\.subplots?\(", cell.source)
               for cell in nbformat.read(path, as_version=4).cells)


def test_every_lab_page_shows_its_plots_as_images_that_the_browser_decoded(site, server, browser):
    base, _ = server
    plotting = [p for p in LABS if _draws_a_plot(p)]
    assert len(plotting) >= 4, "most labs draw plots"
    for lab in plotting:
        open_page(browser, base + _lab_page(lab.name))
        images = browser.execute_script("""
            return Array.from(document.querySelectorAll('.cell_output img')).map(
                i => [i.getAttribute('src'), i.complete, i.naturalWidth, i.naturalHeight]);""")
        assert images, f"{lab.name}: no plot on its page"
        broken = [src for src, complete, width, height in images if not (complete and width > 0 and height > 0)]
        assert not broken, f"{lab.name}: images that did not decode: {broken}"


def test_the_sidebar_links_to_every_lab_and_assignment_and_every_page_and_asset_it_loads_is_there(
        site, server, browser):
    base, requests = server
    open_page(browser, base + "index.html")
    links = browser.execute_script("""
        return Array.from(document.querySelectorAll('.bd-sidebar-primary nav a.reference.internal')).map(
            a => [a.href, a.textContent.trim()]);""")
    hrefs = {href.removeprefix(base).split("#")[0] for href, _ in links}
    expected = {_lab_page(p.name) for p in LABS} | {
        p.relative_to(REPO).with_suffix(".html").as_posix() for p in ASSIGNMENTS} | {"lecture_map.html"}
    assert expected <= hrefs, f"missing from the sidebar: {expected - hrefs}"
    requests.clear()
    for href, text in links:
        open_page(browser, href)
        assert browser.current_url.split("#")[0] == href.split("#")[0]
        heading = browser.execute_script("return document.querySelector('article h1').textContent")
        assert heading.rstrip("#¶ ").strip() == text, f"{href} shows {heading!r}, its link says {text!r}"
        # Everything the page loaded came from the site's server.
        resources = browser.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)")
        assert [r for r in resources if not r.startswith(base)] == []
    failed = sorted({(path, status) for path, status in requests if status >= 400})
    assert failed == [], "requests the site could not answer (404: a broken link or a missing asset)"
    assert len({path for path, _ in requests if path.startswith("/_static/mathjax/")}) >= 2, \
        "MathJax was served by the site"


def test_no_page_loads_a_script_or_stylesheet_from_the_network(site):
    pattern = re.compile(r"<(?:script|link)\b[^>]*\b(?:src|href)=[\"']((?:https?:)?//[^\"']*)", re.I)
    external = {path.relative_to(site).as_posix(): pattern.findall(path.read_text(encoding="utf-8"))
                for path in site.rglob("*.html")}
    assert {page: urls for page, urls in external.items() if urls} == {}
    assert pattern.findall('<script defer src="https://cdn.example/x.js">'), "the check sees one"


def test_no_page_shows_a_line_of_a_lab_answer_or_an_assignment_solution(site):
    labs, assignments = lab_and_assignment_sources()
    lines = answer_lines(labs + assignments)
    assert len(lines) > 100, "the assignments' solutions have many lines: the check is not blind"
    if labs:
        assert any(source.startswith("solutions/labs/") for source in lines.values())
    found = {}
    for path in sorted(p for p in site.rglob("*") if p.is_file()):
        text = site_text(path)
        found.update({(path.relative_to(site).as_posix(), line) for line in lines if line in text})
    assert found == {}


def test_a_page_reads_its_code_as_written_so_that_the_answer_check_can_see_code(site):
    # The check above reads pages' text: it finds a line of a lab's code through the highlighting.
    lab = next(p for p in LABS if p.stem.startswith("04_grad"))
    line = "grad_f = fastmath.grad(f)"
    assert any(line in cell.source for cell in nbformat.read(lab, as_version=4).cells)
    assert line in page_text((site / _lab_page(lab.name)).read_text(encoding="utf-8"))


def test_every_page_shows_the_colab_badge_or_note_that_its_notebook_shows(site):
    s = colab.settings(REPO)
    for path in LABS + ASSIGNMENTS:
        public = f"notebooks/{path.name}" if path in LABS else path.relative_to(REPO).as_posix()
        html = (site / public).with_suffix(".html").read_text(encoding="utf-8")
        if s.repository is None:
            # (Sphinx's smart quotes curl the apostrophe in "course's")
            assert "No “Open in Colab” badge: this notebook was released without the course" in page_text(html), public
        else:
            url = re.search(r"\]\((https://colab[^)]+)\)", colab.badge(s, public))[1]
            assert f'href="{url}"' in html and "colab-badge.svg" in html, public


def test_a_lab_page_shows_its_training_progress_bar_as_it_ended(site, server, browser):
    base, _ = server
    open_page(browser, base + _lab_page(next(p for p in LABS if p.stem.startswith("04_grad")).name))
    bars = browser.execute_script(
        "return Array.from(document.querySelectorAll('.cell_output progress')).map(p => [p.value, p.max])")
    assert bars and all(value == maximum > 0 for value, maximum in bars), bars


def test_the_lecture_map_page_is_the_readmes_section_or_says_it_is_not_written_yet(site):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    text = page_text((site / "lecture_map.html").read_text(encoding="utf-8"))
    heading = re.search(r"^#+\s+(.*lecture map.*)$", readme, re.I | re.M)
    if heading:   # every word of the section's text (links' targets aside) is on the page
        section = website.lecture_map(readme)
        words = set(re.findall(r"[A-Za-z]{3,}", re.sub(r"\]\([^)]*\)", "]", section)))
        assert words and words <= set(re.findall(r"[A-Za-z]{3,}", text)), words - set(re.findall(r"[A-Za-z]{3,}", text))
    else:
        assert "not written yet" in text


def test_the_website_builder_is_the_site_extra_and_no_dependency_of_the_learners_package():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names = lambda requirements: {re.match(r"[A-Za-z0-9_.-]+", r)[0].lower() for r in requirements}
    assert {"sphinx", "myst-nb", "sphinx-book-theme"} <= names(project["optional-dependencies"]["site"])
    assert not names(project["optional-dependencies"]["site"]) & names(project["dependencies"])
    installs = re.findall(r"-e '\.\[([a-z,]+)\]'", (REPO / "Makefile").read_text())
    assert any("site" in extras.split(",") for extras in installs), \
        "make setup installs it, so make test builds the site"


def test_lecture_map_takes_the_readme_section_up_to_the_next_heading_of_its_level():
    section = "| topic | notebook |\n|---|---|\n| grad | 04 |\n\n```bash\n# not a heading\n```\n\n### detail\n\nx\n\n"
    readme = "# Course\n\nintro\n\n## The lecture map\n\n" + section + "## Next\n\ny\n"
    assert website.lecture_map(readme) == "# The lecture map\n\n" + section
    assert website.lecture_map("# C\n\n## Lecture map\n\nlast\n") == "# Lecture map\n\nlast\n"
    assert "not written yet" in website.lecture_map("# Course\n\n## Labs\n")


def test_clear_solutions_replaces_each_solution_region_by_the_stub_and_keeps_the_outputs():
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "def f(x):\n    ### BEGIN SOLUTION\n    return x * 42  # the answer\n    ### END SOLUTION\n",
        outputs=[nbformat.v4.new_output("stream", text="ran\n")])])
    cleared = website.clear_solutions(notebook, REPO)
    assert "x * 42" not in cleared.cells[0].source and "BEGIN SOLUTION" not in cleared.cells[0].source
    assert cleared.cells[0].source == "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
    assert cleared.cells[0].outputs[0].text == "ran\n"


def test_an_executed_lab_is_read_from_the_cache_while_its_source_and_course_lib_are_unchanged(tmp_path):
    course, cache = tmp_path / "course", tmp_path / "cache"
    (course / "course_lib").mkdir(parents=True)
    (course / "course_lib" / "a.py").write_text("x = 1\n")
    lab = course / "lab.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("6 * 7")]), lab)
    key = website.cache_key(lab, course)
    digest = hashlib.sha256(website.CACHE_VERSION.encode() + lab.read_bytes()
                            + b"course_lib/a.py" + b"x = 1\n").hexdigest()
    assert key == digest
    marker = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("from the cache")])
    cache.mkdir()
    nbformat.write(marker, cache / f"lab-{key[:32]}.ipynb")
    assert website.execute_lab(lab, course, cache).cells[0].source == "from the cache"

    (course / "course_lib" / "a.py").write_text("x = 2\n")     # course_lib changed: the lab runs again
    assert website.cache_key(lab, course) != key
    ran = website.execute_lab(lab, course, cache, log=lambda message: None)
    assert ran.cells[0].outputs[0]["data"]["text/plain"] == "42"
    assert [p.name for p in cache.iterdir()] == [f"lab-{website.cache_key(lab, course)[:32]}.ipynb"], \
        "the new run replaced the old one"

    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 / 0")]), lab)
    with pytest.raises(website.SiteError, match="lab.ipynb failed to run(.|\n)*ZeroDivisionError"):
        website.execute_lab(lab, course, cache, log=lambda message: None)


def _notebook(*cells) -> nbformat.NotebookNode:
    """A notebook with the Colab cells that `make release` stamps, then `cells`."""
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("badge", id=colab.BADGE_ID),
        nbformat.v4.new_code_cell("", id=colab.SETUP_ID), *cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


def test_a_course_with_lab_sources_gets_pages_that_ran_the_answers_and_show_the_stubs(tmp_path):
    # A small course laid out as the labs will be: sources with answers in solutions/labs/, stubs in notebooks/.
    course = tmp_path / "course"
    shutil.copytree(REPO / "website", course / "website")
    shutil.copyfile(REPO / "nbgrader_config.py", course / "nbgrader_config.py")
    (course / "course_lib").mkdir()
    (course / "README.md").write_text("# A course\n\nIts intro.\n\n## Lecture map\n\n| topic | notebook |\n"
                                      "| --- | --- |\n| sums | [lab 00](notebooks/00_sums.ipynb#sums) |\n")
    lab = _notebook(nbformat.v4.new_markdown_cell("# Lab 00: sums\n\n## Sums"), nbformat.v4.new_code_cell(
        "def total(xs):\n    ### BEGIN SOLUTION\n    return sum(xs) + 0  # the lab's answer line\n"
        "    ### END SOLUTION\n\nprint('total is', total([1, 2, 3]))"))
    for folder in ("solutions/labs", "notebooks"):
        (course / folder).mkdir(parents=True)
        nbformat.write(lab, course / folder / "00_sums.ipynb")   # (notebooks/: the stub; unused here)
    (course / "assignments" / "a").mkdir(parents=True)
    nbformat.write(_notebook(nbformat.v4.new_markdown_cell("# Assignment A"),
                             nbformat.v4.new_code_cell("raise NotImplementedError()")),
                   course / "assignments" / "a" / "a.ipynb")
    s = colab.Settings("https://github.com/acme/course", "main", ())

    assert website.lab_sources(course) == [course / "solutions" / "labs" / "00_sums.ipynb"]
    index = website.build(course, tmp_path / "site", s, cache_dir=tmp_path / "cache", log=lambda m: None)

    page = page_text((index.parent / "notebooks" / "00_sums.html").read_text(encoding="utf-8"))
    assert "total is 6" in page, "the answer ran"
    assert "the lab's answer line" not in page and "BEGIN SOLUTION" not in page
    assert "raise NotImplementedError()" in page, "the stub is shown in its place"
    assignment = (index.parent / "assignments" / "a" / "a.html").read_text(encoding="utf-8")
    assert "Traceback" not in assignment and "https://colab.research.google.com/github/acme/course/blob/main/" \
        "assignments/a/a.ipynb" in assignment
    lecture_map = (index.parent / "lecture_map.html").read_text(encoding="utf-8")
    assert 'href="notebooks/00_sums.html#sums"' in lecture_map, "the map's links lead to the lab's section"
    assert len(list((tmp_path / "cache").glob("00_sums-*.ipynb"))) == 1
