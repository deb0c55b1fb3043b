"""Loss and metric layers: (model_output, targets, weights) -> a weighted mean over the batch."""
import math

import jax
import numpy as np
import pytest

from course_lib import layers as tl

PROBS = np.array([[0.8, 0.2], [0.4, 0.6], [0.1, 0.9]], np.float32)
LOG_PROBS = np.log(PROBS)
TARGETS = np.array([0, 0, 1], np.int32)


@pytest.mark.parametrize("make", [tl.CrossEntropyLoss, tl.WeightedCategoryCrossEntropy,
                                  tl.Accuracy, tl.WeightedCategoryAccuracy])
def test_metrics_take_three_inputs_and_give_a_scalar(make):
    layer = make()
    assert (layer.n_in, layer.n_out) == (3, 1)
    assert layer.name == make.__name__
    assert np.shape(layer((LOG_PROBS, TARGETS, np.ones(3, np.float32)))) == ()


def test_cross_entropy_loss_is_the_mean_negative_log_probability_of_the_targets():
    loss = tl.CrossEntropyLoss()((LOG_PROBS, TARGETS, np.ones(3, np.float32)))
    expected = -(math.log(0.8) + math.log(0.4) + math.log(0.9)) / 3
    np.testing.assert_allclose(loss, expected, rtol=1e-6)


def test_cross_entropy_loss_weights_examples_and_ignores_weight_zero():
    loss = tl.CrossEntropyLoss()((LOG_PROBS, TARGETS, np.array([1.0, 2.0, 0.0], np.float32)))
    expected = -(1 * math.log(0.8) + 2 * math.log(0.4)) / (1 + 2)
    np.testing.assert_allclose(loss, expected, rtol=1e-6)


def test_cross_entropy_loss_with_three_classes():
    probs = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1], [0.25, 0.5, 0.25], [0.1, 0.1, 0.8]])
    targets = np.array([2, 1, 0, 2], np.int32)
    weights = np.array([0.5, 1.0, 0.0, 1.5], np.float32)
    loss = tl.CrossEntropyLoss()((np.log(probs).astype(np.float32), targets, weights))
    expected = -(0.5 * math.log(0.5) + 1.0 * math.log(0.3) + 1.5 * math.log(0.8)) / 3.0
    np.testing.assert_allclose(loss, expected, rtol=1e-6)


LOGITS = np.array([[2.0, 0.0], [0.0, 1.0], [-1.0, 3.0]], np.float32)


def test_weighted_category_cross_entropy_applies_log_softmax_to_logits():
    weights = np.array([3.0, 1.0, 0.0], np.float32)
    loss = tl.WeightedCategoryCrossEntropy()((LOGITS, TARGETS, weights))
    # -log softmax(z)[t] = log(sum_j exp(z_j)) - z_t
    nll = [math.log(math.exp(2) + 1) - 2, math.log(1 + math.e) - 0, math.log(math.exp(-1) + math.exp(3)) - 3]
    expected = (3 * nll[0] + 1 * nll[1] + 0 * nll[2]) / 4
    np.testing.assert_allclose(loss, expected, rtol=1e-6)


def test_weighted_category_cross_entropy_on_logits_equals_cross_entropy_on_log_softmax():
    weights = np.array([0.5, 2.0, 1.0], np.float32)
    on_logits = tl.WeightedCategoryCrossEntropy()((LOGITS, TARGETS, weights))
    on_log_probs = tl.CrossEntropyLoss()((jax.nn.log_softmax(LOGITS), TARGETS, weights))
    np.testing.assert_allclose(on_logits, on_log_probs, rtol=1e-6)


def test_weighted_category_cross_entropy_leaves_log_probabilities_unchanged():
    weights = np.array([1.0, 2.0, 0.0], np.float32)
    np.testing.assert_allclose(tl.WeightedCategoryCrossEntropy()((LOG_PROBS, TARGETS, weights)),
                               tl.CrossEntropyLoss()((LOG_PROBS, TARGETS, weights)), rtol=1e-6)


@pytest.mark.parametrize("make", [tl.Accuracy, tl.WeightedCategoryAccuracy])
def test_accuracy_is_the_fraction_of_argmax_predictions_equal_to_the_target(make):
    # argmax of PROBS: [0, 1, 1] against targets [0, 0, 1]: right, wrong, right
    np.testing.assert_allclose(make()((PROBS, TARGETS, np.ones(3, np.float32))), 2 / 3, rtol=1e-6)


@pytest.mark.parametrize("make", [tl.Accuracy, tl.WeightedCategoryAccuracy])
def test_accuracy_weights_examples_and_ignores_weight_zero(make):
    layer = make()
    np.testing.assert_allclose(layer((PROBS, TARGETS, np.array([1.0, 2.0, 0.0], np.float32))), 1 / 3,
                               rtol=1e-6)
    np.testing.assert_allclose(layer((PROBS, TARGETS, np.array([1.0, 0.0, 1.0], np.float32))), 1.0,
                               rtol=1e-6)
    np.testing.assert_allclose(layer((PROBS, TARGETS, np.array([0.0, 4.0, 0.0], np.float32))), 0.0,
                               atol=1e-7)


def test_accuracy_is_the_same_on_logits_and_on_log_probabilities():
    weights = np.array([1.0, 1.0, 1.0], np.float32)
    # argmax of LOGITS: [0, 1, 1], as of their log-softmax
    np.testing.assert_allclose(tl.Accuracy()((LOGITS, TARGETS, weights)), 2 / 3, rtol=1e-6)
    np.testing.assert_allclose(tl.Accuracy()((jax.nn.log_softmax(LOGITS), TARGETS, weights)), 2 / 3,
                               rtol=1e-6)


def test_a_loss_after_the_model_in_serial_reads_targets_and_weights_from_the_stack():
    model = tl.Serial(tl.LogSoftmax(), tl.CrossEntropyLoss())
    assert (model.n_in, model.n_out) == (3, 1)
    weights = np.array([1.0, 1.0, 2.0], np.float32)
    np.testing.assert_allclose(model((LOGITS, TARGETS, weights)),
                               tl.WeightedCategoryCrossEntropy()((LOGITS, TARGETS, weights)), rtol=1e-6)
