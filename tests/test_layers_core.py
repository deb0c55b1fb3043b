"""The basic layers: Dense, Embedding, Mean and the activations, against numpy and jax.nn."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from course_lib import layers as tl
from course_lib import shapes
from course_lib.fastmath import random

X = np.array([[1.0, -2.0, 3.0], [0.5, 0.0, -1.5]], dtype=np.float32)


# -- Dense ---------------------------------------------------------------------------------


def test_dense_computes_x_times_w_plus_b():
    layer = tl.Dense(2)
    layer.init(X)
    w = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], np.float32)
    b = np.array([0.5, -1.0], np.float32)
    layer.weights = (jnp.asarray(w), jnp.asarray(b))
    # row 0: [1 - 6 + 15, 2 - 8 + 18] + b = [10.5, 11]; row 1: [0.5 - 7.5, 1 - 9] + b = [-6.5, -9]
    np.testing.assert_allclose(layer(X), [[10.5, 11.0], [-6.5, -9.0]], rtol=1e-6)
    np.testing.assert_allclose(layer(X), X @ w + b, rtol=1e-6)


def test_dense_weights_have_shapes_d_in_by_n_units_and_n_units():
    layer = tl.Dense(5)
    weights, state = layer.init(shapes.ShapeDtype((4, 3)))
    w, b = weights
    assert w.shape == (3, 5) and w.dtype == jnp.float32
    assert b.shape == (5,) and b.dtype == jnp.float32
    assert state == ()
    assert layer.name == "Dense_5"


def test_dense_init_is_glorot_uniform_with_a_near_zero_bias():
    layer = tl.Dense(40)
    w, b = layer.init(shapes.ShapeDtype((1, 60)))[0]
    limit = np.sqrt(6.0 / (60 + 40))
    assert np.all(np.abs(w) <= limit)
    assert np.abs(w).max() > 0.8 * limit     # spread over the range, not all near zero
    assert np.all(np.abs(b) < 1e-5)


def test_dense_init_is_the_same_for_the_same_key_and_differs_for_another_key():
    a, b, c = tl.Dense(3), tl.Dense(3), tl.Dense(3)
    a.init(X, rng=random.get_prng(1))
    b.init(X, rng=random.get_prng(1))
    c.init(X, rng=random.get_prng(2))
    np.testing.assert_array_equal(a.weights[0], b.weights[0])
    np.testing.assert_array_equal(a.weights[1], b.weights[1])
    assert not np.allclose(a.weights[0], c.weights[0])


def test_dense_without_bias_has_only_w_and_computes_x_times_w():
    layer = tl.Dense(2, use_bias=False)
    weights, _ = layer.init(X)
    assert weights.shape == (3, 2)
    w = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], np.float32)
    layer.weights = jnp.asarray(w)
    np.testing.assert_allclose(layer(X), [[4.0, 1.0], [-1.0, -1.5]], rtol=1e-6)


def test_dense_applies_to_the_last_axis_of_higher_rank_inputs():
    layer = tl.Dense(2)
    x = np.arange(24, dtype=np.float32).reshape(2, 4, 3)
    layer.init(x)
    w, b = (np.asarray(a) for a in layer.weights)
    np.testing.assert_allclose(layer(x), x @ w + b, rtol=1e-5)


# -- Embedding -----------------------------------------------------------------------------

TABLE = np.array([[0.0, 0.1], [1.0, 1.1], [2.0, 2.1], [3.0, 3.1]], np.float32)


def _embedding_with_table():
    layer = tl.Embedding(vocab_size=4, d_feature=2)
    layer.init(shapes.ShapeDtype((1, 1), np.int32))
    layer.weights = jnp.asarray(TABLE)
    return layer


def test_embedding_looks_up_row_i_for_id_i():
    ids = np.array([[3, 0, 1], [2, 2, 0]], np.int32)
    out = _embedding_with_table()(ids)
    expected = [[[3.0, 3.1], [0.0, 0.1], [1.0, 1.1]],
                [[2.0, 2.1], [2.0, 2.1], [0.0, 0.1]]]
    np.testing.assert_array_equal(out, np.array(expected, np.float32))


def test_embedding_maps_int32_batch_by_seq_to_float32_batch_by_seq_by_d():
    layer = tl.Embedding(vocab_size=9, d_feature=5)
    ids = np.zeros((2, 7), np.int32)
    w, state = layer.init(ids)
    assert w.shape == (9, 5) and w.dtype == jnp.float32
    assert state == ()
    out = layer(ids)
    assert out.shape == (2, 7, 5) and out.dtype == jnp.float32
    assert layer.name == "Embedding_9_5"


def test_embedding_init_is_a_truncated_normal_scaled_by_one_over_sqrt_d():
    layer = tl.Embedding(vocab_size=200, d_feature=16)
    w, _ = layer.init(shapes.ShapeDtype((1, 1), np.int32))
    w = np.asarray(w)
    assert np.all(np.abs(w) <= 2.0 / 4.0 + 1e-6)      # truncated at 2 stddev, stddev 1/sqrt(16)
    assert 0.15 < w.std() < 0.25                       # about 0.88 * 0.25 for a truncated normal


def test_embedding_clips_ids_beyond_the_vocabulary_to_the_last_row():
    out = _embedding_with_table()(np.array([[4, 99, 3]], np.int32))
    np.testing.assert_array_equal(out[0], np.stack([TABLE[3], TABLE[3], TABLE[3]]))


def test_embedding_clips_negative_ids_to_row_zero():
    out = _embedding_with_table()(np.array([[-1, -50, 1]], np.int32))
    np.testing.assert_array_equal(out[0], np.stack([TABLE[0], TABLE[0], TABLE[1]]))


def test_embedding_clips_inside_jit_too():
    layer = _embedding_with_table()
    out = jax.jit(lambda w, ids: layer(ids, weights=w))(layer.weights, np.array([[7, -3]], np.int32))
    np.testing.assert_array_equal(out[0], np.stack([TABLE[3], TABLE[0]]))


def test_embedding_of_float_ids_raises_layer_error_naming_the_dtype():
    layer = _embedding_with_table()
    with pytest.raises(tl.LayerError) as info:
        layer(np.array([[1.0, 2.0]], np.float32))
    message = str(info.value)
    assert "Embedding_4_2" in message
    assert "float32[1,2]" in message
    assert "int32" in message


# -- Mean ----------------------------------------------------------------------------------

X3 = np.arange(24, dtype=np.float32).reshape(2, 3, 4)


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_mean_averages_over_the_given_axis(axis, keepdims):
    out = tl.Mean(axis=axis, keepdims=keepdims)(X3)
    np.testing.assert_allclose(out, np.mean(X3, axis=axis, keepdims=keepdims), rtol=1e-6)


def test_mean_defaults_to_the_last_axis_and_averages_words_with_axis_1():
    np.testing.assert_allclose(tl.Mean()(X3), X3.mean(axis=-1), rtol=1e-6)
    # (batch=2, words=3, d=4): word vectors of each example averaged by hand
    by_hand = np.stack([(X3[i, 0] + X3[i, 1] + X3[i, 2]) / 3 for i in range(2)])
    np.testing.assert_allclose(tl.Mean(axis=1)(X3), by_hand, rtol=1e-6)


# -- activations ---------------------------------------------------------------------------

Z = np.array([[-3.0, -0.5, 0.0, 0.5, 3.0], [10.0, -10.0, 2.0, 1.0, -1.0]], np.float32)


@pytest.mark.parametrize("make, oracle", [
    (tl.Relu, jax.nn.relu),
    (tl.Sigmoid, jax.nn.sigmoid),
    (tl.Tanh, jnp.tanh),
    (tl.Softmax, jax.nn.softmax),
    (tl.LogSoftmax, jax.nn.log_softmax),
], ids=["Relu", "Sigmoid", "Tanh", "Softmax", "LogSoftmax"])
def test_activation_matches_its_jax_oracle(make, oracle):
    layer = make()
    assert layer.name == make.__name__
    assert layer.weights == ()
    np.testing.assert_allclose(layer(Z), oracle(Z), rtol=1e-6, atol=1e-6)


def test_relu_zeroes_negatives_and_keeps_positives():
    np.testing.assert_array_equal(tl.Relu()(np.array([-2.0, 0.0, 3.5], np.float32)), [0.0, 0.0, 3.5])


def test_softmax_rows_sum_to_one():
    np.testing.assert_allclose(np.sum(tl.Softmax()(Z), axis=-1), [1.0, 1.0], rtol=1e-6)


def test_softmax_and_log_softmax_take_an_axis():
    np.testing.assert_allclose(tl.Softmax(axis=0)(Z), jax.nn.softmax(Z, axis=0), rtol=1e-6)
    np.testing.assert_allclose(tl.LogSoftmax(axis=0)(Z), jax.nn.log_softmax(Z, axis=0),
                               rtol=1e-6, atol=1e-6)


def test_log_softmax_stays_finite_for_large_inputs():
    z = np.array([[1000.0, 0.0, -1000.0]], np.float32)
    out = np.asarray(tl.LogSoftmax()(z))
    assert np.all(np.isfinite(out))
    # log softmax = z - logsumexp(z) = z - 1000 (the other terms are exp(-1000) = 0 in float32)
    np.testing.assert_allclose(out, [[0.0, -1000.0, -2000.0]], rtol=1e-6)
    np.testing.assert_allclose(tl.Softmax()(z), [[1.0, 0.0, 0.0]], atol=1e-7)


def test_log_softmax_softmax_and_masked_mean_compile_one_program_per_shape_when_run_eagerly():
    """model(x) outside a training step (a notebook's predictions, a test's probe): each of these
    layers compiles one XLA program for a new shape, not one per operation (about 12 for log-softmax)."""
    from benchmarks.common import CompileCounter
    counter = CompileCounter()
    logits = np.random.default_rng(0).normal(size=(3, 11)).astype(np.float32)     # shapes no other test uses
    embeddings = np.random.default_rng(1).normal(size=(2, 13, 5)).astype(np.float32)
    ids = np.array([[4] * 9 + [0] * 4, [7] * 13], np.int32)
    calls = {"LogSoftmax": lambda: tl.LogSoftmax()(logits), "Softmax": lambda: tl.Softmax()(logits),
             "MaskedMean": lambda: tl.MaskedMean()((embeddings, ids))}
    for name, call in calls.items():
        counter.count, counter.on = 0, True
        result = call()
        counter.on = False
        assert counter.count == 1, f"{name} compiled {counter.count} programs for one new shape"
    np.testing.assert_allclose(result[0], embeddings[0, :9].mean(axis=0), rtol=1e-6)   # the padding ignored
    # The values, against NumPy in float64: z - log(sum(exp(z))) row by row, and its exp.
    z = logits.astype(np.float64)
    expected = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    np.testing.assert_allclose(tl.LogSoftmax()(logits), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tl.Softmax()(logits), np.exp(expected), rtol=1e-5, atol=1e-7)


# -- output signatures ---------------------------------------------------------------------

IDS = np.array([[1, 2, 3], [0, 4, 2]], np.int32)


@pytest.mark.parametrize("make, x, expected", [
    (lambda: tl.Dense(7), X, shapes.ShapeDtype((2, 7), np.float32)),
    (lambda: tl.Dense(7, use_bias=False), X, shapes.ShapeDtype((2, 7), np.float32)),
    (lambda: tl.Embedding(5, 6), IDS, shapes.ShapeDtype((2, 3, 6), np.float32)),
    (lambda: tl.Mean(axis=1), X3, shapes.ShapeDtype((2, 4), np.float32)),
    (lambda: tl.Mean(axis=1, keepdims=True), X3, shapes.ShapeDtype((2, 1, 4), np.float32)),
    (tl.Relu, X3, shapes.ShapeDtype((2, 3, 4), np.float32)),
    (tl.Sigmoid, X3, shapes.ShapeDtype((2, 3, 4), np.float32)),
    (tl.Tanh, X3, shapes.ShapeDtype((2, 3, 4), np.float32)),
    (tl.Softmax, X, shapes.ShapeDtype((2, 3), np.float32)),
    (tl.LogSoftmax, X, shapes.ShapeDtype((2, 3), np.float32)),
], ids=["Dense", "Dense-no-bias", "Embedding", "Mean", "Mean-keepdims", "Relu", "Sigmoid",
        "Tanh", "Softmax", "LogSoftmax"])
def test_output_signature_predicts_the_actual_output(make, x, expected):
    layer = make()
    layer.init(shapes.signature(x))
    predicted = layer.output_signature(shapes.signature(x))
    assert predicted == expected
    assert shapes.signature(layer(x)) == expected
