"""Benchmarks: `make bench` runs them all (benchmarks/run.py) and writes build/bench.json."""
