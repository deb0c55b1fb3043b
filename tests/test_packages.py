"""Learners install course_lib alone; the instructors' tools are another package (instructor/)."""
from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
import zipfile

from grading_support import REPO

INSTRUCTORS_ONLY = {"course_tools", "nbgrader", "nbclient", "nbformat", "jupyter_client", "ipykernel", "zmq"}


def test_the_learners_wheel_holds_course_lib_alone_and_no_command(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--wheel-dir", str(tmp_path), str(REPO)], check=True, capture_output=True)
    [wheel] = tmp_path.glob("course_lib-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    version = wheel.name.split("-")[1]
    assert {name.split("/")[0] for name in names} == {"course_lib", f"course_lib-{version}.dist-info"}
    assert not [n for n in names if n.endswith("entry_points.txt")], "the learners' package installs no command"
    required = [re.split(r"[<>=!~; ]", line.split(":", 1)[1].strip())[0]
                for line in metadata.splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line]
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert set(required) == {re.split(r"[<>=!~; ]", dependency)[0] for dependency in declared}
    assert not set(required) & (INSTRUCTORS_ONLY | {"nbgrader", "jupyter"})


def test_course_lib_imports_nothing_of_the_instructors_tools():
    imported = set()
    for path in (REPO / "course_lib").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {(path.name, alias.name.split(".")[0]) for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add((path.name, node.module.split(".")[0]))
    assert {(file, module) for file, module in imported if module in INSTRUCTORS_ONLY} == set()


def test_the_instructors_package_needs_course_lib_and_provides_course_grade():
    project = tomllib.loads((REPO / "instructor" / "pyproject.toml").read_text())["project"]
    assert "course_lib" in project["dependencies"]
    assert "nbgrader" in " ".join(project["dependencies"])
    assert project["scripts"] == {"course-grade": "course_tools.cli:main"}
    assert (REPO / "instructor" / "course_tools" / "cli.py").exists()
