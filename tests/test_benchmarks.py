"""The benchmarks run and report what build/bench.json promises (tiny sizes: no timing is checked here)."""
import json
import subprocess
import sys

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
    assert len(written["runs"]["preprocess"]) == 1 and written["machine"]["cpus"] >= 1
