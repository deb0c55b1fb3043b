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


# Wire data: what crosses between a probe (in the learner's kernel) and the judge (in the grader).

import json  # noqa: E402


from course_lib.testing import MAX_DEPTH, ProbeFailed, WireError, decode, encode, probe  # noqa: E402


def round_trip(value):
    return decode(json.dumps(encode(value)))


@pytest.mark.parametrize("array", [np.arange(6, dtype=np.int32).reshape(2, 3), np.array(2.5, dtype=np.float32),
                                   np.array([True, False]), np.zeros((0, 4), dtype=np.float64),
                                   np.array([np.nan, np.inf, -1.0], dtype=np.float32)])
def test_arrays_cross_with_their_shape_dtype_and_values(array):
    got = round_trip({"a": array})["a"]
    assert got.shape == array.shape and got.dtype == array.dtype
    np.testing.assert_array_equal(got, array)


def test_jax_arrays_and_numpy_scalars_arrive_as_numpy_and_bfloat16_as_float32():
    got = round_trip([jnp.ones((2, 2)), np.float64(1.5), jnp.asarray([1.0], dtype=jnp.bfloat16), (1, "a", None)])
    assert type(got[0]) is np.ndarray and got[0].shape == (2, 2)
    assert float(got[1]) == 1.5
    assert got[2].dtype == np.float32 and got[2][0] == 1.0
    assert got[3] == [1, "a", None]


def test_python_floats_that_json_lacks_cross_too():
    got = round_trip([float("nan"), float("inf"), -float("inf")])
    assert np.isnan(got[0]) and got[1:] == [float("inf"), -float("inf")]


@pytest.mark.parametrize("value", [object(), {1: "a"}, np.array(["x"], dtype=object), {"__ndarray__": 1}])
def test_what_is_not_wire_data_is_refused_with_its_type(value):
    with pytest.raises(NotPlainData):
        encode(value)


@pytest.mark.parametrize("text, phrase", [
    ("[" * 1000 + "]" * 1000, "nested deeper"),
    ("x" * 100, "not valid JSON"),
    ('{"__ndarray__": ["float32", [3], "AAAA"]}', "malformed array"),
    ('{"__ndarray__": ["object", [1], ""]}', "malformed array"),
    ('{"__float__": "1e999"}', "not a float"),
])
def test_malformed_or_hostile_wire_documents_are_refused(text, phrase):
    with pytest.raises(WireError, match=phrase):
        decode(text)


def test_a_wire_document_over_its_size_is_refused_before_it_is_parsed():
    with pytest.raises(WireError, match="more than the limit"):
        decode("[" + "1," * 1000 + "1]", max_bytes=100)
    assert len(decode("[" + "[" * (MAX_DEPTH - 1) + "]" * MAX_DEPTH)) == 1


def test_a_probe_works_on_copies_and_reports_its_failures_as_the_grader_does():
    @probe
    def overwrite(x):
        x[0] = 99.0
        return x

    original = np.zeros(3)
    assert overwrite(original)[0] == 99.0 and original[0] == 0.0     # the caller's array is untouched

    @probe
    def returns_an_object():
        return object()

    @probe
    def raises():
        raise KeyError("<unk>")

    with pytest.raises(ProbeFailed) as failure:
        returns_an_object()
    assert failure.value.ename == "NotPlainData"
    with pytest.raises(ProbeFailed) as failure:
        raises()
    assert (failure.value.probe, failure.value.ename, failure.value.evalue) == ("raises", "KeyError", "'<unk>'")
