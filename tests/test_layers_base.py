"""`tl.Layer` and `tl.Fn`: subclassing, init, calling, the pure forms, and the errors layers raise."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from course_lib import layers as tl
from course_lib import shapes
from course_lib.fastmath import random


class TimesTwo(tl.Layer):
    """A layer with only forward, as in the lecture."""

    def forward(self, x):
        return 2 * x


class Scale(tl.Layer):
    """A weighted layer: one random factor per feature, drawn from self.rng."""

    def init_weights_and_state(self, input_signature):
        self.weights = random.uniform(self.rng, (input_signature.shape[-1],), minval=1.0, maxval=2.0)

    def forward(self, x):
        return x * self.weights


class Offset(tl.Layer):
    """A layer with state: x * weights + state, the state a fixed offset per feature (0, 1, 2, ...)."""

    def init_weights_and_state(self, input_signature):
        n = input_signature.shape[-1]
        self.weights = jnp.full((n,), 2.0)
        self.state = jnp.arange(n, dtype=jnp.float32)

    def forward(self, x):
        return x * self.weights + self.state


class ForgetsSuperInit(tl.Layer):
    """A subclass whose __init__ does not call super().__init__()."""

    def __init__(self, factor):
        self.factor = factor

    def init_weights_and_state(self, input_signature):
        self.weights = jnp.full((input_signature.shape[-1],), float(self.factor))

    def forward(self, x):
        return x * self.weights


class NoForward(tl.Layer):
    pass


class Fails(tl.Layer):
    def forward(self, x):
        raise TypeError("something inside went wrong")


X = np.array([[1.0, -2.0, 3.0], [0.5, 0.0, -1.5]], dtype=np.float32)


# -- subclassing ---------------------------------------------------------------------------


def test_a_subclass_that_overrides_only_forward_runs_without_init():
    layer = TimesTwo()
    np.testing.assert_array_equal(layer(X), 2 * X)
    assert layer.name == "TimesTwo"
    assert (layer.n_in, layer.n_out) == (1, 1)
    assert layer.weights == ()


def test_a_subclass_draws_its_weights_from_self_rng_set_by_init():
    layer = Scale()
    key = random.get_prng(7)
    layer.init(shapes.signature(X), rng=key)
    expected = jax.random.uniform(key, (3,), minval=1.0, maxval=2.0)
    np.testing.assert_array_equal(layer.weights, expected)
    np.testing.assert_allclose(layer(X), X * np.asarray(expected), rtol=1e-6)


def test_init_without_rng_uses_seed_zero_so_it_is_deterministic():
    a, b = Scale(), Scale()
    a.init(shapes.signature(X))
    b.init(shapes.signature(X))
    np.testing.assert_array_equal(a.weights, b.weights)
    expected = jax.random.uniform(jax.random.PRNGKey(0), (3,), minval=1.0, maxval=2.0)
    np.testing.assert_array_equal(a.weights, expected)


def test_init_accepts_a_shapedtype_or_an_example_array_and_returns_weights_and_state():
    from_signature, from_array = Scale(), Scale()
    returned = from_signature.init(shapes.ShapeDtype((2, 3), np.float32))
    from_array.init(X)
    weights, state = returned
    assert weights.shape == (3,)
    assert state == ()
    np.testing.assert_array_equal(weights, from_signature.weights)
    np.testing.assert_array_equal(from_signature.weights, from_array.weights)


def test_a_subclass_that_forgets_super_init_still_works():
    layer = ForgetsSuperInit(3)
    assert layer.name == "ForgetsSuperInit"
    assert (layer.n_in, layer.n_out) == (1, 1)
    assert repr(layer) == "ForgetsSuperInit"
    layer.init(X)
    np.testing.assert_allclose(layer(X), 3 * X)


# -- calling -----------------------------------------------------------------------------


def test_calling_with_explicit_weights_is_pure_and_leaves_the_layer_weights_unchanged():
    layer = Scale()
    layer.init(X)
    own = np.asarray(layer.weights).copy()
    other = jnp.array([10.0, 20.0, 30.0])
    np.testing.assert_allclose(layer(X, weights=other), X * np.array([10.0, 20.0, 30.0]))
    np.testing.assert_array_equal(layer.weights, own)
    np.testing.assert_allclose(layer(X), X * own, rtol=1e-6)


def test_pure_fn_returns_outputs_and_state_without_changing_the_layer():
    layer = Scale()
    layer.init(X)
    own = np.asarray(layer.weights).copy()
    w = jnp.array([1.0, 0.0, -1.0])
    y, state = layer.pure_fn(X, w, (), None)
    np.testing.assert_allclose(y, X * np.array([1.0, 0.0, -1.0]))
    assert state == ()
    np.testing.assert_array_equal(layer.weights, own)


def test_jax_grad_through_the_pure_form_matches_the_gradient_by_hand():
    layer = Scale()
    layer.init(X)
    w = jnp.array([0.5, 1.0, 2.0])
    grad = jax.grad(lambda w: jnp.sum(layer(X, weights=w) ** 2))(w)
    # d/dw_j sum_i (x_ij w_j)^2 = 2 w_j sum_i x_ij^2
    expected = 2 * np.array([0.5, 1.0, 2.0]) * np.sum(X ** 2, axis=0)
    np.testing.assert_allclose(grad, expected, rtol=1e-6)
    grad_pure = jax.grad(lambda w: jnp.sum(layer.pure_fn(X, w)[0] ** 2))(w)
    np.testing.assert_allclose(grad_pure, expected, rtol=1e-6)


def test_jax_jit_through_the_pure_form_gives_the_eager_result_and_leaks_no_tracer():
    layer = Scale()
    layer.init(X)
    own = np.asarray(layer.weights).copy()
    w = jnp.array([3.0, -1.0, 0.25])
    jitted = jax.jit(lambda w, x: layer(x, weights=w))
    np.testing.assert_allclose(jitted(w, X), X * np.array([3.0, -1.0, 0.25]), rtol=1e-6)
    # The layer's own weights are concrete arrays again, not tracers.
    assert not isinstance(layer.weights, jax.core.Tracer)
    np.testing.assert_array_equal(layer.weights, own)
    np.testing.assert_allclose(layer(X), X * own, rtol=1e-6)


# -- Fn ------------------------------------------------------------------------------------


def test_fn_counts_the_positional_arguments_without_defaults_as_n_in():
    assert tl.Fn("One", lambda x: x).n_in == 1
    assert tl.Fn("Two", lambda a, b: a + b).n_in == 2
    assert tl.Fn("Three", lambda a, b, c: a + b + c).n_in == 3
    assert tl.Fn("DefaultIgnored", lambda x, scale=2.0: x * scale).n_in == 1


def test_fn_with_two_inputs_takes_a_tuple_and_can_return_several_outputs():
    add = tl.Fn("Add", lambda a, b: a + b)
    np.testing.assert_allclose(add((X, X)), 2 * X)
    split = tl.Fn("SumDiff", lambda a, b: (a + b, a - b), n_out=2)
    assert (split.n_in, split.n_out) == (2, 2)
    total, diff = split((X, np.ones_like(X)))
    np.testing.assert_allclose(total, X + 1)
    np.testing.assert_allclose(diff, X - 1)


def test_fn_rejects_star_args_and_star_star_kwargs():
    with pytest.raises(ValueError, match="args"):
        tl.Fn("Star", lambda *xs: xs[0])
    with pytest.raises(ValueError, match="kwargs"):
        tl.Fn("Kw", lambda x, **kw: x)


def test_a_layer_with_two_inputs_given_one_array_raises_layer_error():
    add = tl.Fn("Add", lambda a, b: a + b)
    with pytest.raises(tl.LayerError) as info:
        add(X)
    message = str(info.value)
    assert "Add" in message
    assert "2 inputs" in message
    assert "float32[2,3]" in message


# -- errors --------------------------------------------------------------------------------


def test_calling_a_weighted_layer_before_init_names_the_layer_and_the_input_shape():
    layer = tl.Dense(4)
    with pytest.raises(tl.LayerError) as info:
        layer(X)
    message = str(info.value)
    assert "Dense_4" in message
    assert "float32[2,3]" in message
    assert "init" in message


def test_calling_a_subclass_with_weights_before_init_raises_layer_error():
    with pytest.raises(tl.LayerError, match="Scale"):
        Scale()(X)


def test_dense_on_the_wrong_input_width_names_layer_expected_and_actual_shape():
    layer = tl.Dense(2)
    layer.init(shapes.ShapeDtype((5, 3)))
    wrong = np.ones((5, 7), np.float32)
    with pytest.raises(tl.LayerError) as info:
        layer(wrong)
    error = info.value
    message = str(error)
    assert "Dense_2" in message
    assert "float32[...,3]" in message       # expected: 3 input features
    assert "float32[5,7]" in message         # actual
    assert error.path == ["Dense_2"]
    assert isinstance(error, ValueError)


def test_a_wrong_shape_inside_serial_reports_the_path_to_the_failing_layer():
    model = tl.Serial(tl.Relu(), tl.Dense(3))
    model.init(shapes.ShapeDtype((2, 4)))
    with pytest.raises(tl.LayerError) as info:
        model(np.ones((2, 6), np.float32))
    message = str(info.value)
    assert "Serial > Dense_3" in message
    assert "float32[...,4]" in message
    assert "float32[2,6]" in message
    assert info.value.path == ["Serial", "Dense_3"]


def test_the_path_names_every_enclosing_combinator():
    model = tl.Serial(tl.Serial(tl.Dense(3)), tl.Relu())
    model.init(shapes.ShapeDtype((2, 4)))
    with pytest.raises(tl.LayerError) as info:
        model(np.ones((2, 5), np.float32))
    assert "Serial > Serial > Dense_3" in str(info.value)


def test_other_exceptions_in_forward_become_layer_errors_naming_the_layer_with_the_cause_chained():
    with pytest.raises(tl.LayerError) as info:
        Fails()(X)
    message = str(info.value)
    assert "Fails" in message
    assert "TypeError" in message
    assert "something inside went wrong" in message
    assert "float32[2,3]" in message
    assert isinstance(info.value.__cause__, TypeError)


def test_not_implemented_error_passes_through_unwrapped():
    with pytest.raises(NotImplementedError) as info:
        NoForward()(X)
    assert not isinstance(info.value, tl.LayerError)
    with pytest.raises(NotImplementedError) as nested:
        tl.Serial(tl.Relu(), NoForward())(X)
    assert not isinstance(nested.value, tl.LayerError)


def test_pure_fn_of_a_combinator_uses_its_own_state_by_default_and_a_given_state_instead():
    model = tl.Serial(tl.Dense(2), Offset(), tl.LogSoftmax())
    x = np.ones((3, 4), np.float32)
    weights, state = model.init(shapes.signature(x))
    w, b = (np.asarray(a) for a in weights[0])

    def log_softmax_by_hand(offset):
        logits = 2.0 * (x @ w + b) + offset
        return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))

    outputs, new_state = model.pure_fn(x, weights)
    np.testing.assert_allclose(outputs, log_softmax_by_hand(np.array([0.0, 1.0])), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(new_state[1], [0.0, 1.0])

    other = (state[0], jnp.array([5.0, -5.0]), state[2])
    outputs, new_state = model.pure_fn(x, weights, other)
    np.testing.assert_allclose(outputs, log_softmax_by_hand(np.array([5.0, -5.0])), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(new_state[1], [5.0, -5.0])
    np.testing.assert_array_equal(model.state[1], [0.0, 1.0])   # pure: the layer keeps its own


# -- signatures and sublayers, as in Trax ----------------------------------------------------


@pytest.mark.parametrize("x, dtype", [
    (np.zeros((16, 30), np.int32), np.int32),
    (jnp.zeros((16, 30), jnp.int32), np.int32),
    (np.zeros((4,), np.float32), np.float32),
    (np.zeros((4,), np.float64), np.float64),       # Trax keeps the array's dtype
    (np.zeros((2,), np.bool_), np.bool_),
    (jnp.zeros((2, 3), jnp.bfloat16), jnp.bfloat16),
], ids=["numpy-int32", "jax-int32", "float32", "float64", "bool", "bfloat16"])
def test_signature_keeps_the_arrays_shape_and_dtype(x, dtype):
    signature = shapes.signature(x)
    assert isinstance(signature, shapes.ShapeDtype)
    assert signature.shape == x.shape
    assert signature.dtype == np.dtype(dtype)


def test_signature_of_a_tuple_is_a_tuple_of_shapedtypes_and_of_a_list_a_list():
    ids, mask = np.zeros((8, 5), np.int32), np.ones((8,), np.float32)
    assert shapes.signature((ids, mask)) == (shapes.ShapeDtype((8, 5), np.int32),
                                             shapes.ShapeDtype((8,), np.float32))
    assert shapes.signature([ids, mask]) == [shapes.ShapeDtype((8, 5), np.int32),
                                             shapes.ShapeDtype((8,), np.float32)]


def test_signature_repr_is_traxs():
    assert repr(shapes.signature(np.zeros((2, 3), np.int32))) == "ShapeDtype{shape:(2, 3), dtype:int32}"


def test_a_float64_signature_initializes_a_layer_that_computes_in_float32():
    x = np.array([[0.0, 1.0, 2.0]])                 # float64, as np.array makes it
    layer = tl.Dense(2)
    layer.init(shapes.signature(x))
    assert layer.weights[0].dtype == jnp.float32
    assert layer.output_signature(shapes.signature(x)) == shapes.ShapeDtype((1, 2), np.float32)
    assert layer(x).dtype == jnp.float32


def test_sublayers_is_a_list_as_in_trax():
    dense, relu = tl.Dense(2), tl.Relu()
    model = tl.Serial(dense, relu)
    assert isinstance(model.sublayers, list)
    assert model.sublayers == [dense, relu]
    assert model.sublayers[0] is dense
    assert tl.Dense(2).sublayers == [] and TimesTwo().sublayers == []
    assert isinstance(tl.Branch(tl.Relu(), tl.Relu()).sublayers, list)
    assert isinstance(tl.Parallel(tl.Relu(), tl.Relu()).sublayers, list)
