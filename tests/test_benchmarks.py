"""The benchmarks run and report what build/bench.json promises (tiny sizes: no timing is checked here)."""
import json
import subprocess
import sys

import numpy as np
import pytest
from grading_support import REPO


def test_the_train_step_benchmark_reports_course_lib_handwritten_peers_floor_and_ratio():
    from benchmarks import train_step
    result = train_step.run(repeats=2, steps=12, copy_bytes=8 * 2 ** 20)
    peers = [name for name in ("nnx", "equinox") if name not in result["peers_skipped"]]
    for key in ("course_lib_us", "handwritten_us", "floor_us", "ratio", "adam_pass_us",
                *(f"{name}_us" for name in peers)):
        assert result[key] > 0 and len(result["runs"][key]) == 2
    assert min(result["runs"]["ratio"]) <= result["ratio"] <= max(result["runs"]["ratio"])  # their median
    assert result["n_params"] == result["vocab_size"] * 256 + 256 * 2 + 2
    assert result["floor_bytes"] == 6 * 4 * result["n_params"]   # weights and 2 moments, read and written
    for floor, bandwidth in zip(result["runs"]["floor_us"], result["runs"]["bandwidth_gb_s"]):
        assert floor == pytest.approx(result["floor_bytes"] / (bandwidth * 1e9) * 1e6)
    assert result["floor_best_us"] <= min(result["runs"]["floor_us"]) * (1 + 1e-9)
    assert "flax" in sys.modules and "nnx" in peers     # flax is a dev dependency: never skipped here


def test_a_peer_whose_package_is_missing_is_skipped_with_the_reason(monkeypatch):
    from benchmarks import peers, run
    found = peers.importlib.util.find_spec
    monkeypatch.setattr(peers.importlib.util, "find_spec",
                        lambda name, *args: None if name == "equinox" else found(name, *args))
    why = peers.make_equinox(10, 4, None)
    assert isinstance(why, str) and "equinox is not installed" in why and "bench" in why
    results = {"train_step": {"course_lib_us": 1.0, "handwritten_us": 1.0, "floor_us": 0.5, "ratio": 1.0,
                              "cpu_ratio": 1.0, "peers_skipped": {"equinox": why}}}
    assert any("equinox" in line and f"skipped ({why})" in line for line in run.table(results).splitlines())


def test_memory_bandwidth_is_bytes_copied_per_second():
    from benchmarks import train_step
    bandwidth = train_step.memory_bandwidth(4 * 2 ** 20, tries=1)
    assert 1e8 < bandwidth < 1e13    # between 0.1 GB/s and 10 TB/s: a copy, timed in seconds


def test_the_compile_counter_counts_xla_compilations_while_on():
    import jax
    from benchmarks.common import CompileCounter
    counter = CompileCounter()
    counter.on = True
    f = jax.jit(lambda x: x * 3 + 1)
    f(np.ones(3, np.float32))
    f(np.ones(3, np.float32))  # compiled already
    f(np.ones(4, np.float32))  # a new shape: compiled again
    counter.on = False
    jax.jit(lambda x: x - 1)(np.ones(3, np.float32))
    assert counter.count == 2 and counter.seconds > 0


def fake_end_to_end(seconds, compiles=4, accuracy=0.992):
    """A stand-in for subprocess.run of one end_to_end variant: its JSON line, and the order of calls."""
    calls = []

    def run(command, **kwargs):
        variant = command[command.index("--variant") + 1]
        calls.append((variant, command[command.index("--cache-dir") + 1]))
        result = {"variant": variant, "seconds": seconds[variant], "cpu_seconds": 2 * seconds[variant], "steps": 40, "accuracy": accuracy,
                  "compiles": compiles, "compile_s": 1.0, "tokenize_s": 0.1, "init_s": 0.2, "loop_s": 0.1,
                  "train_s": 1.0}
        return subprocess.CompletedProcess(command, 0, stdout=json.dumps(result) + "\n", stderr="")

    return run, calls


def test_end_to_end_reports_each_variant_and_its_ratio_to_the_baseline(monkeypatch):
    from benchmarks import end_to_end
    run, calls = fake_end_to_end({"baseline": 15.0, "buckets_cold": 6.0, "buckets_warm": 3.0})
    monkeypatch.setattr(end_to_end.subprocess, "run", run)
    result = end_to_end.run(repeats=3)
    assert len(calls) == 9
    for repeat in range(3):                   # the cold run fills the cache that the warm one reads
        order = [variant for variant, _ in calls[3 * repeat: 3 * repeat + 3]]
        assert sorted(order) == sorted(end_to_end.VARIANTS)
        assert order.index("buckets_cold") < order.index("buckets_warm")
        folders = {folder for _, folder in calls[3 * repeat: 3 * repeat + 3]}
        assert len(folders) == 1 and not (set(folders) & {f for _, f in calls[:3 * repeat]})
    assert [variant for variant, _ in calls[:3]] != [variant for variant, _ in calls[3:6]]  # rotated
    assert result["ratio_buckets_warm"] == pytest.approx(3.0 / 15.0)
    assert result["ratio_buckets_cold"] == pytest.approx(6.0 / 15.0)
    assert result["cpu_ratio_buckets_cold"] == pytest.approx(12.0 / 30.0)
    assert result["seconds_to_99"] == 3.0 and result["baseline"]["compiles"] == 4


