"""Trax's stack combinators (Dup, Drop, Swap, Add, Residual, Concatenate), alone and inside Serial.

Expected values are written out by hand or computed with numpy; reprs are the strings Trax prints
(trax/layers/combinators_test.py for Concatenate and Branch, Trax's Layer.__repr__ for the rest).
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from course_lib import layers as tl
from course_lib import shapes
from course_lib.fastmath import random

X = np.array([[1.0, -2.0, 3.0], [0.5, 0.0, -1.5]], np.float32)
Y = np.array([[10.0, 20.0, 30.0], [40.0, 50.0, 60.0]], np.float32)


def dense_with(w, b):
    """A Dense layer whose weights are set by hand: y = x @ w + b."""
    w, b = np.asarray(w, np.float32), np.asarray(b, np.float32)
    layer = tl.Dense(w.shape[1])
    layer.init(shapes.ShapeDtype((1, w.shape[0])))
    layer.weights = (jnp.asarray(w), jnp.asarray(b))
    return layer


W = [[1.0, 0.0, 2.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 1.0]]
B = [0.5, 0.0, -0.5]
# X @ W + B, by hand:
#   row 0: [1 - 3, -2, 2 + 3] + B = [-1.5, -2.0, 4.5]
#   row 1: [0.5 + 1.5, 0, 1 - 1.5] + B = [2.5, 0.0, -1.0]
DENSE_X = np.array([[-1.5, -2.0, 4.5], [2.5, 0.0, -1.0]], np.float32)


# -- Dup, Drop, Swap, Add on their own ------------------------------------------------------


def test_dup_copies_the_top_of_the_stack():
    layer = tl.Dup()
    assert (layer.n_in, layer.n_out) == (1, 2)
    first, second = layer(X)
    np.testing.assert_array_equal(first, X)
    np.testing.assert_array_equal(second, X)


def test_drop_removes_the_top_of_the_stack_and_returns_nothing():
    layer = tl.Drop()
    assert (layer.n_in, layer.n_out) == (1, 0)
    assert layer(X) == ()


def test_swap_exchanges_the_top_two_items():
    layer = tl.Swap()
    assert (layer.n_in, layer.n_out) == (2, 2)
    first, second = layer((X, Y))
    np.testing.assert_array_equal(first, Y)
    np.testing.assert_array_equal(second, X)


def test_add_sums_two_inputs_with_numpy_broadcasting():
    layer = tl.Add()
    assert (layer.n_in, layer.n_out) == (2, 1)
    np.testing.assert_array_equal(layer((X, Y)), [[11.0, 18.0, 33.0], [40.5, 50.0, 58.5]])
    np.testing.assert_array_equal(layer((X, np.float32(1.0))), X + 1)


def test_add_of_shapes_that_do_not_broadcast_names_both_shapes_and_the_residual_fix():
    with pytest.raises(tl.LayerError) as info:
        tl.Add()((X, np.ones((2, 5), np.float32)))
    message = str(info.value)
    assert "Add" in message
    assert "float32[2,3]" in message and "float32[2,5]" in message
    assert "Residual" in message


def test_swap_given_one_array_says_it_takes_two_inputs():
    with pytest.raises(tl.LayerError) as info:
        tl.Swap()(X)
    message = str(info.value)
    assert "Swap" in message and "2 inputs" in message and "float32[2,3]" in message


# -- inside Serial: Trax's data stack -------------------------------------------------------


def test_serial_dup_dense_leaves_the_dense_output_on_top_of_a_copy_of_the_input():
    model = tl.Serial(tl.Dup(), dense_with(W, B))
    assert (model.n_in, model.n_out) == (1, 2)
    top, below = model(X)
    np.testing.assert_allclose(top, DENSE_X, rtol=1e-6)
    np.testing.assert_array_equal(below, X)


def test_serial_dup_dense_add_is_a_hand_made_residual():
    model = tl.Serial(tl.Dup(), dense_with(W, B), tl.Add())
    assert (model.n_in, model.n_out) == (1, 1)
    np.testing.assert_allclose(model(X), X + DENSE_X, rtol=1e-6)


def test_serial_dup_swap_drop_is_the_identity():
    model = tl.Serial(tl.Dup(), tl.Swap(), tl.Drop())
    assert (model.n_in, model.n_out) == (1, 1)
    np.testing.assert_array_equal(model(X), X)


def test_serial_dup_dup_gives_three_copies_as_in_traxs_test():
    model = tl.Serial(tl.Dup(), tl.Dup())
    assert (model.n_in, model.n_out) == (1, 3)
    outputs = model(np.array([1, 2, 3]))
    assert [o.tolist() for o in outputs] == [[1, 2, 3]] * 3


def test_serial_swap_then_drop_keeps_the_second_input():
    model = tl.Serial(tl.Swap(), tl.Drop())       # (x, y) -> (y, x) -> x
    assert (model.n_in, model.n_out) == (2, 1)
    np.testing.assert_array_equal(model((X, Y)), X)
    model = tl.Serial(tl.Drop())                  # (x) -> ()
    assert (model.n_in, model.n_out) == (1, 0)
    assert model(X) == ()


def test_serial_dup_dense_swap_drop_keeps_only_the_dense_output():
    # x -> (x, x) -> (Dense(x), x) -> (x, Dense(x)) -> Dense(x)
    model = tl.Serial(tl.Dup(), dense_with(W, B), tl.Swap(), tl.Drop())
    assert (model.n_in, model.n_out) == (1, 1)
    np.testing.assert_allclose(model(X), DENSE_X, rtol=1e-6)


def test_serial_of_stack_layers_inits_its_dense_layers_on_the_signature_that_reaches_them():
    model = tl.Serial(tl.Dup(), tl.Dense(4), tl.Swap(), tl.Dense(5))
    # x -> (x, x) -> (Dense4(x), x) -> (x, Dense4(x)) -> (Dense5(x), Dense4(x))
    weights, _ = model.init(shapes.ShapeDtype((2, 3)))
    assert weights[0] == () and weights[2] == ()
    assert weights[1][0].shape == (3, 4) and weights[3][0].shape == (3, 5)
    assert model.output_signature(shapes.ShapeDtype((2, 3))) == (
        shapes.ShapeDtype((2, 5)), shapes.ShapeDtype((2, 4)))
    top, below = model(X)
    (w4, b4), (w5, b5) = [tuple(np.asarray(a) for a in w) for w in (weights[1], weights[3])]
    np.testing.assert_allclose(top, X @ w5 + b5, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(below, X @ w4 + b4, rtol=1e-5, atol=1e-6)


def test_stack_layers_run_under_jit_and_grad():
    model = tl.Serial(tl.Dup(), tl.Dense(3), tl.Add())
    weights, _ = model.init(X)
    out = jax.jit(lambda w, x: model(x, weights=w))(weights, X)
    (w, b) = (np.asarray(a) for a in weights[1])
    np.testing.assert_allclose(out, X + X @ w + b, rtol=1e-5, atol=1e-6)
    # d/db sum(x + x @ w + b) = number of rows, for every unit
    grads = jax.grad(lambda w: jnp.sum(model(X, weights=w)))(weights)
    np.testing.assert_allclose(grads[1][1], [2.0, 2.0, 2.0], rtol=1e-6)


# -- Residual --------------------------------------------------------------------------------


def test_residual_adds_the_input_to_the_layers_output():
    model = tl.Residual(dense_with(W, B))
    assert (model.n_in, model.n_out) == (1, 1)
    np.testing.assert_allclose(model(X), X + DENSE_X, rtol=1e-6)


def test_residual_of_several_layers_runs_them_in_series():
    model = tl.Residual(dense_with(W, B), tl.Relu())
    np.testing.assert_allclose(model(X), X + np.maximum(DENSE_X, 0), rtol=1e-6)


def test_residual_with_a_shortcut_adds_the_shortcuts_output_instead_of_the_input():
    model = tl.Residual(dense_with(W, B), shortcut=tl.Fn("Double", lambda x: 2 * x))
    np.testing.assert_allclose(model(X), 2 * X + DENSE_X, rtol=1e-6)


def test_residual_inside_serial_and_after_init_computes_x_plus_dense_x():
    model = tl.Serial(tl.Residual(tl.Dense(3)), tl.Relu())
    weights, _ = model.init(shapes.signature(X))
    dense = model.sublayers[0].sublayers[0].sublayers[1]
    w, b = (np.asarray(a) for a in dense.weights)
    np.testing.assert_allclose(model(X), np.maximum(X + X @ w + b, 0), rtol=1e-5, atol=1e-6)
    assert jax.tree_util.tree_structure(weights) == jax.tree_util.tree_structure(
        ((((), (w, b)), ()), ()))


def test_residual_prints_as_traxs_serial_of_branch_and_add():
    assert repr(tl.Residual(tl.Dense(3))) == (
        "Serial[\n"
        "  Branch_out2[\n"
        "    None\n"
        "    Dense_3\n"
        "  ]\n"
        "  Add_in2\n"
        "]")
    assert repr(tl.Residual(tl.Dense(3), tl.Relu(), shortcut=tl.Dense(3))) == (
        "Serial[\n"
        "  Branch_out2[\n"
        "    Dense_3\n"
        "    Serial[\n"
        "      Dense_3\n"
        "      Relu\n"
        "    ]\n"
        "  ]\n"
        "  Add_in2\n"
        "]")


def test_residual_whose_layer_changes_the_width_raises_a_layer_error_with_the_fix():
    model = tl.Residual(tl.Dense(5))
    with pytest.raises(tl.LayerError) as info:
        model.init(X)                     # init already runs the shapes through the layers
    message = str(info.value)
    assert "Add" in message and "float32[2,3]" in message and "float32[2,5]" in message
    assert "n_units" in message


def test_residual_of_no_layers_raises_value_error():
    with pytest.raises(ValueError, match="at least one layer"):
        tl.Residual()


# -- Branch and Parallel take None and lists, as in Trax ----------------------------------


def test_branch_with_none_passes_a_copy_of_the_input_through():
    model = tl.Branch(None, dense_with(W, B))
    assert (model.n_in, model.n_out) == (1, 2)
    first, second = model(X)
    np.testing.assert_array_equal(first, X)
    np.testing.assert_allclose(second, DENSE_X, rtol=1e-6)


def test_branch_of_a_list_runs_the_list_in_series_as_one_branch():
    model = tl.Branch([dense_with(W, B), tl.Relu()], None)
    assert (model.n_in, model.n_out) == (1, 2)
    first, second = model(X)
    np.testing.assert_allclose(first, np.maximum(DENSE_X, 0), rtol=1e-6)
    np.testing.assert_array_equal(second, X)
    assert repr(tl.Branch([tl.Dense(2), tl.Relu()], None)) == (
        "Branch_out2[\n  [Dense_2, Relu]\n  None\n]")


def test_traxs_branch_tests_noop_dup_and_printing():
    outputs = tl.Branch([], tl.Dup())(np.array([1, 2, 3]))
    assert [o.tolist() for o in outputs] == [[1, 2, 3]] * 3
    assert repr(tl.Branch(tl.Add(), tl.Add())) == "Branch_in2_out2[\n  Add_in2\n  Add_in2\n]"


def test_parallel_with_none_leaves_its_input_unchanged():
    model = tl.Parallel(None, dense_with(W, B))
    assert (model.n_in, model.n_out) == (2, 2)
    first, second = model((Y, X))
    np.testing.assert_array_equal(first, Y)
    np.testing.assert_allclose(second, DENSE_X, rtol=1e-6)
    assert repr(model) == "Parallel_in2_out2[\n  Serial\n  Dense_3\n]"


# -- Concatenate -----------------------------------------------------------------------------


def test_concatenate_joins_two_arrays_along_the_last_axis_by_default():
    layer = tl.Concatenate()
    assert (layer.n_in, layer.n_out) == (2, 1)
    out = layer((X, Y))
    np.testing.assert_array_equal(out, [[1.0, -2.0, 3.0, 10.0, 20.0, 30.0],
                                        [0.5, 0.0, -1.5, 40.0, 50.0, 60.0]])


def test_concatenate_takes_n_items_and_an_axis():
    np.testing.assert_array_equal(
        tl.Concatenate(n_items=3)((np.array([1, 2]), np.array([3, 4]), np.array([5, 6]))),
        [1, 2, 3, 4, 5, 6])
    np.testing.assert_array_equal(tl.Concatenate(axis=0)((X, Y)), np.vstack([X, Y]))
    assert tl.Concatenate(axis=0)((X, Y)).shape == (4, 3)


def test_concatenate_reprs_are_traxs():
    assert repr(tl.Concatenate()) == "Concatenate_in2"
    assert repr(tl.Concatenate(axis=0)) == "Concatenate_axis0_in2"
    assert repr(tl.Concatenate(axis=1)) == "Concatenate_axis1_in2"
    assert repr(tl.Concatenate(n_items=3)) == "Concatenate_in3"


def test_concatenate_inside_serial_joins_a_layers_output_with_its_input():
    model = tl.Serial(tl.Dup(), dense_with(W, B), tl.Concatenate())
    assert (model.n_in, model.n_out) == (1, 1)
    np.testing.assert_allclose(model(X), np.concatenate([DENSE_X, X], axis=-1), rtol=1e-6)


def test_concatenate_of_mismatched_shapes_names_the_layer_the_shapes_and_the_axis():
    with pytest.raises(tl.LayerError) as info:
        tl.Concatenate()((X, np.ones((3, 2), np.float32)))
    message = str(info.value)
    assert "Concatenate" in message
    assert "float32[2,3]" in message and "float32[3,2]" in message
    assert "axis -1" in message


# -- reprs of the stack layers, and keys ---------------------------------------------------


def test_stack_layer_reprs_are_traxs():
    assert [repr(layer) for layer in (tl.Dup(), tl.Drop(), tl.Swap(), tl.Add())] == [
        "Dup_out2", "Drop_out0", "Swap_in2_out2", "Add_in2"]
    assert repr(tl.Serial(tl.Dup(), tl.Swap(), tl.Drop())) == (
        "Serial[\n  Dup_out2\n  Swap_in2_out2\n  Drop_out0\n]")


class KeyOut(tl.Layer):
    """Outputs its key as floats, so that a test can see which key a layer ran with."""

    def forward(self, x):
        return jnp.asarray(jax.random.key_data(self.rng), jnp.float32)


def test_a_combinator_gives_each_sublayer_a_key_split_from_the_key_it_runs_with():
    model = tl.Branch(KeyOut(), KeyOut())
    key = random.get_prng(5)
    first, second = model(X, rng=key)
    expected = jax.random.split(key, 2)
    np.testing.assert_array_equal(first, np.asarray(jax.random.key_data(expected[0]), np.float32))
    np.testing.assert_array_equal(second, np.asarray(jax.random.key_data(expected[1]), np.float32))
    other_first, _ = model(X, rng=random.get_prng(6))
    assert not np.array_equal(first, other_first)
