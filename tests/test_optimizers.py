"""SGD and Adam against updates worked by hand and against optax."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from course_lib import optimizers

# A small pytree of weights (nested tuples, as a model's) and a real loss on it.
KEY = jax.random.PRNGKey(42)
_k1, _k2, _k3, _k4 = jax.random.split(KEY, 4)
INITIAL = ((jax.random.normal(_k1, (3, 4)), jnp.zeros(4)), (jax.random.normal(_k2, (4,)),))
X = jax.random.normal(_k3, (8, 3))
Y = jax.random.normal(_k4, (8,))


def loss(weights):
    """Mean squared error of a two-layer tanh model: a real, non-quadratic loss."""
    (w1, b1), (w2,) = weights
    prediction = jnp.tanh(X @ w1 + b1) @ w2
    return jnp.mean((prediction - Y) ** 2)


GRAD = jax.grad(loss)


def _train_course_lib(optimizer, n_steps):
    opt_params = optimizer.opt_params

    @jax.jit
    def step_fn(weights, slots, step):
        return optimizer.tree_update(step, GRAD(weights), weights, slots, opt_params)

    weights, slots = INITIAL, optimizer.tree_init(INITIAL)
    for step in range(n_steps):
        weights, slots = step_fn(weights, slots, jnp.asarray(step, jnp.int32))
    return weights


def _train_optax(transform, n_steps):
    @jax.jit
    def step_fn(weights, state):
        updates, state = transform.update(GRAD(weights), state, weights)
        return optax.apply_updates(weights, updates), state

    weights, state = INITIAL, transform.init(INITIAL)
    for _ in range(n_steps):
        weights, state = step_fn(weights, state)
    return weights


def _assert_trees_close(actual, expected, rtol=1e-5, atol=1e-6):
    assert jax.tree_util.tree_structure(actual) == jax.tree_util.tree_structure(expected)
    for a, e in zip(jax.tree_util.tree_leaves(actual), jax.tree_util.tree_leaves(expected)):
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol)


def test_adam_without_weight_decay_equals_optax_adam_over_200_steps():
    lr, b1, b2, eps = 0.01, 0.9, 0.99, 1e-7
    ours = _train_course_lib(optimizers.Adam(lr, weight_decay_rate=0.0, b1=b1, b2=b2, eps=eps), 200)
    oracle = _train_optax(optax.adam(learning_rate=lr, b1=b1, b2=b2, eps=eps), 200)
    _assert_trees_close(ours, oracle)
    assert loss(ours) < 0.5 * loss(INITIAL)       # it did train


def test_adam_with_weight_decay_equals_optax_scale_by_adam_then_decoupled_decay_over_200_steps():
    lr, wd, b1, b2, eps = 0.01, 0.02, 0.9, 0.999, 1e-5
    ours = _train_course_lib(optimizers.Adam(lr, weight_decay_rate=wd, b1=b1, b2=b2, eps=eps), 200)
    # new_w = w - lr * mhat / (sqrt(vhat) + eps) - wd * w = (1 - wd) * w - lr * mhat / (sqrt(vhat) + eps)
    oracle = _train_optax(optax.chain(optax.scale_by_adam(b1=b1, b2=b2, eps=eps),
                                      optax.scale(-lr),
                                      optax.add_decayed_weights(-wd)), 200)
    _assert_trees_close(ours, oracle)
    without_decay = _train_optax(optax.adam(learning_rate=lr, b1=b1, b2=b2, eps=eps), 200)
    assert not np.allclose(jax.tree_util.tree_leaves(ours)[0], jax.tree_util.tree_leaves(without_decay)[0],
                           rtol=1e-3, atol=1e-4)


def test_adam_first_step_by_hand():
    lr, wd, eps = 0.1, 0.01, 1e-5
    adam = optimizers.Adam(lr, weight_decay_rate=wd, eps=eps)
    w = jnp.array([1.0, -2.0, 0.5])
    g = jnp.array([0.5, -0.25, 0.0])
    slots = adam.init(w)
    new_w, (m, v) = adam.update(0, g, w, slots, adam.opt_params)
    # m = 0.1 g, v = 0.001 g^2; bias-corrected: mhat = g, vhat = g^2
    np.testing.assert_allclose(m, [0.05, -0.025, 0.0], rtol=1e-6)
    np.testing.assert_allclose(v, [0.00025, 0.0000625, 0.0], rtol=1e-5)
    expected = [0.99 * 1.0 - 0.1 * 0.5 / (0.5 + eps),
                0.99 * -2.0 - 0.1 * -0.25 / (0.25 + eps),
                0.99 * 0.5 - 0.0]
    np.testing.assert_allclose(new_w, expected, rtol=1e-6)


def test_adam_second_step_by_hand():
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-5
    adam = optimizers.Adam(lr, weight_decay_rate=0.0, b1=b1, b2=b2, eps=eps)
    w0, g1, g2 = 1.0, 0.5, -1.0
    w, slots = adam.update(0, jnp.array([g1]), jnp.array([w0]), adam.init(jnp.array([w0])), adam.opt_params)
    w, (m, v) = adam.update(1, jnp.array([g2]), w, slots, adam.opt_params)
    m_hand = (1 - b1) * (b1 * g1 + g2)
    v_hand = (1 - b2) * (b2 * g1 ** 2 + g2 ** 2)
    mhat, vhat = m_hand / (1 - b1 ** 2), v_hand / (1 - b2 ** 2)
    w1_hand = w0 - lr * g1 / (abs(g1) + eps)
    w2_hand = w1_hand - lr * mhat / (np.sqrt(vhat) + eps)
    np.testing.assert_allclose(m, [m_hand], rtol=1e-6)
    np.testing.assert_allclose(v, [v_hand], rtol=1e-5)
    np.testing.assert_allclose(w, [w2_hand], rtol=1e-6)


def test_adam_slots_are_zero_moments_shaped_like_the_weights():
    w = jnp.ones((2, 5))
    m, v = optimizers.Adam().init(w)
    assert m.shape == v.shape == (2, 5)
    assert not np.any(m) and not np.any(v)


def test_adam_defaults_are_traxs():
    assert optimizers.Adam().opt_params == {
        "learning_rate": 0.0001, "weight_decay_rate": 1e-5, "b1": 0.9, "b2": 0.999, "eps": 1e-5}
    assert optimizers.Adam(0.01).opt_params["learning_rate"] == 0.01


def test_sgd_default_learning_rate_is_traxs():
    assert optimizers.SGD().opt_params == {"learning_rate": 0.01}


def test_sgd_subtracts_learning_rate_times_gradient():
    sgd = optimizers.SGD(0.5)
    w = jnp.array([[1.0, 2.0], [3.0, 4.0]])
    g = jnp.array([[0.2, -0.4], [1.0, 0.0]])
    new_w, slots = sgd.update(0, g, w, sgd.init(w), sgd.opt_params)
    np.testing.assert_allclose(new_w, [[0.9, 2.2], [2.5, 4.0]], rtol=1e-6)
    assert slots is None


def test_sgd_over_a_tree_by_hand():
    sgd = optimizers.SGD(0.1)
    weights = ((jnp.array([1.0, 1.0]), jnp.array(2.0)), (jnp.array([[0.0]]),))
    grads = ((jnp.array([1.0, -1.0]), jnp.array(4.0)), (jnp.array([[10.0]]),))
    new, _ = sgd.tree_update(0, grads, weights, sgd.tree_init(weights), sgd.opt_params)
    _assert_trees_close(new, ((jnp.array([0.9, 1.1]), jnp.array(1.6)), (jnp.array([[-1.0]]),)))


@pytest.mark.parametrize("optimizer", [optimizers.SGD(0.1), optimizers.Adam(0.1)], ids=["SGD", "Adam"])
def test_tree_update_keeps_the_pytree_structure_and_one_slot_per_array(optimizer):
    slots = optimizer.tree_init(INITIAL)
    assert len(slots) == len(jax.tree_util.tree_leaves(INITIAL)) == 3
    new, new_slots = optimizer.tree_update(0, GRAD(INITIAL), INITIAL, slots, optimizer.opt_params)
    assert jax.tree_util.tree_structure(new) == jax.tree_util.tree_structure(INITIAL)
    assert [a.shape for a in jax.tree_util.tree_leaves(new)] == [(3, 4), (4,), (4,)]
    assert len(new_slots) == 3
    assert loss(new) < loss(INITIAL)


@pytest.mark.parametrize("optimizer", [optimizers.SGD(0.1), optimizers.Adam(0.1)], ids=["SGD", "Adam"])
def test_tree_update_under_jit_gives_the_eager_result(optimizer):
    slots = optimizer.tree_init(INITIAL)
    grads = GRAD(INITIAL)
    eager, eager_slots = optimizer.tree_update(3, grads, INITIAL, slots, optimizer.opt_params)
    jitted, jitted_slots = jax.jit(optimizer.tree_update)(
        jnp.asarray(3, jnp.int32), grads, INITIAL, slots, optimizer.opt_params)
    _assert_trees_close(jitted, eager)
    _assert_trees_close(jitted_slots, eager_slots)
