"""What to train on and how (`TrainTask`), and what to measure (`EvalTask`)."""
from __future__ import annotations

from course_lib.layers.base import Layer
from course_lib.optimizers import Optimizer


class TrainTask:
    """Training data, the loss to minimize and the optimizer that minimizes it (Trax's `TrainTask`).

    Args:
      labeled_data: an iterator of batches `(inputs, targets, weights)`, e.g.
        `(int32[batch, seq_len], int32[batch], float32[batch])`. It must not run
        out before training ends: use a generator that loops.
      loss_layer: a layer taking `(model_output, targets, weights)` to a scalar,
        e.g. `tl.CrossEntropyLoss()`.
      optimizer: e.g. `optimizers.Adam(0.01)`.
      n_steps_per_checkpoint: how often (in steps) the loop evaluates, reports and
        saves a checkpoint.
    """

    def __init__(self, labeled_data, loss_layer: Layer, optimizer: Optimizer,
                 n_steps_per_checkpoint: int = 100):
        if not isinstance(loss_layer, Layer):
            raise TypeError(f"TrainTask: loss_layer must be a layer such as tl.CrossEntropyLoss(); "
                            f"got {type(loss_layer).__name__}.")
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"TrainTask: optimizer must be an Optimizer such as "
                            f"optimizers.Adam(0.01); got {type(optimizer).__name__}.")
        self.labeled_data = iter(labeled_data)
        self.loss_layer = loss_layer
        self.optimizer = optimizer
        self.n_steps_per_checkpoint = int(n_steps_per_checkpoint)
        self._n_batches = 0

    @property
    def loss_name(self) -> str:
        return self.loss_layer.name

    def next_batch(self) -> tuple:
        """The next batch of `labeled_data`, as a tuple.

        Raises:
          RuntimeError: the data ran out (a generator made with loop=False, say).
        """
        self._n_batches += 1
        return _next_batch(self.labeled_data, self._n_batches, "TrainTask")


class EvalTask:
    """Evaluation data and the metrics to compute on it (Trax's `EvalTask`).

    Args:
      labeled_data: an iterator of batches `(inputs, targets, weights)`.
      metrics: layers taking `(model_output, targets, weights)` to a scalar, e.g.
        `[tl.CrossEntropyLoss(), tl.Accuracy()]`.
      metric_names: names to report them under; the layers' names by default.
      n_eval_batches: how many batches each evaluation averages over.
    """

    def __init__(self, labeled_data, metrics, metric_names=None, n_eval_batches: int = 1):
        self.labeled_data = iter(labeled_data)
        self.metrics = list(metrics)
        self.metric_names = list(metric_names or [m.name for m in self.metrics])
        if len(self.metric_names) != len(self.metrics):
            raise ValueError(f"EvalTask: {len(self.metrics)} metrics but "
                             f"{len(self.metric_names)} metric_names.")
        self.n_eval_batches = int(n_eval_batches)
        self._n_batches = 0

    def next_batch(self) -> tuple:
        """The next batch of `labeled_data`, as a tuple (see `TrainTask.next_batch`)."""
        self._n_batches += 1
        return _next_batch(self.labeled_data, self._n_batches, "EvalTask")


def _next_batch(iterator, number, who):
    try:
        batch = next(iterator)
    except StopIteration:
        raise RuntimeError(
            f"{who}: labeled_data ran out after {number - 1} batches. Training draws batches "
            "for as long as it runs: give it a generator that loops forever (e.g. loop=True)."
        ) from None
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        raise ValueError(f"{who}: each batch must be a tuple (inputs, targets, weights); "
                         f"got {type(batch).__name__}.")
    return tuple(batch)
