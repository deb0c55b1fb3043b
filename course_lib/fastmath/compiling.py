"""XLA's full optimization for the programs that run many times, where XLA_FLAGS asks for fast compiling.

A grading kernel (course_tools.sandbox.FAST_COMPILE) compiles hundreds of programs that run once
or twice: each new shape a test tries compiles one, for each operation. It sets XLA_FLAGS to XLA's
optimization level 0 without the CPU fusion emitters, which compiles such a program 2-3x faster
(about 20 ms instead of 40-60 ms on a 2-core CPU). A training step compiled that way runs about
3x slower, and a step runs thousands of times: `step_compiler_options()` gives the steps
(`training.Loop`) XLA's defaults back, per program (jax.jit's `compiler_options`), whatever
XLA_FLAGS says. Without such flags it returns None and nothing changes.

A small model's step is the exception: under SMALL_MODEL_WEIGHTS weights (a test's tiny model, a lab's
toy problem) a step takes about 0.1 ms at either level, while compiling it with XLA's defaults takes
0.3-0.4 s longer. Measured on 2 CPU cores, a 47-weight classifier of 150 points: 0.09 s to compile and
92 us a step with the fast flags, 0.51 s and 120 us with XLA's defaults; with 4,547 weights, 0.08 s
and 275 us against 0.43 s and 141 us.
"""
from __future__ import annotations

import os

# XLA's own defaults for what FAST_COMPILE lowers (xla/debug_options_flags.cc).
OPTIMIZED = {"xla_backend_optimization_level": 3, "xla_cpu_use_fusion_emitters": True}
SMALL_MODEL_WEIGHTS = 1_000   # fewer weights than this: the step compiles as XLA_FLAGS says


def step_compiler_options(n_weights: int | None = None) -> dict | None:
    """XLA's defaults for each option in OPTIMIZED that XLA_FLAGS sets, else None.

    Args:
      n_weights: how many numbers the model's weights hold; under SMALL_MODEL_WEIGHTS the answer is
        None (see above). None: the model's size is not considered.

    Returns: a dict for `jax.jit(..., compiler_options=...)`, or None (compile as XLA_FLAGS says).
    """
    if n_weights is not None and n_weights < SMALL_MODEL_WEIGHTS:
        return None
    flags = os.environ.get("XLA_FLAGS", "")
    options = {name: value for name, value in OPTIMIZED.items() if f"--{name}=" in flags}
    return options or None
