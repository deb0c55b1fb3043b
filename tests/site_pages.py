"""Helpers for the tests that read the course website (test_site.py, test_student_edition.py): the text
a page shows, and the lines of the answers that no page may show."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat

from grading_support import REPO

BLOCK = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.S)
# What a site's files are: text (read for answers), or images, fonts, translations and Sphinx's
# compressed inventory (objects.inv), which hold no code.
TEXT = {".html", ".js", ".css", ".map", ".txt", ".json", ".ipynb", ".md", ".py", ".po", ".buildinfo"}
BINARY = {".png", ".jpg", ".jpeg", ".gif", ".ico", ".svg", ".woff", ".woff2", ".ttf", ".eot", ".inv", ".mo"}


class _Text(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style") and self._skip > 0

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def page_text(html: str) -> str:
    """The text of an HTML page, tags removed and entities decoded: a highlighted code cell's lines
    read as they were written (Pygments splits them into <span>s)."""
    parser = _Text()
    parser.feed(html)
    return "".join(parser.parts)


def site_text(path: Path) -> str:
    """What a file of a built site says: a page's text, or a text file as it is ('' for an image or a font).

    Raises:
      ValueError: a file of a kind that is neither (a new kind of file needs a look, and a line here)."""
    kind = path.suffix or path.name          # .buildinfo
    if kind in BINARY:
        return ""
    if kind not in TEXT:
        raise ValueError(f"{path}: a site file of an unknown kind ({kind!r})")
    text = path.read_text(encoding="utf-8")
    return page_text(text) if kind == ".html" else text


def _text(path: Path) -> str:
    return "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells)


def answer_lines(sources) -> dict[str, str]:
    """Distinctive lines of the solution and hidden-test regions of the notebooks `sources` (over 25
    characters, stripped) that are not published: not outside those regions in any of them, nor in
    the course's releases (notebooks/*.ipynb, assignments/*/*.ipynb), nor in course_lib (the learners'
    package: Trax's Adam is there by design, and lab 04 prints it) -> the notebook they come from."""
    texts = {path: _text(path) for path in sources}
    released = sorted((REPO / "notebooks").glob("*.ipynb")) + sorted((REPO / "assignments").glob("*/*.ipynb"))
    package = [p.read_text(encoding="utf-8") for p in sorted((REPO / "course_lib").rglob("*.py"))]
    public = "\n".join([BLOCK.sub("", text) for text in texts.values()] + [_text(p) for p in released] + package)
    lines = {}
    for path, text in texts.items():
        for block in BLOCK.finditer(text):
            for line in block[2].splitlines():
                line = line.strip()
                if len(line) > 25 and line not in public:
                    lines.setdefault(line, str(Path(path).relative_to(REPO)))
    return lines


def lab_and_assignment_sources() -> tuple[list[Path], list[Path]]:
    """(the labs' sources with answers, solutions/labs/*.ipynb, [] where the course has none yet;
    the graded assignments' sources, solutions/<name>/*.ipynb)."""
    labs = sorted((REPO / "solutions" / "labs").glob("*.ipynb"))
    return labs, sorted(p for p in (REPO / "solutions").glob("*/*.ipynb") if p.parent.name != "labs")
