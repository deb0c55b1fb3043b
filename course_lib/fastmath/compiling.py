"""XLA's full optimization for the programs that run many times, where XLA_FLAGS asks for fast compiling.

A grading kernel (course_tools.sandbox.FAST_COMPILE) compiles hundreds of programs that run once
or twice: each new shape a test tries compiles one, for each operation. It sets XLA_FLAGS to XLA's
optimization level 0 without the CPU fusion emitters, which compiles such a program 2-3x faster
(about 20 ms instead of 40-60 ms on a 2-core CPU). A training step compiled that way runs about
3x slower, and a step runs thousands of times: `step_compiler_options()` gives the steps
(`training.Loop`) XLA's defaults back, per program (jax.jit's `compiler_options`), whatever
XLA_FLAGS says. Without such flags it returns None and nothing changes.
"""
from __future__ import annotations

import os

# XLA's own defaults for what FAST_COMPILE lowers (xla/debug_options_flags.cc).
OPTIMIZED = {"xla_backend_optimization_level": 3, "xla_cpu_use_fusion_emitters": True}


def step_compiler_options() -> dict | None:
    """XLA's defaults for each option in OPTIMIZED that XLA_FLAGS sets, else None.

    Returns: a dict for `jax.jit(..., compiler_options=...)`, or None (compile as XLA_FLAGS says).
    """
    flags = os.environ.get("XLA_FLAGS", "")
    options = {name: value for name, value in OPTIMIZED.items() if f"--{name}=" in flags}
    return options or None
