"""Metric values over training steps, to print and to plot (Trax's `History`)."""
from __future__ import annotations


class History:
    """Values of metrics per mode ('train', 'eval') and step.

        history.get('eval', 'metrics/Accuracy')   # [(10, 0.91), (20, 0.97), ...]
    """

    def __init__(self):
        self._values: dict[str, dict[str, list[tuple[int, float]]]] = {}

    def append(self, mode: str, metric: str, step: int, value: float) -> None:
        self._values.setdefault(mode, {}).setdefault(metric, []).append((int(step), float(value)))

    def get(self, mode: str, metric: str) -> list[tuple[int, float]]:
        """`[(step, value), ...]` in step order; empty if never recorded."""
        return list(self._values.get(mode, {}).get(metric, []))

    @property
    def modes(self) -> list[str]:
        return sorted(self._values)

    def metrics_for_mode(self, mode: str) -> list[str]:
        return sorted(self._values.get(mode, {}))

    def to_dict(self) -> dict:
        return {mode: {metric: [list(p) for p in points] for metric, points in metrics.items()}
                for mode, metrics in self._values.items()}

    @classmethod
    def from_dict(cls, values: dict) -> "History":
        history = cls()
        for mode, metrics in values.items():
            for metric, points in metrics.items():
                for step, value in points:
                    history.append(mode, metric, step, value)
        return history

    def plot(self, metrics=None, axes=None):
        """Plots each metric against the step, train and eval on the same axes.

        Args:
          metrics: metric names such as 'metrics/Accuracy'; all recorded ones by default.
          axes: matplotlib axes, one per metric; new ones by default.

        Returns:
          The matplotlib figure.

        Raises:
          ValueError: nothing has been recorded yet (train first).
        """
        import matplotlib.pyplot as plt

        names = metrics or sorted({m for mode in self.modes for m in self.metrics_for_mode(mode)})
        if not names:
            raise ValueError("The history is empty: run the training loop before plotting it.")
        if axes is None:
            fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.5), squeeze=False)
            axes = axes[0]
        for ax, name in zip(axes, names):
            for mode in self.modes:
                points = self.get(mode, name)
                if points:
                    steps, values = zip(*points)
                    ax.plot(steps, values, marker="o", markersize=3, label=mode)
            ax.set_xlabel("step")
            ax.set_title(name.removeprefix("metrics/"))
            ax.legend()
        return axes[0].figure
