"""Grading kernels compile fast (XLA_FLAGS: course_tools.sandbox.FAST_COMPILE), while course_lib's
training and evaluation steps still compile with XLA's defaults (course_lib.fastmath.compiling)."""
import os
import subprocess
import sys

from course_lib.fastmath import compiling
from course_tools import execute, sandbox

# Trains a small model for 20 steps from fixed weights; prints a hash of the trained weights' bits.
# With "unoptimized", the steps compile as XLA_FLAGS says (course_lib's override switched off).
_TRAIN = r'''
import hashlib, sys
import jax, numpy as np
import course_lib.training.loop as loop_module
from course_lib import layers as tl, optimizers, shapes, training
if sys.argv[1:] == ["unoptimized"]:
    loop_module.step_compiler_options = lambda: None
rng = np.random.default_rng(0)
def batches():
    while True:
        yield rng.integers(1, 50, (8, 7)), rng.integers(0, 2, 8), np.ones(8, np.float32)
model = tl.Serial(tl.Embedding(50, 16), tl.Mean(axis=1), tl.Dense(2), tl.LogSoftmax())
model.init(shapes.signature(np.zeros((8, 7), np.int32)))
start = np.random.default_rng(1)
model.weights = jax.tree_util.tree_map(lambda w: (0.1 * start.normal(size=w.shape)).astype(np.float32), model.weights)
task = training.TrainTask(batches(), tl.CrossEntropyLoss(), optimizers.Adam(0.01), n_steps_per_checkpoint=100)
training.Loop(model, task).run(20)
print(hashlib.sha256(b"".join(np.asarray(w).tobytes() for w in jax.tree_util.tree_leaves(model.weights))).hexdigest())
'''


def _trained_weights_hash(xla_flags: str | None, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env.update(TQDM_DISABLE="1", JAX_PLATFORMS="cpu", **({"XLA_FLAGS": xla_flags} if xla_flags else {}))
    done = subprocess.run([sys.executable, "-c", _TRAIN, *args], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()[-1]


def test_under_the_grading_kernels_flags_training_computes_the_same_bits_as_with_xlas_defaults():
    defaults = _trained_weights_hash(None)
    assert _trained_weights_hash(sandbox.FAST_COMPILE) == defaults
    # The premise: a step compiled as FAST_COMPILE says gives other bits, so the override is what
    # makes them equal (and what keeps the steps fast: they run thousands of times).
    assert _trained_weights_hash(sandbox.FAST_COMPILE, "unoptimized") != defaults


def test_step_compiler_options_restore_xlas_defaults_only_for_what_xla_flags_lowers(monkeypatch):
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    assert compiling.step_compiler_options() is None
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")
    assert compiling.step_compiler_options() is None
    monkeypatch.setenv("XLA_FLAGS", "--xla_backend_optimization_level=0")
    assert compiling.step_compiler_options() == {"xla_backend_optimization_level": 3}
    monkeypatch.setenv("XLA_FLAGS", sandbox.FAST_COMPILE)
    assert compiling.step_compiler_options() == {"xla_backend_optimization_level": 3,
                                                 "xla_cpu_use_fusion_emitters": True}


def test_grading_kernels_compile_fast_and_keep_the_graders_own_xla_flags(monkeypatch):
    monkeypatch.delenv(sandbox.FAST_COMPILE_SWITCH, raising=False)
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    for env in (execute.kernel_env(), sandbox.kernel_environment(None)):
        assert env["XLA_FLAGS"] == sandbox.FAST_COMPILE
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")
    for env in (execute.kernel_env(), sandbox.kernel_environment(None)):
        # the grader's own flags come last: where both name a flag, XLA takes the last one
        assert env["XLA_FLAGS"] == sandbox.FAST_COMPILE + " --xla_cpu_multi_thread_eigen=false"


def test_the_switch_leaves_xlas_defaults_in_grading_kernels(monkeypatch):
    monkeypatch.setenv(sandbox.FAST_COMPILE_SWITCH, "0")
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    for env in (execute.kernel_env(), sandbox.kernel_environment(None)):
        assert "XLA_FLAGS" not in env
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")
    for env in (execute.kernel_env(), sandbox.kernel_environment(None)):
        assert env["XLA_FLAGS"] == "--xla_cpu_multi_thread_eigen=false"
