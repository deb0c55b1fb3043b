"""The same learner code gives the same check results on a CPU, a GPU and a TPU.

By default a TPU computes a float32 matmul on inputs rounded to bfloat16 (8-bit mantissa), and a
recent NVIDIA GPU on inputs rounded to TensorFloat-32 (10-bit mantissa); a correct Dense then
misses checks at 1e-4 that it passes on a CPU. `import course_lib` sets JAX's default matmul
precision to 'highest' (full float32) unless the user chose one.

XLA:CPU ignores the precision, so `emulated_matmuls` plays the accelerator here: while it is on,
every matmul that goes through `lax.dot_general` or `lax.dot` (jnp.dot, jnp.matmul, `@`,
jnp.einsum, course_lib's layers, their gradients, inside `jit` or not) rounds its float32 inputs
as the accelerator would, unless its effective precision (the call's `precision`, else
`jax_default_matmul_precision`) is the highest. Under it, with course_lib's setting undone, a
correct Dense is measurably off; with course_lib's setting, every visible and hidden test of every
graded assignment gives the reference solution full marks.
"""
from __future__ import annotations

import contextlib
import inspect
import os
import subprocess
import sys
import threading

import jax
import jax.numpy as jnp
import nbformat
import numpy as np
import pytest
from jax import lax
from jax._src.lax import lax as lax_internal

from course_lib import layers as tl
from course_tools.assignment import grade_id, is_test
from grading_support import REPO

ASSIGNMENTS = ("layers", "training", "tweet_sentiment")
TIGHT = 1e-5   # relative: float32 matmuls at full precision are this close to float64


def to_bfloat16(x):
    """float32 -> the nearest bfloat16 (ties to even), back in float32: a TPU's default."""
    return lax.convert_element_type(lax.convert_element_type(x, jnp.bfloat16), jnp.float32)


def to_tensorfloat32(x):
    """float32 -> the nearest TensorFloat-32 (10-bit mantissa, ties to even), back in float32:
    an Ampere-or-later NVIDIA GPU's default. Infinities and NaNs pass unchanged."""
    bits = lax.bitcast_convert_type(x, jnp.uint32)
    rounded = (bits + jnp.uint32(0x0FFF) + ((bits >> 13) & jnp.uint32(1))) & jnp.uint32(0xFFFFE000)
    return jnp.where(jnp.isfinite(x), lax.bitcast_convert_type(rounded, jnp.float32), x)


EMULATIONS = {"tpu-bfloat16": to_bfloat16, "gpu-tf32": to_tensorfloat32}


def is_full_precision(precision) -> bool:
    """Whether a matmul with this `precision` argument runs at full float32 precision on a TPU and
    a GPU, `None` meaning JAX's configured default (`jax_default_matmul_precision`)."""
    canonical = lax_internal.canonicalize_precision(precision)   # None -> the configured default
    if canonical is None:
        return False                                              # the backend's default
    if isinstance(canonical, tuple):
        return all(p == lax.Precision.HIGHEST for p in canonical)
    name = str(canonical).upper()                                 # a DotAlgorithm(Preset)
    return not any(tag in name for tag in ("BF16", "TF32", "F16", "F8"))


class Record:
    """What the emulation saw: one entry per matmul traced or run, True when it was rounded."""

    def __init__(self):
        self.rounded: list[bool] = []

    @property
    def calls(self) -> int:
        return len(self.rounded)


@contextlib.contextmanager
def emulated_matmuls(rounding):
    """Within: float32 matmul inputs are rounded by `rounding` unless at full precision (see the
    module's docstring). Yields a `Record`. JAX's compilation caches are cleared on the way in and
    out, so that nothing traced without the emulation runs within it, nor the reverse."""
    record, inside = Record(), threading.local()

    def wrap(original):
        signature = inspect.signature(original)

        def emulated(*args, **kwargs):
            if getattr(inside, "active", False):       # lax.dot_general calling lax.dot: done once
                return original(*args, **kwargs)
            bound = signature.bind(*args, **kwargs)
            full = is_full_precision(bound.arguments.get("precision"))
            record.rounded.append(not full)
            if not full:
                for name in ("lhs", "rhs"):
                    value = jnp.asarray(bound.arguments[name])
                    bound.arguments[name] = rounding(value) if value.dtype == jnp.float32 else value
            inside.active = True
            try:
                return original(*bound.args, **bound.kwargs)
            finally:
                inside.active = False

        return emulated

    patches = []
    originals = {name: getattr(lax_internal, name) for name in ("dot_general", "dot")
                 if hasattr(lax_internal, name)}
    wrapped = {name: wrap(function) for name, function in originals.items()}
    for module in (lax_internal, lax):        # jnp calls lax_internal's; learners may call jax.lax's
        for name, function in wrapped.items():
            if getattr(module, name, None) is originals[name]:
                patches.append((module.__dict__, name, module.__dict__[name]))
    einsum_defaults = jnp.einsum.__kwdefaults__ or {}   # jnp.einsum binds lax.dot_general as a default
    if einsum_defaults.get("_dot_general") is originals["dot_general"]:
        patches.append((einsum_defaults, "_dot_general", originals["dot_general"]))

    jax.clear_caches()
    try:
        for where, name, _ in patches:
            where[name] = wrapped["dot" if name == "dot" else "dot_general"]
        yield record
    finally:
        for where, name, original in patches:
            where[name] = original
        jax.clear_caches()


