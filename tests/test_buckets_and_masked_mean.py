"""Bucketed padding (`data.pad_to_buckets`, `padded_batches(buckets=...)`) and `tl.MaskedMean`."""
import numpy as np
import pytest

from course_lib import data, shapes
from course_lib import layers as tl


def test_masked_mean_averages_only_the_non_padding_rows():
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(3, 5, 4)).astype(np.float32)
    ids = np.array([[4, 7, 0, 0, 0], [9, 9, 9, 9, 9], [0, 0, 0, 0, 0]], dtype=np.int32)
    out = np.asarray(tl.MaskedMean()((embeddings, ids)))
    np.testing.assert_allclose(out[0], embeddings[0, :2].mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(out[1], embeddings[1].mean(axis=0), rtol=1e-6)
    np.testing.assert_array_equal(out[2], np.zeros(4))   # all padding: zeros, not NaN


def test_a_model_with_masked_mean_predicts_the_same_whatever_the_padding():
    model = tl.Serial(tl.Branch(tl.Embedding(20, 6), None), tl.MaskedMean(), tl.Dense(2),
                      tl.LogSoftmax())
    short = np.array([[3, 5, 7, 0], [11, 2, 0, 0]], dtype=np.int32)
    model.init(shapes.signature(short))
    long = np.zeros((2, 16), dtype=np.int32)
    long[:, :4] = short
    np.testing.assert_allclose(model(short), model(long), rtol=1e-6, atol=1e-7)
    unmasked = tl.Serial(tl.Embedding(20, 6), tl.Mean(axis=1), tl.Dense(2), tl.LogSoftmax())
    unmasked.init(shapes.signature(short))
    assert not np.allclose(unmasked(short), unmasked(long))   # the plain mean does depend on it


def test_pad_to_buckets_pads_each_batch_to_the_smallest_bucket_that_holds_it():
    batches = [(np.ones((2, n), np.int32), np.array([0, 1]), np.ones(2, np.float32))
               for n in (1, 4, 5, 9, 16, 30)]
    out = list(data.pad_to_buckets(batches, buckets=(4, 8, 16)))
    assert [x.shape[1] for x, _, _ in out] == [4, 4, 8, 16, 16, 16]
    for (x, y, w), (x0, y0, w0) in zip(out, batches):
        n = min(x0.shape[1], 16)
        assert x.dtype == np.int32 and (x[:, :n] == 1).all() and (x[:, n:] == 0).all()
        assert y is y0 and w is w0


@pytest.mark.parametrize("buckets", [(), (8, 4), (0, 4), (4, 4.5)])
def test_pad_to_buckets_rejects_buckets_that_are_not_increasing_positive_ints(buckets):
    with pytest.raises(ValueError, match="increasing positive ints"):
        data.pad_to_buckets([], buckets=buckets)


def test_padded_batches_with_buckets_give_only_bucket_lengths_and_keep_every_id():
    rng = np.random.default_rng(1)
    ids = [list(rng.integers(1, 50, size=n)) for n in rng.integers(1, 40, size=101)]
    labels = list(rng.integers(0, 2, size=101))
    batches = list(data.padded_batches(ids, labels, 8, shuffle=True, seed=2, buckets=(8, 16, 32)))
    assert {x.shape[1] for x, _, _ in batches} <= {8, 16, 32}
    kept = sorted(int(v) for x, _, _ in batches for v in x[x != 0])
    assert kept == sorted(int(v) for row in ids for v in row[:32])
    for x, _, _ in batches:   # the smallest bucket: the next one down would not hold the batch
        longest = int((x != 0).sum(axis=1).max())
        assert x.shape[1] == min(b for b in (8, 16, 32) if b >= min(longest, 32))
    with pytest.raises(ValueError, match="not both"):
        data.padded_batches(ids, labels, 8, max_len=10, buckets=(8,))
