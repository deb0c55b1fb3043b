"""The capstone assignment, graded end to end on the real tweets, and `make course`."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import nbformat
import pytest

from course_tools import release
from course_tools.assignment import Assignment
from grading_support import (
    REPO, answered, as_downloaded_from_colab, assert_only_wrong_exercises_lose_points, course_grade,
    grade_versions,
)


# Mistakes learners really make, two submissions with several each: {solution grade_id: code}.
WRONG_A = {
    "tweet_to_tensor_solution": '''
def tweet_to_tensor(tweet, vocab_dict, unk_token='__UNK__', verbose=False):
    return [vocab_dict.get(word, 2) for word in process_tweet(tweet)]     # UNK id hard-coded
''',
    "Relu_solution": '''
class Relu(tl.Layer):
    def forward(self, x):
        return np.maximum(x, 0)                                           # NumPy: breaks under jit
''',
    "Dense_solution": '''
class Dense(tl.Layer):
    def __init__(self, n_units, init_stdev=0.1):
        super().__init__()
        self._n_units = n_units
        self._init_stdev = init_stdev
    def forward(self, x):
        return jnp.dot(x, self.weights)
    def init_weights_and_state(self, input_signature):
        self.weights = fastmath.random.normal(self.rng, (input_signature.shape[-1], self._n_units))  # not scaled
''',
    "compute_accuracy_solution": '''
def compute_accuracy(preds, y, y_weights):
    correct = (np.asarray(preds)[:, 1] > np.asarray(preds)[:, 0]).astype(np.int32) == y
    return np.mean(correct), np.sum(correct), len(y)                      # ignores the weights
''',
}
WRONG_B = {
    "data_generator_solution": '''
def data_generator(data_pos, data_neg, batch_size, loop, vocab_dict, shuffle=False):
    n = batch_size // 2
    for start in range(0, min(len(data_pos), len(data_neg)) - n + 1, n):   # never wraps around
        batch = [tweet_to_tensor(t, vocab_dict) for t in data_pos[start:start + n] + data_neg[start:start + n]]
        width = max(len(t) for t in batch)
        inputs = np.array([t + [0] * (width - len(t)) for t in batch])
        targets = np.array([1] * n + [0] * n)
        yield inputs, targets, np.ones_like(targets)
''',
    "classifier_solution": '''
def classifier(vocab_size, embedding_dim=256, output_dim=2):
    return tl.Serial(tl.Embedding(vocab_size, embedding_dim), tl.Mean(),   # averages the wrong axis
                     tl.Dense(output_dim), tl.LogSoftmax())
''',
    "train_model_solution": '''
def train_model(classifier, train_task, eval_task, n_steps, output_dir):
    loop = training.Loop(classifier, train_task, output_dir=output_dir)     # eval_task forgotten
    loop.run(n_steps=n_steps)
    return loop
''',
    "test_model_solution": '''
def test_model(generator, model):
    accuracies = [compute_accuracy(model(x), y, w)[0] for x, y, w in generator]
    return float(np.mean(accuracies))                                     # mean of batch accuracies
''',
}
EXPECTED_MESSAGE = {  # per submission, a phrase each wrong exercise's failure message must contain
    "a": {"tweet_to_tensor": "not a fixed id", "Relu": "jax.jit", "Dense": "standard deviation",
          "compute_accuracy": "unweighted"},
    "b": {"data_generator": "positive tweets must run 0, 1, 2, 0, 1, 2", "classifier": "axis=1",
          "train_model": "eval_tasks=[eval_task]", "test_model": "mean of the batches"},
}


@pytest.fixture(scope="session")
def tweets():
    return Assignment("tweet_sentiment", REPO)


@pytest.fixture(scope="session")
def course_run():
    """`make course`'s job, run once: the reference solution, the sample class, the report."""
    # What a previous run left must not stand in for this run's output.
    (REPO / "build" / "course_report.json").unlink(missing_ok=True)
    shutil.rmtree(REPO / "build" / "sample_class", ignore_errors=True)
    process = subprocess.run([sys.executable, "-m", "course_tools.course"], cwd=REPO,
                             capture_output=True, text=True)
    assert process.returncode == 0, process.stdout[-2000:] + process.stderr[-3000:]
    report = json.loads((REPO / "build" / "course_report.json").read_text())
    return process, report