@contextlib.contextmanager
def default_precision():
    """course_lib's setting undone: JAX's default matmul precision, the backend's own."""
    with jax.default_matmul_precision(None):
        jax.clear_caches()
        try:
            yield
        finally:
            jax.clear_caches()


def _dense_problem(seed=0, n=16, d_in=300, d_out=10):
    """Random inputs of a few hundred features for a Dense, and its float64 answer."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d_in)).astype(np.float32)
    w = (rng.normal(size=(d_in, d_out)) / np.sqrt(d_in)).astype(np.float32)
    b = rng.normal(size=d_out).astype(np.float32)
    return x, w, b, x.astype(np.float64) @ w.astype(np.float64) + b


def _dense_ways(x, w, b) -> dict:
    """A correct Dense, y = x w + b, written every way a learner or course_lib writes it: name ->
    a function that computes it."""
    layer = tl.Dense(w.shape[1])
    layer.init(x)
    return {
        "jnp.dot": lambda: jnp.dot(x, w) + b,
        "jnp.matmul": lambda: jnp.matmul(x, w) + b,
        "jax @ jax": lambda: jnp.asarray(x) @ jnp.asarray(w) + b,
        "numpy @ jax": lambda: x @ jnp.asarray(w) + b,
        "jnp.einsum": lambda: jnp.einsum("nd,dk->nk", x, w) + b,
        "jax.lax.dot_general": lambda: lax.dot_general(x, w, (((1,), (0,)), ((), ()))) + b,
        "jax.lax.dot": lambda: lax.dot(x, w) + b,
        "jit(jnp.dot)": lambda: jax.jit(lambda x, w, b: jnp.dot(x, w) + b)(x, w, b),
        "tl.Dense": lambda: layer(x, weights=(w, b)),
        "jit(tl.Dense)": lambda: jax.jit(lambda x, w, b: layer(x, weights=(w, b)))(x, w, b),
    }


def _dense_results(x, w, b) -> dict:
    return {name: np.asarray(way(), dtype=np.float64) for name, way in _dense_ways(x, w, b).items()}


def _relative_error(got, expected):
    return float(np.max(np.abs(got - expected)) / np.max(np.abs(expected)))


# -- course_lib's setting -------------------------------------------------------------------------

def _precision_after(code: str, **env) -> str:
    """JAX's default matmul precision after `code` runs in a fresh interpreter."""
    environ = {k: v for k, v in os.environ.items() if k != "JAX_DEFAULT_MATMUL_PRECISION"}
    script = code + "\nimport jax\nprint(jax.config.jax_default_matmul_precision)\n"
    process = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             env=dict(environ, **env), timeout=300)
    assert process.returncode == 0, process.stderr[-2000:]
    return process.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("code", [
    "import course_lib",
    "import jax\nimport course_lib",
    "from course_lib import layers as tl",
    "import course_lib.fastmath.numpy as jnp",
], ids=["before-jax", "after-jax", "from-layers", "fastmath-numpy"])
def test_importing_course_lib_sets_the_highest_matmul_precision(code):
    assert _precision_after(code) == "highest"


def test_importing_course_lib_alone_does_not_import_jax():
    process = subprocess.run(
        [sys.executable, "-c", "import sys, course_lib; print('jax' in sys.modules)"],
        capture_output=True, text=True, timeout=300)
    assert process.stdout.strip() == "False", process.stderr[-2000:]


@pytest.mark.parametrize("code", ["import course_lib", "import jax\nimport course_lib"],
                         ids=["before-jax", "after-jax"])
def test_an_explicit_environment_variable_is_kept(code):
    assert _precision_after(code, JAX_DEFAULT_MATMUL_PRECISION="bfloat16") == "bfloat16"


def test_an_explicit_config_is_kept():
    code = "import jax\njax.config.update('jax_default_matmul_precision', 'tensorfloat32')\nimport course_lib"
    assert _precision_after(code) == "tensorfloat32"


# -- the emulation --------------------------------------------------------------------------------

def test_the_roundings_are_to_the_nearest_bfloat16_and_tf32_ties_to_even():
    h = 2.0 ** -8                                   # half a bfloat16 ulp at 1 (7 stored bits)
    t = 2.0 ** -11                                  # half a TF32 ulp at 1 (10 stored bits)
    x = np.float32([1 + h, 1 + h + 2 ** -12, 1 + 3 * h, 1 + t, 1 + t + 2 ** -14, 1 + 3 * t,
                    -3.0, np.inf, -np.inf])
    np.testing.assert_array_equal(
        to_bfloat16(x), np.float32([1, 1 + 2 * h, 1 + 4 * h, 1, 1, 1, -3.0, np.inf, -np.inf]))
    np.testing.assert_array_equal(
        to_tensorfloat32(x), np.float32([1 + h, 1 + h, 1 + 3 * h, 1, 1 + 2 * t, 1 + 4 * t,
                                         -3.0, np.inf, -np.inf]))
    assert np.isnan(to_tensorfloat32(np.float32([np.nan])))[0]


