"""What every graded assignment must do, written once; each assignment's test module subclasses it.

    class TestLayersAssignment(GradedAssignment):
        NAME = "layers"
        POINTS = {"Relu": (1, 1), ...}     # exercise -> (visible test's points, hidden test's points)
        WRONG = {"a": {"Relu_solution": code, ...}, ...}      # submissions with several mistakes
        EXPECTED_MESSAGE = {"a": {"Relu": "jax.jit", ...}, ...}  # a phrase each failure must contain
        MISTAKES = [("Relu", code, phrase), ...]              # more mistakes, checked in process
        CONTEXT = ""            # code the in-process tests run before an answer (e.g. the notebook's data)

The wrong submissions are graded in one batch by the real autograder (`course-grade`); the
MISTAKES run the setup cell, the answer and the hidden test in this process, which is fast.
"""
from __future__ import annotations

import pytest

from course_tools.assignment import Assignment, grade_id, is_answer, is_test
from course_tools.grade import authoring_problems
from grading_support import (
    REPO, answered, assert_only_wrong_exercises_lose_points, by_grade_id, failed, grade_versions,
    run_hidden_test, run_test_cell,
)


class GradedAssignment:
    NAME: str
    POINTS: dict
    WRONG: dict
    EXPECTED_MESSAGE: dict
    MISTAKES: list
    CONTEXT: str = ""
    VISIBLE_TARGET = 0.8    # the share of MISTAKES and WRONG answers the visible tests must catch

    @property
    def MAX_SCORE(self) -> float:
        """Full marks: both tests' points of every exercise, added up from POINTS."""
        return float(sum(visible + hidden for visible, hidden in self.POINTS.values()))

    def pytest_generate_tests(self, metafunc):
        if "submission" in metafunc.fixturenames:
            metafunc.parametrize("submission", sorted(self.WRONG))
        if "mistake" in metafunc.fixturenames:
            metafunc.parametrize("mistake", self.MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(self.MISTAKES)])

    @pytest.fixture(scope="class")
    @classmethod
    def assignment(cls):
        return Assignment(cls.NAME, REPO)

    @pytest.fixture(scope="class")
    @classmethod
    def graded(cls, assignment, tmp_path_factory):
        """The reference solution, the unchanged release and the wrong submissions, graded in one batch."""
        versions = {"reference": assignment.sources[cls.NAME], "release": assignment.release(cls.NAME)}
        versions.update({key: answered(assignment, replace=wrong) for key, wrong in cls.WRONG.items()})
        return grade_versions(assignment, versions, tmp_path_factory.mktemp(f"{cls.NAME}_submissions"))

    def reference_answers(self, assignment) -> dict:
        """Solution grade_id -> the reference solution's code."""
        return {grade_id(c): c.source for c in assignment.sources[self.NAME].cells if is_answer(c)}

    def test_the_reference_solution_scores_full_marks(self, graded):
        result = graded["reference"]
        assert failed(result) == set(), {gid: by_grade_id(result)[gid]["message"] for gid in failed(result)}
        assert (result["score"], result["max_score"], result["status"]) == (self.MAX_SCORE, self.MAX_SCORE, "graded")
        assert result["reason"] is None

    def test_the_unchanged_release_scores_zero(self, graded):
        result = graded["release"]
        assert (result["score"], result["max_score"], result["status"]) == (0.0, self.MAX_SCORE, "graded")
        assert failed(result) == {t["grade_id"] for t in result["tests"]}
        assert all(t["message"].startswith("NotImplementedError") for t in result["tests"]), result["tests"]

    def test_each_wrong_exercise_loses_its_own_points_and_only_those(self, graded, submission):
        result = graded[submission]
        assert result["status"] == "graded" and result["reason"] is None
        assert_only_wrong_exercises_lose_points(result, self.WRONG[submission], self.EXPECTED_MESSAGE[submission])
        assert result["score"] > 0

    @pytest.mark.filterwarnings("ignore::RuntimeWarning")  # overflow, NaN and 0 / 0 in the wrong answers
    def test_the_hidden_tests_name_each_mistake(self, assignment, mistake):
        exercise, answer, phrase = mistake
        error = run_hidden_test(assignment, exercise, answer, self.CONTEXT)
        assert isinstance(error, AssertionError), f"expected a failed assertion, got {error!r}"
        assert phrase in str(error), str(error)

    @pytest.mark.filterwarnings("ignore::RuntimeWarning")
    def test_the_visible_tests_catch_most_mistakes_before_submission(self, assignment, course_report):
        """Every known mistake (MISTAKES, and each wrong answer of WRONG) run against its exercise's
        visible test only: the learner's self-check must catch at least VISIBLE_TARGET of them."""
        mistakes = [(exercise, answer) for exercise, answer, _ in self.MISTAKES]
        mistakes += [(gid.removesuffix("_solution"), code) for wrong in self.WRONG.values() for gid, code in wrong.items()]
        missed = [(exercise, answer) for exercise, answer in mistakes
                  if run_test_cell(assignment, f"{exercise}_visible", answer, self.CONTEXT) is None]
        caught = len(mistakes) - len(missed)
        course_report(f"{self.NAME}: visible tests catch {caught} of {len(mistakes)} mistakes")
        assert caught >= self.VISIBLE_TARGET * len(mistakes), (
            f"visible tests catch {caught} of {len(mistakes)}; missed: " + "; ".join(e for e, _ in missed))

    def test_every_test_cell_can_be_judged_outside_the_kernel(self, assignment):
        assert authoring_problems(assignment.sources[self.NAME]) == []

    def test_the_exercises_are_worth_their_points(self, assignment):
        cells = assignment.sources[self.NAME].cells
        tests = {grade_id(c): c.metadata["nbgrader"]["points"] for c in cells if is_test(c)}
        assert list(self.reference_answers(assignment)) == [f"{name}_solution" for name in self.POINTS]
        assert tests == {f"{name}_{kind}": points for name, pair in self.POINTS.items()
                         for kind, points in zip(("visible", "hidden"), pair)}
        assert assignment.max_score() == self.MAX_SCORE
