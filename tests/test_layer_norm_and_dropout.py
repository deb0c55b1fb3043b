"""tl.LayerNorm against the numpy formula of Ba et al. 2016, and tl.Dropout's modes and statistics."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from course_lib import layers as tl
from course_lib import shapes
from course_lib.fastmath import random


def layer_norm_by_hand(x, scale, bias, epsilon=1e-6):
    x = np.asarray(x, np.float64)
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon) * scale + bias


# -- LayerNorm -------------------------------------------------------------------------------


def test_layer_norm_of_the_lectures_vector_by_hand():
    norm = tl.LayerNorm()
    x = np.array([0, 1, 2, 3], dtype="float")
    norm.init(shapes.signature(x))
    # mean 1.5; variance (2.25 + 0.25 + 0.25 + 2.25) / 4 = 1.25
    expected = (x - 1.5) / np.sqrt(1.25 + 1e-6)
    np.testing.assert_allclose(norm(x), expected, rtol=1e-6)


def test_layer_norm_has_traxs_weights_name_and_counts():
    norm = tl.LayerNorm()
    (scale, bias), state = norm.init(shapes.ShapeDtype((2, 5, 7)))
    np.testing.assert_array_equal(scale, np.ones(7))
    np.testing.assert_array_equal(bias, np.zeros(7))
    assert scale.dtype == bias.dtype == jnp.float32
    assert state == ()
    assert (norm.name, norm.n_in, norm.n_out, repr(norm)) == ("LayerNorm", 1, 1, "LayerNorm")


def test_layer_norm_matches_the_numpy_formula_with_learned_scale_and_bias():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, size=(4, 6, 5)).astype(np.float32)
    scale = rng.uniform(0.5, 2.0, size=5).astype(np.float32)
    bias = rng.normal(size=5).astype(np.float32)
    norm = tl.LayerNorm()
    norm.init(shapes.signature(x))
    norm.weights = (jnp.asarray(scale), jnp.asarray(bias))
    y = np.asarray(norm(x))
    assert y.shape == x.shape and y.dtype == np.float32
    np.testing.assert_allclose(y, layer_norm_by_hand(x, scale, bias), rtol=1e-4, atol=1e-5)


def test_layer_norm_at_init_gives_each_row_mean_zero_and_variance_one():
    x = np.random.default_rng(1).normal(-4.0, 10.0, size=(8, 32)).astype(np.float32)
    norm = tl.LayerNorm()
    norm.init(x)
    y = np.asarray(norm(x), np.float64)
    np.testing.assert_allclose(y.mean(axis=-1), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=-1), 1.0, rtol=1e-4)


def test_layer_norm_epsilon_keeps_a_constant_row_finite():
    norm = tl.LayerNorm(epsilon=1e-6)
    x = np.full((2, 4), 7.0, np.float32)
    norm.init(x)
    np.testing.assert_array_equal(norm(x), np.zeros((2, 4)))      # 0 / sqrt(0 + eps) = 0


def test_layer_norm_without_center_divides_by_the_root_mean_square():
    x = np.array([[3.0, 4.0]], np.float32)
    norm = tl.LayerNorm(center=False, epsilon=0.0)
    norm.init(x)
    norm.weights = (jnp.array([1.0, 2.0]), jnp.array([100.0, 100.0]))   # bias unused
    # mean(x**2) = (9 + 16) / 2 = 12.5
    np.testing.assert_allclose(norm(x), [[3.0 / np.sqrt(12.5), 8.0 / np.sqrt(12.5)]], rtol=1e-6)


def test_layer_norm_gradients_for_scale_and_bias_match_the_formula():
    x = np.random.default_rng(2).normal(size=(3, 4)).astype(np.float32)
    norm = tl.LayerNorm()
    weights, _ = norm.init(x)
    grads = jax.grad(lambda w: jnp.sum(norm(x, weights=w) * jnp.arange(4.0)))(weights)
    # d/dbias sum(y * c) = c summed over rows; d/dscale = sum over rows of normalized x * c
    np.testing.assert_allclose(grads[1], 3 * np.arange(4.0), rtol=1e-6)
    normalized = layer_norm_by_hand(x, 1.0, 0.0)
    np.testing.assert_allclose(grads[0], (normalized * np.arange(4.0)).sum(axis=0),
                               rtol=1e-4, atol=1e-5)


def test_layer_norm_on_the_wrong_width_names_layer_expected_and_actual_shape():
    norm = tl.LayerNorm()
    norm.init(shapes.ShapeDtype((2, 4)))
    with pytest.raises(tl.LayerError) as info:
        norm(np.ones((2, 6), np.float32))
    message = str(info.value)
    assert "LayerNorm" in message and "float32[...,4]" in message and "float32[2,6]" in message
    assert "init" in message


def test_layer_norm_inside_a_residual_block():
    x = np.random.default_rng(3).normal(size=(2, 4)).astype(np.float32)
    model = tl.Residual(tl.LayerNorm(), tl.Fn("Double", lambda z: 2 * z))
    model.init(x)
    np.testing.assert_allclose(model(x), x + 2 * layer_norm_by_hand(x, 1.0, 0.0),
                               rtol=1e-4, atol=1e-5)


# -- Dropout ---------------------------------------------------------------------------------


X = np.ones((2, 5, 1000), np.float32)     # 10,000 values


@pytest.mark.parametrize("mode", ["eval", "predict"])
def test_dropout_outside_training_is_the_identity(mode):
    layer = tl.Dropout(rate=0.5, mode=mode)
    x = np.random.default_rng(0).normal(size=(3, 7)).astype(np.float32)
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer(x, rng=random.get_prng(9)), x)


def test_dropout_with_rate_zero_is_the_identity_in_training():
    x = np.random.default_rng(0).normal(size=(3, 7)).astype(np.float32)
    np.testing.assert_array_equal(tl.Dropout(rate=0.0, mode="train")(x), x)


def test_dropout_in_training_drops_about_rate_of_the_values_and_scales_the_rest():
    rate = 0.1
    y = np.asarray(tl.Dropout(rate=rate, mode="train")(X, rng=random.get_prng(1)))
    assert y.shape == X.shape and y.dtype == np.float32
    # Each value is 0 or 1 / (1 - rate), exactly.
    assert set(np.unique(y).tolist()) <= {0.0, np.float32(1.0) / np.float32(1.0 - rate)}
    # Kept values: binomial(10000, 0.9), mean 9000, sd sqrt(10000 * 0.1 * 0.9) = 30; 4 sd.
    assert abs(np.count_nonzero(y) - 9000) < 4 * 30


def test_dropout_preserves_the_mean_in_expectation():
    rate = 0.3
    x = np.random.default_rng(4).uniform(1.0, 2.0, size=(100, 100)).astype(np.float32)
    y = np.asarray(tl.Dropout(rate=rate)(x, rng=random.get_prng(2)), np.float64)
    dropped = np.mean(y == 0)
    # fraction dropped: sd sqrt(0.3 * 0.7 / 10000) ~ 0.0046
    assert abs(dropped - rate) < 4 * 0.0046
    # mean of x * keep / 0.7: sd <= 2 * sqrt(0.3 / 0.7 / 10000) ~ 0.013
    assert abs(y.mean() - x.mean()) < 4 * 0.013


def test_dropout_uses_the_layers_key_same_key_same_mask_other_key_other_mask():
    layer = tl.Dropout(rate=0.5)
    x = np.random.default_rng(5).normal(size=(4, 50)).astype(np.float32)
    key = random.get_prng(7)
    y = np.asarray(layer(x, rng=key))
    keep = np.asarray(jax.random.bernoulli(key, 0.5, x.shape))        # the oracle: Trax's mask
    np.testing.assert_allclose(y, np.where(keep, x / 0.5, 0.0), rtol=1e-6)
    np.testing.assert_array_equal(layer(x, rng=key), y)
    assert not np.array_equal(layer(x, rng=random.get_prng(8)), y)
    layer.init(x, rng=key)                                            # init sets layer.rng
    np.testing.assert_array_equal(layer(x), y)


def test_dropout_shared_axes_share_the_mask_along_those_axes():
    y = np.asarray(tl.Dropout(rate=0.5, shared_axes=[0])(np.ones((6, 40), np.float32),
                                                          rng=random.get_prng(3)))
    for row in y[1:]:
        np.testing.assert_array_equal(row, y[0])
    assert 0 < np.count_nonzero(y[0]) < 40


def test_dropout_inside_serial_gets_a_new_mask_for_a_new_key_and_works_under_jit():
    model = tl.Serial(tl.Dense(8), tl.Dropout(rate=0.5))
    x = np.ones((4, 3), np.float32)
    weights, _ = model.init(x)
    run = jax.jit(lambda w, x, key: model(x, weights=w, rng=key))
    first = np.asarray(run(weights, x, random.get_prng(0)))
    again = np.asarray(run(weights, x, random.get_prng(0)))
    other = np.asarray(run(weights, x, random.get_prng(1)))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first == 0, other == 0)
    w, b = (np.asarray(a) for a in weights[0])
    dense = x @ w + b
    kept = first != 0
    np.testing.assert_allclose(first[kept], (dense / 0.5)[kept], rtol=1e-5)


def test_dropout_has_no_weights_and_prints_as_trax():
    layer = tl.Dropout(rate=0.1)
    weights, _ = layer.init(X)
    assert weights == ()
    assert repr(layer) == "Dropout" and (layer.n_in, layer.n_out) == (1, 1)


@pytest.mark.parametrize("kwargs, words", [
    ({"rate": 1.0}, "[0, 1)"), ({"rate": -0.1}, "[0, 1)"), ({"mode": "training"}, "'train'"),
])
def test_dropout_rejects_a_rate_outside_0_1_and_an_unknown_mode(kwargs, words):
    with pytest.raises(ValueError) as info:
        tl.Dropout(**kwargs)
    assert words in str(info.value)


def test_dropout_with_a_shared_axis_the_input_lacks_raises_layer_error():
    with pytest.raises(tl.LayerError) as info:
        tl.Dropout(rate=0.5, shared_axes=[2])(np.ones((3, 4), np.float32))
    message = str(info.value)
    assert "Dropout" in message and "float32[3,4]" in message and "shared_axes" in message