@pytest.mark.parametrize("emulation", EMULATIONS)
def test_every_way_of_writing_a_matmul_goes_through_the_emulation(emulation):
    x, w, b, _ = _dense_problem()
    missed = []
    with emulated_matmuls(EMULATIONS[emulation]) as record:
        ways = _dense_ways(x, w, b)
        ways["grad(tl.Dense)"] = lambda: jax.grad(lambda w: jnp.sum(tl.Dense(10)(x, weights=(w, b)) ** 2))(w)
        for name, way in ways.items():
            jax.clear_caches()         # a trace cached by an earlier way would hide this one's call
            before = record.calls
            way()
            if record.calls == before:
                missed.append(name)
    assert missed == []


@pytest.mark.parametrize("emulation", EMULATIONS)
def test_at_the_default_precision_the_emulation_makes_a_correct_dense_miss_a_tight_check(emulation):
    """The failure that was reported: a correct Dense failing the visible check on a TPU."""
    x, w, b, expected = _dense_problem()
    with default_precision():
        on_cpu = _dense_results(x, w, b)
        with emulated_matmuls(EMULATIONS[emulation]) as record:
            emulated = _dense_results(x, w, b)
    assert record.calls and all(record.rounded)
    for way, got in on_cpu.items():      # XLA:CPU: full precision whatever the setting
        assert _relative_error(got, expected) < TIGHT, way
    for way, got in emulated.items():    # the emulated accelerator: off by far more
        assert _relative_error(got, expected) > 10 * TIGHT, (way, _relative_error(got, expected))
        assert not np.allclose(got, expected, rtol=TIGHT, atol=TIGHT), way


@pytest.mark.parametrize("emulation", EMULATIONS)
def test_with_course_lib_a_dense_and_its_gradient_are_exact_under_the_emulation(emulation):
    assert jax.config.jax_default_matmul_precision == "highest"
    x, w, b, expected = _dense_problem()
    gradient = lambda w: jax.grad(lambda w: jnp.sum(jnp.dot(x, w) + b) ** 2 / 2)(w)   # noqa: E731
    expected_gradient = x.T.astype(np.float64) @ np.broadcast_to(expected.sum(), expected.shape)
    with emulated_matmuls(EMULATIONS[emulation]) as record:
        results = _dense_results(x, w, b)
        got_gradient = np.asarray(gradient(w), dtype=np.float64)
    assert record.calls and not any(record.rounded)
    for way, got in results.items():
        assert _relative_error(got, expected) < TIGHT, way
    assert _relative_error(got_gradient, expected_gradient) < 10 * TIGHT


# -- every graded assignment, under the emulation -------------------------------------------------

def _code_cells(name):
    notebook = nbformat.read(REPO / "solutions" / name / f"{name}.ipynb", as_version=4)
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


@pytest.mark.filterwarnings("ignore::UserWarning")         # plt.show() on a non-interactive backend
@pytest.mark.parametrize("emulation", EMULATIONS)
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_with_course_lib_the_reference_solution_passes_every_test_under_the_emulation(
        name, emulation, tmp_path, monkeypatch):
    """Runs the source notebook's code cells in order in one namespace, as the learner's kernel
    does (whatever form its test cells take), with the reference answers, on an emulated TPU or
    GPU: no test cell, visible or hidden, may fail."""
    if os.environ.get("JAX_DEFAULT_MATMUL_PRECISION", "highest") != "highest":
        pytest.skip("JAX_DEFAULT_MATMUL_PRECISION chooses another precision for this run")
    assert jax.config.jax_default_matmul_precision == "highest", "course_lib sets it on import"
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)     # the notebooks write their checkpoints to the working directory
    namespace, failed, tests = {}, {}, 0
    with emulated_matmuls(EMULATIONS[emulation]) as record:
        for cell in _code_cells(name):
            label = grade_id(cell) or cell.get("id")
            try:
                exec(compile(cell.source, f"<{name}: {label}>", "exec"), namespace)
            except Exception as error:  # a test cell fails by raising, as nbgrader counts it
                if not is_test(cell):
                    pytest.fail(f"{name}: cell {label} (not a test) raised {type(error).__name__}: {error}")
                failed[label] = f"{type(error).__name__}: {error}"
            finally:
                plt.close("all")
            tests += is_test(cell)
    assert tests >= 2 * 3, f"{name}: expected visible and hidden tests, found {tests} test cells"
    assert record.calls > 0, "no matmul went through the emulation"
    assert failed == {}, failed
