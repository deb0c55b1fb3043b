"""Layers and combinators with Trax's teaching API, pure JAX inside.

    from course_lib import layers as tl

    model = tl.Serial(
        tl.Embedding(vocab_size=9088, d_feature=256),   # int32[b, s] -> float32[b, s, 256]
        tl.Mean(axis=1),                                # -> float32[b, 256]
        tl.Dense(2),                                    # -> float32[b, 2]
        tl.LogSoftmax(),                                # -> float32[b, 2], log-probabilities
    )
    model.init(shapes.signature(x))
    log_probs = model(x)
"""
from course_lib.layers.base import EMPTY_STATE, EMPTY_WEIGHTS, Fn, Layer, LayerError
from course_lib.layers.combinators import (
    Add, Branch, Concatenate, Drop, Dup, Parallel, Residual, Select, Serial, Swap,
)
from course_lib.layers.core import (
    Dense, Dropout, Embedding, LogSoftmax, MaskedMean, Mean, Relu, Sigmoid, Softmax, Tanh,
)
from course_lib.layers.normalization import LayerNorm
from course_lib.layers.metrics import (
    Accuracy, CrossEntropyLoss, WeightedCategoryAccuracy, WeightedCategoryCrossEntropy,
)

__all__ = [
    "Layer", "LayerError", "Fn", "EMPTY_WEIGHTS", "EMPTY_STATE",
    "Serial", "Parallel", "Branch", "Select", "Residual", "Dup", "Drop", "Swap", "Add",
    "Concatenate",
    "Dense", "Embedding", "Mean", "MaskedMean", "Relu", "Sigmoid", "Tanh", "Softmax", "LogSoftmax",
    "Dropout", "LayerNorm",
    "CrossEntropyLoss", "WeightedCategoryCrossEntropy", "Accuracy", "WeightedCategoryAccuracy",
]
