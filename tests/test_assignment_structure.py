"""What every graded assignment must be: exercises with a solution, a visible and a hidden test each,
tests named after what they grade, a release without solutions or hidden tests, the Colab cells first."""
import re

import pytest

from course_tools import release
from course_tools.assignment import Assignment, grade_id, is_answer, is_test
from grading_support import REPO, leaked_lines

ASSIGNMENTS = release.assignments(REPO)


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def assignment(request):
    return Assignment(request.param, REPO)


def exercises(assignment):
    """The functions and classes the learner writes: those defined in the answer cells, in order."""
    source = assignment.sources[assignment.notebook_names[0]]
    return list(dict.fromkeys(m for c in source.cells if is_answer(c)
                              for m in re.findall(r"^(?:class|def) (\w+)", c.source, re.M)))


def test_the_course_has_its_three_graded_assignments():
    assert ASSIGNMENTS == ["layers", "training", "tweet_sentiment"]


def test_each_exercise_has_a_solution_a_visible_and_a_hidden_test(assignment):
    source = assignment.sources[assignment.notebook_names[0]]
    names = exercises(assignment)
    assert [grade_id(c) for c in source.cells if is_answer(c)] == [f"{n}_solution" for n in names]
    assert [grade_id(c) for c in source.cells if is_test(c)] == \
        [f"{n}_{kind}" for n in names for kind in ("visible", "hidden")]
    assert all(c.metadata["nbgrader"]["points"] > 0 for c in source.cells if is_test(c))


def test_the_release_has_neither_solutions_nor_hidden_tests(assignment):
    assert leaked_lines(assignment) == []
    name = assignment.notebook_names[0]

    def hidden_cells(notebook):
        return {grade_id(c): c for c in notebook.cells if is_test(c) and grade_id(c).endswith("_hidden")}
    released = hidden_cells(assignment.release(name))
    assert set(released) == {f"{n}_hidden" for n in exercises(assignment)}
    assert set(released) == set(hidden_cells(assignment.sources[name]))
    for gid, cell in released.items():
        exercise = gid.removesuffix("_hidden")
        assert cell.source == f"# Hidden tests for {exercise} run when your notebook is graded.", cell.source


def test_the_colab_cells_are_locked_and_ungraded_and_the_notebooks_have_no_outputs(assignment):
    # The first two cells' types, ids and sources are checked exactly, for every notebook, in test_colab.py.
    name = assignment.notebook_names[0]
    for notebook in (assignment.sources[name], assignment.release(name)):
        badge, setup = notebook.cells[:2]
        assert (grade_id(badge), grade_id(setup)) == ("colab-badge", "colab-setup")
        assert all(c.metadata["nbgrader"]["locked"] and not c.metadata["nbgrader"]["grade"] for c in (badge, setup))
        assert not any(c.get("outputs") for c in notebook.cells if c.cell_type == "code")
        assert notebook.metadata["course"] == {"needs_data": assignment.name == "tweet_sentiment"}
