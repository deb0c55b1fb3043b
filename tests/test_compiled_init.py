"""`Layer.init` compiles the whole model's initialization once: the same weights as op by op,
a learner's Python in `init_weights_and_state` still runs, and what cannot be traced runs op by op."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import monitoring

from course_lib import layers as tl
from course_lib import shapes
from course_lib.fastmath import random
from course_lib.layers import compiled_init

IDS = shapes.ShapeDtype((4, 7), np.int32)
FEATURES = shapes.ShapeDtype((4, 5), np.float32)

MODELS = {
    "Dense": (lambda: tl.Dense(3), FEATURES),
    "Dense without bias": (lambda: tl.Dense(3, use_bias=False), FEATURES),
    "Dense, 64 units": (lambda: tl.Dense(64), FEATURES),
    "Embedding": (lambda: tl.Embedding(50, 8), IDS),
    "LayerNorm": (lambda: tl.LayerNorm(), FEATURES),
    "Serial": (lambda: tl.Serial(tl.Embedding(50, 8), tl.Mean(axis=1), tl.Dense(4), tl.Relu(), tl.Dense(2),
                                 tl.LogSoftmax()), IDS),
    "capstone, masked mean": (lambda: tl.Serial(tl.Branch(tl.Embedding(50, 8), None), tl.MaskedMean(),
                                                tl.Dense(2), tl.LogSoftmax()), IDS),
    "Residual, LayerNorm, Dropout": (lambda: tl.Serial(tl.Residual(tl.Dense(5)), tl.LayerNorm(), tl.Dropout(0.5),
                                                       tl.Dense(2)), FEATURES),
    "Parallel": (lambda: tl.Parallel(tl.Embedding(10, 3), tl.Embedding(20, 3)), (IDS, IDS)),
}


class CompileCounter:
    """Counts XLA compilations (JAX's backend_compile events) while `counting` is True."""

    def __init__(self):
        self.count, self.counting = 0, False
        monitoring.register_event_duration_secs_listener(self._listen)

    def _listen(self, event, seconds, **kwargs):
        if self.counting and event == "/jax/core/compile/backend_compile_duration":
            self.count += 1

    def __enter__(self):
        self.count, self.counting = 0, True
        return self

    def __exit__(self, *exc):
        self.counting = False


@pytest.fixture(scope="module")
def compiles():
    return CompileCounter()


def op_by_op_init(layer, signature, rng=None):
    """The initialization as before: every sublayer's init run eagerly, op by op (the oracle)."""
    compiled_init.compiled_init.active = True
    try:
        return layer.init(signature, rng=rng)
    finally:
        compiled_init.compiled_init.active = False


def leaves(tree):
    return [np.asarray(leaf) for leaf in jax.tree_util.tree_leaves(tree)]


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("seed", [None, 3])
def test_compiled_init_gives_bit_identical_weights_to_op_by_op_init(name, seed):
    make, signature = MODELS[name]
    rng = None if seed is None else random.get_prng(seed)
    compiled, expected = make(), make()
    weights, state = compiled.init(signature, rng=rng)
    expected_weights, expected_state = op_by_op_init(expected, signature, rng)
    assert jax.tree_util.tree_structure(weights) == jax.tree_util.tree_structure(expected_weights)
    for got, want in zip(leaves(weights), leaves(expected_weights)):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)       # bit for bit, not approximately
    assert jax.tree_util.tree_structure(state) == jax.tree_util.tree_structure(expected_state)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_after_compiled_init_every_sublayer_holds_concrete_keys_and_the_model_runs(name):
    make, signature = MODELS[name]
    compiled, expected = make(), make()
    compiled.init(signature)
    op_by_op_init(expected, signature)
    for got, want in zip(compiled_init.layer_tree(compiled), compiled_init.layer_tree(expected)):
        assert not isinstance(got.rng, jax.core.Tracer)
        np.testing.assert_array_equal(np.asarray(got.rng), np.asarray(want.rng))
    x = jax.tree_util.tree_map(lambda s: jnp.ones(s.shape, s.dtype), signature,
                               is_leaf=lambda s: isinstance(s, shapes.ShapeDtype))
    for got, want in zip(leaves(compiled(x)), leaves(expected(x))):
        np.testing.assert_array_equal(got, want)


def test_init_compiles_one_program_and_an_identical_model_reuses_it(compiles):
    make = lambda: tl.Serial(tl.Embedding(40, 6), tl.Mean(axis=1), tl.Dense(5), tl.Dense(2))  # noqa: E731
    with compiles:
        make().init(IDS)                             # the default key is made inside the program
    assert compiles.count == 1
    with compiles:
        make().init(IDS)
    assert compiles.count == 0
    with compiles:
        make().init(shapes.ShapeDtype((4, 9), np.int32))   # the same weights' shapes: the same program
    assert compiles.count == 0
    keys = random.get_prng(1), random.get_prng(2)   # their own small programs, compiled here
    with compiles:
        make().init(IDS, rng=keys[0])                # a key passed in: another program, compiled once
        make().init(IDS, rng=keys[1])
    assert compiles.count == 1