def test_end_to_end_is_an_error_when_a_bucketed_run_compiles_too_often(monkeypatch):
    from benchmarks import end_to_end
    run, _ = fake_end_to_end({"baseline": 15.0, "buckets_cold": 6.0, "buckets_warm": 3.0},
                             compiles=end_to_end.MAX_COMPILES + 1)
    monkeypatch.setattr(end_to_end.subprocess, "run", run)
    with pytest.raises(RuntimeError, match="XLA compilations while training"):
        end_to_end.run(repeats=1)


def test_end_to_end_once_reaches_the_target_with_few_compilations_and_fills_the_token_cache(tmp_path):
    from benchmarks import end_to_end
    result = end_to_end.once("buckets_cold", str(tmp_path))
    assert result["accuracy"] >= end_to_end.TARGET
    assert 0 < result["compiles"] <= end_to_end.MAX_COMPILES
    assert len(list(tmp_path.glob("twitter_samples_*.npz"))) == 2      # train and validation tokens
    assert result["seconds"] >= result["tokenize_s"] + result["init_s"] + result["train_s"]


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


def test_grading_per_submission_grades_each_side_with_its_switches_and_reports_the_ratios(monkeypatch):
    import os
    from collections import Counter

    from benchmarks import grading, run
    from course_tools import compile_cache, grade, sandbox

    seconds_of = {("0", "0"): 10.0, (None, "0"): 8.0, (None, None): 5.0}   # (cache switch, fast-compile switch)
    seen = []

    def fake_grade_notebook(path, assignment):
        switches = (os.environ.get(compile_cache.SWITCH), os.environ.get(sandbox.FAST_COMPILE_SWITCH))
        seen.append(switches)
        return {"score": 3.0, "max_score": 3.0,
                "seconds": {"kernel_start": 0.5, "preamble": 0.1, "cells": 1.0, "tests": seconds_of[switches]}}

    monkeypatch.setattr(grade, "grade_notebook", fake_grade_notebook)
    monkeypatch.delenv(compile_cache.SWITCH, raising=False)
    monkeypatch.setenv(sandbox.FAST_COMPILE_SWITCH, "1")        # the caller's own setting comes back afterwards
    result = grading.per_submission("layers", repeats=3)
    assert seen[0] == (None, None) and Counter(seen[1:]) == Counter(list(seconds_of) * 3)
    assert seen[1:4] != seen[4:7], "the order of the sides rotates"
    assert result["now"]["tests"] == 5.0 and result["baseline"]["tests"] == 10.0
    assert os.environ[sandbox.FAST_COMPILE_SWITCH] == "1" and compile_cache.SWITCH not in os.environ
    table = run.table({"grading": {"per_submission": {"layers": result}}})
    assert "grading layers, now / baseline" in table and "grading layers, cache only / baseline" in table


def test_grading_before_is_skipped_with_the_reason_without_an_old_checkout(monkeypatch, tmp_path):
    from benchmarks import grading_before
    monkeypatch.delenv(grading_before.SWITCH, raising=False)
    assert grading_before.SWITCH in grading_before.run(repeats=1)["skipped"]
    monkeypatch.setenv(grading_before.SWITCH, str(tmp_path))
    assert "make setup" in grading_before.run(repeats=1)["skipped"]


def test_grading_before_takes_turns_between_the_old_and_new_graders_and_reports_both_ratios(monkeypatch, tmp_path):
    from benchmarks import grading_before, run
    before = tmp_path / "old"
    (before / ".venv" / "bin").mkdir(parents=True)
    (before / ".venv" / "bin" / "python").symlink_to(sys.executable)
    turns = tmp_path / "turns.log"
    # A stand-in for each grader: its seconds say which Python and which course it was started with.
    fake_worker = f'''
import json, sys
old_python, old_course = sys.executable.startswith({str(before)!r}), sys.argv[1] == {str(before)!r}
side = "before" if old_python and old_course else "now_on_before_notebook" if old_course else "now"
seconds = {{"before": 10.0, "now": 4.0, "now_on_before_notebook": 6.0}}[side]
for line in sys.stdin:
    with open({str(turns)!r}, "a") as log:
        log.write(side + "\\n")
    print(json.dumps({{"seconds": seconds, "score": 2.0, "max_score": 2.0, "tests": seconds / 2}}), flush=True)
'''
    monkeypatch.setattr(grading_before, "_WORKER", fake_worker)
    monkeypatch.setattr(grading_before, "ASSIGNMENTS", ("layers",))
    monkeypatch.setenv(grading_before.SWITCH, str(before))
    result = grading_before.run(repeats=3)
    layers = result["per_submission"]["layers"]
    assert layers["before"]["seconds"] == 10.0 and layers["now"]["tests"] == 2.0
    assert layers["ratio"] == 0.4 and layers["ratio_same_notebook"] == 0.6
    sides = turns.read_text().split()
    assert sorted(sides[:3]) == ["before", "now", "now_on_before_notebook"], "each grader warms up first"
    assert len(sides) == 12 and sides[3:6] != sides[6:9], "then they take turns, in a rotating order"
    table = run.table({"grading_before": result})
    assert "grading layers, now / before" in table and "grading layers, same notebook / before" in table
