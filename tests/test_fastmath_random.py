"""fastmath.random: JAX's numbers (jax.random is the oracle), compiled once per power-of-two size."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from course_lib.fastmath import random

SHAPES = [(), (1,), (3, 4), (5, 2, 3), (300, 7), (5000,)]


@pytest.mark.parametrize("shape", SHAPES)
def test_the_draws_are_jax_randoms_own_numbers_of_each_shape(shape):
    key = random.get_prng(7)
    pairs = [(random.normal(key, shape), jax.random.normal(key, shape)),
             (random.uniform(key, shape, minval=-1.0, maxval=2.0),
              jax.random.uniform(key, shape, minval=-1.0, maxval=2.0)),
             (random.truncated_normal(key, -2.0, 2.0, shape), jax.random.truncated_normal(key, -2.0, 2.0, shape)),
             (random.normal(key, shape, jnp.float16), jax.random.normal(key, shape, jnp.float16))]
    for ours, jaxs in pairs:
        assert ours.shape == jaxs.shape and ours.dtype == jaxs.dtype
        assert np.array_equal(np.asarray(ours), np.asarray(jaxs))


@pytest.mark.parametrize("num", [1, 2, 3, 17, 100])
def test_split_gives_jax_randoms_own_keys(num):
    key = random.get_prng(3)
    ours, jaxs = random.split(key, num), jax.random.split(key, num)
    assert ours.shape == jaxs.shape == (num, 2) and ours.dtype == jaxs.dtype
    assert np.array_equal(np.asarray(ours), np.asarray(jaxs))


def test_typed_keys_and_draws_inside_jit_are_jax_randoms_own():
    typed = jax.random.key(1)
    assert np.array_equal(random.normal(typed, (3, 5)), jax.random.normal(typed, (3, 5)))
    assert np.array_equal(jax.random.key_data(random.split(typed, 3)), jax.random.key_data(jax.random.split(typed, 3)))
    key = random.get_prng(2)
    assert np.array_equal(jax.jit(lambda k: random.normal(k, (4, 3)))(key), jax.random.normal(key, (4, 3)))


def test_draws_of_many_shapes_compile_once_per_size_class():
    compiled = []
    def listen(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            compiled.append(event)
    jax.monitoring.register_event_duration_secs_listener(listen)
    key = random.get_prng(11)
    random.normal(key, (1,)).block_until_ready()            # the size class <= SMALLEST_DRAW, compiled
    before = len(compiled)
    for shape in [(2, 3), (3, 4), (5, 7), (31, 32), (1000,)]:   # all in the same size class
        random.normal(key, shape).block_until_ready()
    assert len(compiled) == before, f"{len(compiled) - before} compilations for draws of one size class"


def test_a_concrete_key_drawn_from_inside_a_traced_function_gives_jax_randoms_numbers():
    key = random.get_prng(5)      # a constant of the traced function, not an argument
    assert np.array_equal(jax.jit(lambda x: x + random.normal(key, (3, 2)))(jnp.zeros((3, 2))),
                          jax.random.normal(key, (3, 2)))
    assert np.array_equal(jax.jit(lambda x: x + random.split(key, 3))(jnp.zeros((3, 2), jnp.uint32)),
                          jax.random.split(key, 3))
