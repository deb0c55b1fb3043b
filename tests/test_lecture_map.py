"""README's "Lecture map": every lecture topic points at a notebook and a section that exists."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent

# The lectures' topics (../shared/seeds: slides, talk, reading notes, transcript), each of which the
# map must place. Written out here so that a topic dropped from the README fails this test.
LECTURE_TOPICS = [
    "Why JAX: selu in NumPy, JAX and jit",
    "grad, vmap, PRNG keys, pytrees",
    "jit's requirements: static arguments, tracers",
    "Classes, subclasses and __call__",
    "Layers as classes",
    "Dense layer: z = W a",
    "ReLU layer: g(z) = max(0, z)",
    "Serial: forward propagation",
    "Combinators: Parallel, Branch, Select",
    "Embedding layer",
    "Mean layer",
    "Initial representation: vocabulary, ids, padding",
    "Processing a tweet",
    "Generators, shuffling and batches",
    "Bucketing and the masked mean",
    "grad of f(x) = 3x^2 + x",
    "Training with grad",
    "Adam (Kingma & Ba 2015) and Trax's code",
    "Adam in Trax, TensorFlow and PyTorch",
    "The tweet classifier: Embedding, Mean, Dense, LogSoftmax",
    "Training and evaluating the classifier",
    "Error analysis: what the model learned",
    "Flax, Haiku and Optax",
    "pmap and sharding: many devices",
    "Bigger datasets",
]


def lecture_map() -> list[tuple[str, str, str]]:
    """(topic, notebook path, section heading) per row of README's "Lecture map" table."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^## Lecture map\n(.*?)(?=^## )", text, flags=re.M | re.S)
    assert match, 'README.md has no "## Lecture map" section'
    rows = []
    for line in match.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) != 3 or set(cells[0]) <= {"-", " "}:
            continue
        if cells[0].lower() == "lecture topic":
            continue
        rows.append((cells[0], cells[1].strip("`"), cells[2]))
    return rows


def headings(path: Path) -> set[str]:
    notebook = nbformat.read(path, as_version=4)
    return {line.lstrip("#").strip() for cell in notebook.cells if cell.cell_type == "markdown"
            for line in cell.source.splitlines() if line.startswith("#")}


def test_every_lecture_topic_has_a_row_in_the_readme_lecture_map():
    topics = [topic for topic, _, _ in lecture_map()]
    assert [t for t in LECTURE_TOPICS if t not in topics] == []


def test_every_notebook_the_lecture_map_names_exists_and_has_that_section_heading():
    problems = []
    for topic, notebook, section in lecture_map():
        path = ROOT / notebook
        if not path.is_file():
            problems.append(f"{topic}: {notebook} does not exist")
        elif section not in headings(path):
            problems.append(f"{topic}: {notebook} has no heading {section!r}")
    assert problems == []


def test_every_lab_and_assignment_appears_in_the_lecture_map():
    named = {notebook for _, notebook, _ in lecture_map()}
    notebooks = {str(p.relative_to(ROOT)) for p in sorted((ROOT / "notebooks").glob("*.ipynb"))}
    notebooks |= {str(p.relative_to(ROOT)) for p in sorted((ROOT / "assignments").glob("*/*.ipynb"))}
    assert sorted(notebooks - named) == []