class RecordsItsInit(tl.Layer):
    """A learner's layer whose init has Python side effects: it counts its calls and keeps a size."""

    calls = []

    def init_weights_and_state(self, input_signature):
        RecordsItsInit.calls.append(tuple(input_signature.shape))
        self.n_features = input_signature.shape[-1]          # a Python int, used by forward
        print(f"init for {self.n_features} features")
        self.weights = random.normal(self.rng, (self.n_features,))

    def forward(self, x):
        return x[..., :self.n_features] * self.weights


def test_a_learners_init_with_python_side_effects_runs_once_per_init_and_works(capsys):
    RecordsItsInit.calls.clear()
    layer, expected = tl.Serial(tl.Dense(5), RecordsItsInit()), tl.Serial(tl.Dense(5), RecordsItsInit())
    layer.init(FEATURES)
    assert RecordsItsInit.calls == [(4, 5)] and capsys.readouterr().out == "init for 5 features\n"
    layer.init(FEATURES, rng=random.get_prng(1))           # again: the Python runs again
    assert RecordsItsInit.calls == [(4, 5), (4, 5)]
    op_by_op_init(expected, FEATURES, random.get_prng(1))
    for got, want in zip(leaves(layer.weights), leaves(expected.weights)):
        np.testing.assert_array_equal(got, want)
    assert layer.sublayers[1].n_features == 5
    np.testing.assert_array_equal(np.asarray(layer(jnp.ones((4, 5)))), np.asarray(expected(jnp.ones((4, 5)))))


class NeedsValues(tl.Layer):
    """A learner's init that reads a value (not traceable): it must run op by op."""

    def init_weights_and_state(self, input_signature):
        w = random.uniform(self.rng, (input_signature.shape[-1],))
        self.largest = float(jnp.max(w))                     # a concrete value: fails on a tracer
        self.weights = w / self.largest

    def forward(self, x):
        return x * self.weights


class KeepsAnArray(tl.Layer):
    """A learner's init that keeps an array outside its weights: it must not keep a tracer."""

    def init_weights_and_state(self, input_signature):
        self.scale = jnp.full((input_signature.shape[-1],), 2.0)
        self.weights = random.normal(self.rng, (input_signature.shape[-1],))

    def forward(self, x):
        return x * self.weights * self.scale


@pytest.mark.parametrize("make", [NeedsValues, KeepsAnArray])
def test_an_init_that_cannot_be_traced_falls_back_to_op_by_op(make):
    layer, expected = tl.Serial(tl.Dense(5), make()), tl.Serial(tl.Dense(5), make())
    layer.init(FEATURES)
    op_by_op_init(expected, FEATURES)
    for got, want in zip(leaves(layer.weights), leaves(expected.weights)):
        np.testing.assert_array_equal(got, want)
    assert not any(isinstance(value, jax.core.Tracer) for value in vars(layer.sublayers[1]).values())
    np.testing.assert_array_equal(np.asarray(layer(jnp.ones((4, 5)))), np.asarray(expected(jnp.ones((4, 5)))))


def test_init_on_a_wrong_signature_raises_the_same_layer_error_as_before():
    with pytest.raises(tl.LayerError) as compiled:
        tl.Serial(tl.Dense(3), tl.Add()).init(FEATURES)
    with pytest.raises(tl.LayerError) as expected:
        op_by_op_init(tl.Serial(tl.Dense(3), tl.Add()), FEATURES)
    assert str(compiled.value) == str(expected.value)


class PrintsItsWeights(tl.Layer):
    """A learner's layer that prints what it drew, as learners debug their Dense."""

    def init_weights_and_state(self, input_signature):
        self.weights = random.normal(self.rng, (input_signature.shape[-1],))
        print("drew", type(self.weights).__name__, np.asarray(self.weights).round(3).tolist()
              if not isinstance(self.weights, jax.core.Tracer) else "a tracer")

    def forward(self, x):
        return x * self.weights


def test_a_layer_alone_is_initialized_op_by_op_and_its_print_shows_values(capsys):
    layer = PrintsItsWeights()
    layer.init(FEATURES)
    expected = np.asarray(random.normal(random.get_prng(0), (5,))).round(3).tolist()
    assert capsys.readouterr().out == f"drew ArrayImpl {expected}\n"
    model = tl.Serial(tl.Dense(5), PrintsItsWeights())       # two layers that make weights: one program
    model.init(FEATURES)
    assert capsys.readouterr().out == "drew DynamicJaxprTracer a tracer\n"


@pytest.mark.parametrize("name, make, compiled", [
    ("Dense alone", lambda: tl.Dense(3), False),
    ("Dense in a Serial with layers without weights", lambda: tl.Serial(tl.Dense(3), tl.Relu(), tl.Serial()), False),
    ("two Dense", lambda: tl.Serial(tl.Dense(3), tl.Relu(), tl.Dense(2)), True),
    ("Embedding and Dense", lambda: tl.Serial(tl.Branch(tl.Embedding(50, 8), None), tl.MaskedMean(), tl.Dense(2)), True),
])
def test_init_compiles_one_program_only_for_two_or_more_layers_that_make_weights(name, make, compiled, monkeypatch):
    traced = []
    real_jit = compiled_init.jax.jit
    monkeypatch.setattr(compiled_init.jax, "jit", lambda f, *a, **k: (traced.append(f.__name__), real_jit(f, *a, **k))[1])
    make().init(IDS if name.startswith("Embedding") else FEATURES)
    assert ("traced_init" in traced) == compiled
