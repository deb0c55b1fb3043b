"""Combinators (Serial, Parallel, Branch, Select): Trax's data stack, weights, and repr."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from course_lib import layers as tl
from course_lib import shapes


def Neg():
    return tl.Fn("Neg", lambda x: -x)


def Add():
    return tl.Fn("Add", lambda a, b: a + b)


def Square():
    return tl.Fn("Square", lambda x: x * x)


A = np.array([[1.0, -2.0], [3.0, -4.0]], np.float32)
B = np.array([[10.0, 20.0], [30.0, 40.0]], np.float32)
C = np.array([[0.5, 0.5], [1.5, 1.5]], np.float32)


def _dense_with(n_units, w, b, d_in):
    layer = tl.Dense(n_units)
    layer.init(shapes.ShapeDtype((1, d_in)))
    layer.weights = (jnp.asarray(w, jnp.float32), jnp.asarray(b, jnp.float32))
    return layer


# -- Serial --------------------------------------------------------------------------------


def test_serial_composes_its_layers_in_order():
    first = _dense_with(2, [[1.0, -1.0], [2.0, 0.0]], [0.0, 1.0], d_in=2)
    second = _dense_with(1, [[3.0], [-2.0]], [0.5], d_in=2)
    model = tl.Serial(first, tl.Relu(), second)
    x = np.array([[1.0, 1.0], [-1.0, 2.0]], np.float32)
    # Dense: [1*1 + 1*2, -1 + 0] + [0, 1] = [3, 0];  [-1 + 4, 1 + 0] + [0, 1] = [3, 2]
    # Relu: unchanged; Dense: [3*3 - 0*2 + 0.5] = 9.5;  [3*3 - 2*2 + 0.5] = 5.5
    np.testing.assert_allclose(model(x), [[9.5], [5.5]], rtol=1e-6)


def test_serial_leaves_items_it_does_not_use_on_the_stack_for_later_layers():
    model = tl.Serial(tl.Relu(), tl.Select([1, 0]))      # (a, b) -> relu(a), b -> (b, relu(a))
    assert (model.n_in, model.n_out) == (2, 2)
    first, second = model((A, B))
    np.testing.assert_array_equal(first, B)
    np.testing.assert_array_equal(second, np.maximum(A, 0))


def test_serial_of_two_adds_sums_three_inputs():
    model = tl.Serial(Add(), Add())
    assert (model.n_in, model.n_out) == (3, 1)
    np.testing.assert_allclose(model((A, B, C)), A + B + C)


def test_serial_flattens_lists_of_layers():
    model = tl.Serial([tl.Relu(), [Neg()]], tl.Tanh())
    assert [layer.name for layer in model.sublayers] == ["Relu", "Neg", "Tanh"]
    np.testing.assert_allclose(model(A), np.tanh(-np.maximum(A, 0)), rtol=1e-6)


@pytest.mark.parametrize("make, n_in, n_out", [
    (lambda: tl.Serial(tl.Dense(2)), 1, 1),
    (lambda: tl.Serial(tl.Dense(2), tl.LogSoftmax()), 1, 1),
    (lambda: tl.Serial(tl.CrossEntropyLoss()), 3, 1),
    (lambda: tl.Serial(tl.Dense(2), tl.CrossEntropyLoss()), 3, 1),
    (lambda: tl.Serial(tl.Select([0, 0]), Add()), 1, 1),
    (lambda: tl.Serial(tl.Branch(tl.Relu(), Neg())), 1, 2),
    (lambda: tl.Serial(Add(), tl.Select([0, 0, 0])), 2, 3),
    (lambda: tl.Parallel(tl.Relu(), Neg()), 2, 2),
    (lambda: tl.Parallel(Add(), tl.Relu()), 3, 2),
    (lambda: tl.Parallel(tl.Select([0, 0]), tl.Relu()), 2, 3),
    (lambda: tl.Branch(tl.Relu(), Neg()), 1, 2),
    (lambda: tl.Branch(Add(), tl.Relu()), 2, 2),
    (lambda: tl.Branch(tl.Relu(), tl.Select([0, 1, 1])), 2, 4),
    (lambda: tl.Select([0, 1, 1]), 2, 3),
    (lambda: tl.Select([1, 0]), 2, 2),
    (lambda: tl.Select([2]), 3, 1),
    (lambda: tl.Select([0], n_in=2), 2, 1),
], ids=["Serial-1", "Serial-2", "Serial-loss", "Serial-model-loss", "Serial-dup-add",
        "Serial-branch", "Serial-add-triple", "Parallel-1-1", "Parallel-2-1", "Parallel-select",
        "Branch-1-1", "Branch-2-1", "Branch-select", "Select-dup", "Select-swap", "Select-third",
        "Select-drop"])
def test_n_in_and_n_out_follow_traxs_rules(make, n_in, n_out):
    layer = make()
    assert (layer.n_in, layer.n_out) == (n_in, n_out)


# -- Parallel, Branch, Select ---------------------------------------------------------------


def test_parallel_runs_each_layer_on_its_own_input():
    out = tl.Parallel(tl.Relu(), Neg())((A, B))
    assert isinstance(out, tuple) and len(out) == 2
    np.testing.assert_array_equal(out[0], np.maximum(A, 0))
    np.testing.assert_array_equal(out[1], -B)


def test_parallel_gives_a_layer_with_two_inputs_the_next_two():
    total, relu_c = tl.Parallel(Add(), tl.Relu())((A, B, C))
    np.testing.assert_array_equal(total, A + B)
    np.testing.assert_array_equal(relu_c, C)


def test_parallel_of_embeddings_one_per_categorical_feature():
    cardinality, d = [3, 5, 2], 4
    model = tl.Parallel(*[tl.Embedding(c, d) for c in cardinality])
    assert (model.n_in, model.n_out) == (3, 3)
    ids = (np.array([0, 2, 9], np.int32), np.array([4, 1, 0], np.int32), np.array([1, 1, -1], np.int32))
    weights, _ = model.init(shapes.signature(ids))
    assert [w.shape for w in weights] == [(3, 4), (5, 4), (2, 4)]
    out = model(ids)
    assert isinstance(out, tuple) and len(out) == 3
    for o, w, i, c in zip(out, weights, ids, cardinality):
        assert o.shape == (3, 4) and o.dtype == jnp.float32
        np.testing.assert_array_equal(o, np.asarray(w)[np.clip(i, 0, c - 1)])


def test_combinators_give_each_sublayer_its_own_key():
    model = tl.Parallel(tl.Embedding(6, 3), tl.Embedding(6, 3))
    w1, w2 = model.init((shapes.ShapeDtype((2,), np.int32), shapes.ShapeDtype((2,), np.int32)))[0]
    assert not np.allclose(w1, w2)
    serial = tl.Serial(tl.Dense(3), tl.Dense(3))
    (first, _), (second, _) = serial.init(shapes.ShapeDtype((1, 3)))[0]
    assert not np.allclose(first, second)


def test_branch_gives_each_layer_a_copy_of_the_input():
    out = tl.Branch(tl.Relu(), Neg(), Square())(A)
    assert len(out) == 3
    np.testing.assert_array_equal(out[0], np.maximum(A, 0))
    np.testing.assert_array_equal(out[1], -A)
    np.testing.assert_array_equal(out[2], A * A)


def test_branch_gives_a_layer_with_fewer_inputs_the_top_of_the_stack():
    total, relu_a = tl.Branch(Add(), tl.Relu())((A, B))
    np.testing.assert_array_equal(total, A + B)
    np.testing.assert_array_equal(relu_a, np.maximum(A, 0))


def test_select_reorders_and_duplicates():
    x, y, y2 = tl.Select([0, 1, 1])((A, B))
    np.testing.assert_array_equal(x, A)
    np.testing.assert_array_equal(y, B)
    np.testing.assert_array_equal(y2, B)
    c, a = tl.Select([2, 0])((A, B, C))
    np.testing.assert_array_equal(c, C)
    np.testing.assert_array_equal(a, A)


def test_select_of_one_index_returns_an_array_not_a_tuple():
    out = tl.Select([1])((A, B))
    np.testing.assert_array_equal(out, B)
    assert not isinstance(out, tuple)


def test_nested_combinators_compute_a_residual_sum():
    # x -> (x, x*x) -> x + x*x
    model = tl.Serial(tl.Branch(tl.Fn("Identity", lambda x: x), Square()), Add())
    assert (model.n_in, model.n_out) == (1, 1)
    np.testing.assert_allclose(model(A), A + A * A)


def test_nested_combinators_with_dense_layers_init_and_run():
    model = tl.Serial(tl.Branch(tl.Dense(2), tl.Dense(3)), tl.Parallel(tl.Relu(), Neg()))
    x = np.array([[1.0, 2.0, 3.0, 4.0]], np.float32)
    weights, _ = model.init(x)
    (w1, b1), (w2, b2) = weights[0]
    assert (w1.shape, w2.shape) == ((4, 2), (4, 3))
    assert weights[1] == ((), ())
    first, second = model(x)
    np.testing.assert_allclose(first, np.maximum(x @ np.asarray(w1) + np.asarray(b1), 0), rtol=1e-5)
    np.testing.assert_allclose(second, -(x @ np.asarray(w2) + np.asarray(b2)), rtol=1e-5)
    signature = model.output_signature(x)
    assert signature == (shapes.ShapeDtype((1, 2)), shapes.ShapeDtype((1, 3)))


# -- repr ----------------------------------------------------------------------------------


def test_repr_of_the_sentiment_model_is_traxs_tree():
    model = tl.Serial(tl.Embedding(9088, 256), tl.Mean(axis=1), tl.Dense(2), tl.LogSoftmax())
    assert repr(model) == "Serial[\n  Embedding_9088_256\n  Mean\n  Dense_2\n  LogSoftmax\n]"


def test_repr_adds_in_and_out_suffixes_only_where_they_are_not_one():
    model = tl.Serial(
        tl.Branch(tl.Dense(3), tl.Mean()),
        tl.Select([0, 1, 1]),
        tl.Parallel(tl.Relu(), tl.Relu(), tl.Relu()),
    )
    assert repr(model) == (
        "Serial_out3[\n"
        "  Branch_out2[\n"
        "    Dense_3\n"
        "    Mean\n"
        "  ]\n"
        "  Select[0,1,1]_in2_out3\n"
        "  Parallel_in3_out3[\n"
        "    Relu\n"
        "    Relu\n"
        "    Relu\n"
        "  ]\n"
        "]"
    )


def test_repr_of_a_model_with_its_loss_shows_three_inputs():
    model = tl.Serial(tl.Dense(2), tl.LogSoftmax(), tl.CrossEntropyLoss())
    assert repr(model) == "Serial_in3[\n  Dense_2\n  LogSoftmax\n  CrossEntropyLoss_in3\n]"
    assert repr(tl.Fn("Add", lambda a, b: a + b)) == "Add_in2"
    assert repr(tl.Select([1, 0])) == "Select[1,0]_in2_out2"


# -- the lecture's model, and weights ------------------------------------------------------


def _lecture_model():
    return tl.Serial(tl.Dense(4), tl.Sigmoid(), tl.Dense(4), tl.Sigmoid(), tl.Dense(3), tl.Softmax())


def test_the_lecture_model_outputs_probabilities_computed_layer_by_layer():
    model = _lecture_model()
    x = np.array([[0.1, 0.2], [-1.0, 2.0], [3.0, 0.0], [0.0, 0.0], [5.0, -5.0]], np.float32)
    model.init(shapes.signature(x))
    y = np.asarray(model(x))
    assert y.shape == (5, 3)
    np.testing.assert_allclose(y.sum(axis=1), np.ones(5), rtol=1e-6)
    assert np.all(y > 0)

    def sigmoid(z):
        return 1 / (1 + np.exp(-z))

    (w1, b1), _, (w2, b2), _, (w3, b3), _ = [tuple(np.asarray(a) for a in w) for w in model.weights]
    h = sigmoid(sigmoid(x @ w1 + b1) @ w2 + b2) @ w3 + b3
    expected = np.exp(h) / np.exp(h).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(y, expected, rtol=1e-5)


def test_weights_of_serial_is_the_tuple_of_its_sublayers_weights():
    model = _lecture_model()
    weights, state = model.init(shapes.ShapeDtype((5, 2)))
    assert isinstance(weights, tuple) and len(weights) == 6
    assert [w[0].shape for w in weights[::2]] == [(2, 4), (4, 4), (4, 3)]
    assert [w[1].shape for w in weights[::2]] == [(4,), (4,), (3,)]
    assert weights[1] == weights[3] == weights[5] == ()
    assert state == ((),) * 6
    for layer, w in zip(model.sublayers, weights):
        assert jax.tree_util.tree_all(
            jax.tree_util.tree_map(lambda a, b: a is b, layer.weights, w))


def test_setting_serial_weights_distributes_them_to_the_sublayers():
    model = _lecture_model()
    model.init(shapes.ShapeDtype((5, 2)))
    new = jax.tree_util.tree_map(lambda a: jnp.full_like(a, 0.5), model.weights)
    model.weights = new
    for layer, w in zip(model.sublayers, new):
        assert layer.weights is w
    np.testing.assert_array_equal(model.sublayers[4].weights[0], np.full((4, 3), 0.5, np.float32))
    # every output unit is then the same: softmax of equal scores is 1/3 each
    np.testing.assert_allclose(model(np.ones((2, 2), np.float32)), np.full((2, 3), 1 / 3), rtol=1e-6)


def test_setting_weights_of_the_wrong_length_raises_value_error():
    model = _lecture_model()
    model.init(shapes.ShapeDtype((5, 2)))
    with pytest.raises(ValueError, match="6 sublayers"):
        model.weights = model.weights[:5]


@pytest.mark.parametrize("combinator", [tl.Serial, tl.Parallel, tl.Branch])
def test_a_layer_class_without_parentheses_raises_type_error_with_a_hint(combinator):
    with pytest.raises(TypeError) as info:
        combinator(tl.Dense(2), tl.Relu)
    message = str(info.value)
    assert "tl.Relu()" in message
    assert "parentheses" in message


def test_an_empty_serial_is_the_identity_with_no_weights():
    model = tl.Serial()
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    model.init(shapes.signature(x))
    assert model.weights == () and repr(model) == "Serial"
    np.testing.assert_array_equal(np.asarray(model(x)), x)