@pytest.fixture(scope="session")
def wrong_results(tweets, tmp_path_factory):
    folder = tmp_path_factory.mktemp("submissions")
    colab = folder / "a_from_colab.ipynb"
    colab.write_text(as_downloaded_from_colab(answered(tweets, replace=WRONG_A)))
    results = grade_versions(tweets, {"a": answered(tweets, replace=WRONG_A),
                                      "b": answered(tweets, replace=WRONG_B)}, folder)
    status, graded, stderr = course_grade("tweet_sentiment", [colab])
    assert status == 0, stderr
    (from_colab,) = graded
    return dict(results, a_from_colab=from_colab)


def test_make_course_succeeds_and_prints_the_grade_table_and_accuracy(course_run):
    process, _ = course_run                     # the fixture has checked that it exited with 0
    lines = process.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("student "))  # the grade table
    reference_rows = [line for line in lines[header:] if line.startswith("reference ")]
    assert len(reference_rows) == 1, process.stdout
    full_marks = [f"{m:g} / {m:g}" for m in (Assignment(n, REPO).max_score() for n in release.assignments(REPO))]
    assert re.findall(r"\S+ / \S+", reference_rows[0]) == full_marks, reference_rows[0]
    assert re.search(r"tweet_sentiment: validation accuracy 0\.99\d\d", process.stdout)


def test_the_capstone_reaches_99_percent_validation_accuracy_on_the_real_tweets(course_run):
    _, report = course_run
    assert report["tweet_sentiment"]["val_accuracy"] >= 0.99
    assert report["tweet_sentiment"]["train_seconds"] > 0


def test_the_course_report_has_full_marks_for_references_and_zero_for_releases(course_run):
    _, report = course_run
    names = release.assignments(REPO)
    assert set(report["assignments"]) == set(names)
    for name in names:
        max_score = Assignment(name, REPO).max_score()
        assert report["assignments"][name] == {"max_score": max_score}
        score = {g["student"]: (g["score"], g["max_score"]) for g in report["grades"] if g["assignment"] == name}
        assert score["reference"] == (max_score, max_score), name
        assert score["release"] == (0.0, max_score), name
    assert all(set(g) == {"student", "assignment", "score", "max_score"} for g in report["grades"])


def test_the_sample_class_grades_are_exported_to_csv(course_run):
    rows = (REPO / "build" / "sample_class" / "grades.csv").read_text().splitlines()
    assert rows[0].startswith("assignment,duedate,timestamp,student_id")
    assert any(row.startswith("tweet_sentiment,") and ",reference," in row for row in rows)


@pytest.mark.parametrize("submission, wrong", [("a", WRONG_A), ("b", WRONG_B)])
def test_each_wrong_exercise_loses_its_own_points_and_only_those(wrong_results, submission, wrong):
    assert_only_wrong_exercises_lose_points(wrong_results[submission], wrong, EXPECTED_MESSAGE[submission])


def test_a_notebook_downloaded_from_colab_gets_the_same_grade_as_from_jupyter(wrong_results):
    jupyter, colab = wrong_results["a"], wrong_results["a_from_colab"]
    assert colab["status"] == "graded" and colab["tests"] == jupyter["tests"]
    assert colab["score"] == jupyter["score"] < jupyter["max_score"]


def test_the_committed_releases_are_what_make_release_generates(tmp_path):
    shutil.copytree(REPO / "solutions", tmp_path / "solutions")
    shutil.copy(REPO / "nbgrader_config.py", tmp_path)
    release.generate(tmp_path)
    for name in release.assignments(REPO):
        for fresh in (tmp_path / "assignments" / name).glob("*.ipynb"):
            committed = REPO / "assignments" / name / fresh.name
            assert nbformat.read(fresh, 4) == nbformat.read(committed, 4), \
                f"{committed} is out of date: run `make release`"
    assert os.path.exists(tmp_path / "gradebook.db")
