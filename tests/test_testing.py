"""course_lib.testing.plain: what test cells compare is plain data, which look-alikes cannot fake."""
import jax.numpy as jnp
import numpy as np
import pytest

from course_lib.testing import NotPlainData, plain


class AlwaysEqual:
    def __eq__(self, other):
        return True


class SneakyInt(int):
    def __eq__(self, other):
        return True


class SneakyStr(str):
    def __eq__(self, other):
        return True

    def __str__(self):
        return self


class SneakyFloat(float):
    def __eq__(self, other):
        return True


class SneakierInt(SneakyInt):
    def __int__(self):  # int() passes an int subclass through (deprecated, not refused)
        return SneakyInt(7)


class SneakierFloat(SneakyFloat):
    def __float__(self):
        return SneakyFloat(0.5)


def test_numbers_strings_and_lists_come_back_as_the_builtin_types():
    assert plain([1, 2.5, "a", None, True, (3, 4)]) == [1, 2.5, "a", None, True, [3, 4]]
    assert [type(v) for v in plain([np.int64(2), np.float32(0.5), np.bool_(True)])] == [int, float, bool]


def test_arrays_become_nested_lists_of_numbers():
    assert plain(np.arange(6).reshape(2, 3)) == [[0, 1, 2], [3, 4, 5]]
    assert plain(jnp.array([[0.5, 1.5]])) == [[0.5, 1.5]]


def test_subclasses_that_fake_equality_lose_their_trick():
    assert plain([SneakyInt(7)]) != [8]
    assert type(plain(SneakyInt(7))) is int and plain(SneakyInt(7)) == 7
    assert plain(SneakyStr("Serial[]")) != "something else"
    assert type(plain(SneakyStr("x"))) is str
    assert plain(SneakyFloat(0.5)) != 1.5 and type(plain(SneakyFloat(0.5))) is float


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_conversions_that_return_subclasses_still_give_the_builtin_types():
    assert type(plain(SneakierInt(7))) is int and plain(SneakierInt(7)) == 7
    assert type(plain(SneakierFloat(0.5))) is float and plain(SneakierFloat(0.5)) == 0.5


@pytest.mark.parametrize("value", [AlwaysEqual(), [AlwaysEqual()], np.array([AlwaysEqual()]), {"a": 1}])
def test_objects_that_are_not_data_are_refused(value):
    with pytest.raises(NotPlainData):
        plain(value)
