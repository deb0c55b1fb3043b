"""The benchmarks run and report what build/bench.json promises (tiny sizes: no timing is checked here)."""
import json
import subprocess
import sys

import numpy as np
import pytest
from grading_support import REPO


def test_the_train_step_benchmark_reports_course_lib_handwritten_floor_and_ratio():
    from benchmarks import train_step
    result = train_step.run(repeats=2, steps=12)
    for key in ("course_lib_us", "handwritten_us", "floor_us", "ratio"):
        assert result[key] > 0 and len(result["runs"][key]) == 2
    assert min(result["runs"]["ratio"]) <= result["ratio"] <= max(result["runs"]["ratio"])  # their median
    assert result["n_params"] == result["vocab_size"] * 256 + 256 * 2 + 2


def test_make_bench_writes_the_json_and_prints_a_table(tmp_path):
    output = tmp_path / "bench.json"
    process = subprocess.run([sys.executable, "-m", "benchmarks.run", "--only", "preprocess", "--repeats", "1",
                              "--output", str(output)], cwd=REPO, capture_output=True, text=True)
    assert process.returncode == 0, process.stderr
    assert "preprocessing" in process.stdout and "tweets/s" in process.stdout
    written = json.loads(output.read_text())
    assert written["preprocess"]["tweets_per_s"] > 0
    assert len(written["runs"]["preprocess"]) == 1 and written["machine"]["preprocess"]["cpus"] >= 1


def test_tweet_batches_are_half_positive_half_negative_and_refuse_odd_sizes():
    from benchmarks.common import tweet_batches
    pos, neg = [np.array([3, 4], np.int32)] * 5, [np.array([5], np.int32)] * 5
    inputs, targets, weights = next(tweet_batches(pos, neg, 4))
    assert inputs.tolist() == [[3, 4], [3, 4], [5, 0], [5, 0]] and targets.tolist() == [1, 1, 0, 0]
    assert weights.tolist() == [1, 1, 1, 1]
    with pytest.raises(ValueError, match="even"):
        next(tweet_batches(pos, neg, 3))


def test_end_to_end_is_an_error_when_a_run_misses_the_target(monkeypatch):
    from benchmarks import end_to_end
    missed = json.dumps({"seconds": 1.0, "steps": end_to_end.MAX_STEPS, "accuracy": 0.9})
    monkeypatch.setattr(end_to_end.subprocess, "run",
                        lambda *args, **kwargs: subprocess.CompletedProcess(args, 0, stdout=missed + "\n"))
    with pytest.raises(RuntimeError, match="short of the target"):
        end_to_end.run(repeats=1)
