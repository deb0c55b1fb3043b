"""Grading kernels compile fast (XLA_FLAGS: course_tools.sandbox.FAST_COMPILE), while course_lib's
training and evaluation steps still compile with XLA's defaults (course_lib.fastmath.compiling)."""
import ast
import os
import subprocess
import sys

import nbformat
import pytest

from course_lib.fastmath import compiling
from course_tools import execute, sandbox

# Trains a model of Embedding(vocab_size, 16) (argv[1]) for 20 steps from fixed weights; prints a hash of
# the trained weights' bits. With "unoptimized", the steps compile as XLA_FLAGS says (course_lib's
# override switched off).
_TRAIN = r'''
import hashlib, sys
import jax, numpy as np
import course_lib.training.loop as loop_module
from course_lib import layers as tl, optimizers, shapes, training
vocab_size = int(sys.argv[1])
if sys.argv[2:] == ["unoptimized"]:
    loop_module.step_compiler_options = lambda *args, **kwargs: None
rng = np.random.default_rng(0)
def batches():
    while True:
        yield rng.integers(1, vocab_size, (8, 7)), rng.integers(0, 2, 8), np.ones(8, np.float32)
model = tl.Serial(tl.Embedding(vocab_size, 16), tl.Mean(axis=1), tl.Dense(2), tl.LogSoftmax())
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


BIG, TINY = "100", "50"   # Embedding(100, 16): 1,634 weights with the Dense; Embedding(50, 16): 834
assert 50 * 16 + 34 < compiling.SMALL_MODEL_WEIGHTS <= 100 * 16 + 34


def test_under_the_grading_kernels_flags_training_computes_the_same_bits_as_with_xlas_defaults():
    defaults = _trained_weights_hash(None, BIG)
    assert _trained_weights_hash(sandbox.FAST_COMPILE, BIG) == defaults
    # The premise: a step compiled as FAST_COMPILE says gives other bits, so the override is what
    # makes them equal (and what keeps the steps fast: they run thousands of times).
    assert _trained_weights_hash(sandbox.FAST_COMPILE, BIG, "unoptimized") != defaults


def test_a_tiny_models_steps_compile_as_the_grading_kernels_flags_say():
    fast = _trained_weights_hash(sandbox.FAST_COMPILE, TINY)
    assert fast == _trained_weights_hash(sandbox.FAST_COMPILE, TINY, "unoptimized")
    assert fast != _trained_weights_hash(None, TINY), "the premise: XLA's defaults give other bits"


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
    assert compiling.step_compiler_options(compiling.SMALL_MODEL_WEIGHTS) == compiling.step_compiler_options()
    assert compiling.step_compiler_options(compiling.SMALL_MODEL_WEIGHTS - 1) is None


_SHOW_FLAGS = "import os; print('XLA_FLAGS=' + repr(os.environ.get('XLA_FLAGS')))"


def _flags_in_grading_kernel(sandboxed: bool) -> str | None:
    """XLA_FLAGS as a grading kernel sees them (a cell that fails with them as its message)."""
    run = execute.run_cells(["import os\nraise RuntimeError(repr(os.environ.get('XLA_FLAGS')))"], sandboxed=sandboxed)
    return ast.literal_eval(run.errors[0].removeprefix("RuntimeError: "))


@pytest.mark.parametrize("sandboxed", [True, False], ids=["sandboxed", "unsafe"])
def test_grading_kernels_compile_fast_and_keep_the_graders_own_xla_flags(sandboxed, monkeypatch):
    monkeypatch.delenv(sandbox.FAST_COMPILE_SWITCH, raising=False)
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    assert _flags_in_grading_kernel(sandboxed) == sandbox.FAST_COMPILE
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")
    # the grader's own flags come last: where both name a flag, XLA takes the last one
    assert _flags_in_grading_kernel(sandboxed) == sandbox.FAST_COMPILE + " --xla_cpu_multi_thread_eigen=false"
    monkeypatch.setenv(sandbox.FAST_COMPILE_SWITCH, "0")
    assert _flags_in_grading_kernel(sandboxed) == "--xla_cpu_multi_thread_eigen=false"
    monkeypatch.delenv("XLA_FLAGS")
    assert _flags_in_grading_kernel(sandboxed) is None


def test_a_notebook_run_to_be_shown_compiles_as_a_learners_does(tmp_path, monkeypatch):
    # A lab, the site's pages, make course's reference run: XLA's defaults, or the host's own flags.
    monkeypatch.delenv(sandbox.FAST_COMPILE_SWITCH, raising=False)
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")
    path = tmp_path / "shown.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(_SHOW_FLAGS)]), path)
    executed = execute.execute_notebook(path, tmp_path)
    assert executed.cells[0].outputs[0]["text"].strip() == "XLA_FLAGS='--xla_cpu_multi_thread_eigen=false'"
