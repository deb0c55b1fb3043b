"""`make bench`: run the benchmarks, write build/bench.json (every run kept) and print a table.

    python -m benchmarks.run                 # all, with the default repeats
    python -m benchmarks.run --only train_step preprocess --repeats 3

Each figure is the median of repeated runs. A benchmark that cannot run here (install_size with no
package index) says why and is skipped. Timings depend on the machine: the JSON
records it for each benchmark (CPU count, devices, versions), since results of earlier runs,
perhaps on other machines, are kept.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")  # tqdm reads it when first imported: before course_lib is

from benchmarks import (end_to_end, grading, grading_before, install_size, notebooks, preprocess,  # noqa: E402
                        train_step)
from benchmarks.common import ROOT  # noqa: E402

BENCHMARKS = {"train_step": train_step, "end_to_end": end_to_end, "preprocess": preprocess,
              "notebooks": notebooks, "grading": grading, "grading_before": grading_before,
              "install_size": install_size}


def machine() -> dict:
    import jax
    return {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
            "jax": jax.__version__, "devices": [str(d) for d in jax.devices()]}


def table(results: dict) -> str:
    lines = [f"{'benchmark':<34} {'value':>14}"]

    def row(name, value, unit=""):
        lines.append(f"{name:<34} {value:>14.4g} {unit}")

    if "train_step" in results:
        r = results["train_step"]
        row("train step, course_lib Loop", r["course_lib_us"], "us")
        row("train step, hand-written jit+optax", r["handwritten_us"], "us")
        for name, label in (("nnx", "Flax NNX nnx.jit"), ("equinox", "Equinox filter_jit")):
            if f"{name}_us" in r:
                row(f"train step, {label}", r[f"{name}_us"], "us")
        row("train step, memory floor", r["floor_us"], "us")
        if "adam_pass_us" in r:
            row("train step, Adam elementwise pass", r["adam_pass_us"], "us")
        row("train step ratio (target <= 1)", r["ratio"])
        row("train step ratio, CPU time", r["cpu_ratio"])
        if "ratio_to_floor" in r:
            row("train step / memory floor", r["ratio_to_floor"], "x")
        if "ratio_to_best_floor" in r:
            row("train step / floor at best bandwidth", r["ratio_to_best_floor"], "x")
        for name, why in r.get("peers_skipped", {}).items():
            lines.append(f"{'train step, ' + name:<34} {'skipped':>14} ({why})")
    if "end_to_end" in results:
        r = results["end_to_end"]
        row("raw tweets to 0.99 val accuracy", r["seconds_to_99"], "s")
        for variant in ("baseline", "buckets_cold", "buckets_warm"):
            if variant in r:
                row(f"  {variant.replace('_', ', ')}", r[variant]["seconds"], "s")
                row(f"  {variant.replace('_', ', ')}, compilations", r[variant]["compiles"])
            if f"ratio_{variant}" in r:
                row(f"  {variant.replace('_', ', ')} / baseline", r[f"ratio_{variant}"], "x")
            if f"cpu_ratio_{variant}" in r:
                row(f"  {variant.replace('_', ', ')} / baseline, CPU", r[f"cpu_ratio_{variant}"], "x")
    if "preprocess" in results:
        row("preprocessing", results["preprocess"]["tweets_per_s"], "tweets/s")
    if "notebooks" in results:
        for name, seconds in results["notebooks"].items():
            row(f"notebook {name}", seconds, "s")
    if "grading" in results:
        r = results["grading"]
        for name, sides in r.get("per_submission", {}).items():
            for side in ("baseline", "cache_only", "now"):
                row(f"grading {name}, {side.replace('_', ' ')}", sides[side]["seconds"], "s")
                row("  kernel start, preamble", sides[side]["kernel_start"] + sides[side]["preamble"], "s")
                row("  cells, tests", sides[side]["cells"], f"s, {sides[side]['tests']:.4g} s")
            row(f"grading {name}, now / baseline", sides["ratio"], "x")
            row(f"grading {name}, cache only / baseline", sides["ratio_cache_only"], "x")
    if "grading_before" in results:
        for name, sides in results["grading_before"]["per_submission"].items():
            for side in ("before", "now", "now_on_before_notebook"):
                row(f"grading {name}, {side.replace('_', ' ')}", sides[side]["seconds"], "s")
            row(f"grading {name}, now / before", sides["ratio"], "x")
            row(f"grading {name}, same notebook / before", sides["ratio_same_notebook"], "x")
    if "grading" in results and "assignment" in results["grading"]:
        r = results["grading"]
        row(f"grading ({r['assignment']}), per submission", r["seconds_per_submission"], "s")
        for what, seconds in r.get("breakdown", {}).items():
            row(f"  of which {what.replace('_', ' ')}", seconds, "s")
        row(f"class of {r['class_size']}, 1 worker", r["submissions_per_minute_1_worker"], "/min")
        row(f"class of {r['class_size']}, 2 workers", r["submissions_per_minute_2_workers"], "/min")
        row("speedup with 2 workers", r["speedup_2_workers"], "x")
    if "install_size" in results:
        for name, what in (("learners", "learners"), ("instructors", "instructors (both)")):
            r = results["install_size"][name]
            row(f"install size, {what}", r["site_packages_mib"], "MiB")
            row(f"packages, {what}", r["packages"])
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), default=list(BENCHMARKS))
    parser.add_argument("--repeats", type=int, default=None, help="repeats of each benchmark (defaults vary)")
    parser.add_argument("--output", default=str(ROOT / "build" / "bench.json"))
    args = parser.parse_args(argv)
    output = Path(args.output)
    results = json.loads(output.read_text()) if output.exists() else {}
    if not all(isinstance(m, dict) for m in results.get("machine", {}).values()):
        del results["machine"]  # the old format: one machine for the whole file
    machines, runs = results.setdefault("machine", {}), results.setdefault("runs", {})
    for name in args.only:
        print(f"running {name}...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        kwargs = {"repeats": args.repeats} if args.repeats else {}
        result = BENCHMARKS[name].run(**kwargs)
        if result.get("skipped"):   # e.g. install_size without a package index: earlier results are kept
            print(f"  {name} skipped: {result['skipped']}", file=sys.stderr, flush=True)
            continue
        runs[name] = result.pop("runs")
        results[name] = result
        machines[name] = machine()
        print(f"  {name} took {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2))
    print(table(results))
    print(f"\nwritten to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
