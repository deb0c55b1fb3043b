"""Data parallelism: Loop(..., n_devices=8) trains as Loop(..., n_devices=1) does.

JAX fixes its device count when it starts, so the 8 devices (XLA's host-platform
devices, on the CPU) live in a subprocess, which prints its results as JSON.
"""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

SCRIPT = textwrap.dedent("""
    import itertools, json
    import jax
    import numpy as np
    from course_lib import layers as tl, optimizers, training

    assert len(jax.local_devices()) == 8, jax.local_devices()

    rng = np.random.default_rng(0)
    batches = []
    for _ in range(5):
        x = rng.integers(0, 20, size=(16, 6)).astype(np.int32)
        y = (x.sum(axis=1) > 57).astype(np.int32)
        w = rng.uniform(0.5, 1.5, size=16).astype(np.float32)
        batches.append((x, y, w))

    def train(n_devices):
        model = tl.Serial(tl.Embedding(20, 4), tl.Mean(axis=1), tl.Dense(2), tl.LogSoftmax())
        task = training.TrainTask(itertools.cycle(batches), tl.CrossEntropyLoss(),
                                  optimizers.Adam(0.05), n_steps_per_checkpoint=10)
        eval_task = training.EvalTask(itertools.cycle(batches[:1]), [tl.Accuracy()])
        loop = training.Loop(model, task, eval_tasks=[eval_task], random_seed=3, n_devices=n_devices)
        loop.run(20)
        return {
            "weights": [np.asarray(a).tolist() for a in jax.tree_util.tree_leaves(model.weights)],
            "accuracy": loop.history.get("eval", "metrics/Accuracy"),
            "train_loss": loop.history.get("train", "metrics/CrossEntropyLoss"),
        }

    one, eight = train(1), train(8)

    odd = ((batches[0][0][:12], batches[0][1][:12], batches[0][2][:12]),)
    try:
        training.Loop(tl.Serial(tl.Embedding(20, 4), tl.Mean(axis=1), tl.Dense(2), tl.LogSoftmax()),
                      training.TrainTask(itertools.cycle(odd), tl.CrossEntropyLoss(), optimizers.SGD()),
                      n_devices=8).run(1)
        error = None
    except ValueError as e:
        error = str(e)

    print("RESULT " + json.dumps({"one": one, "eight": eight, "error": error}))
""")


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    script = tmp_path_factory.mktemp("data_parallel") / "train_on_8_devices.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8", JAX_PLATFORMS="cpu")
    completed = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                               text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-4000:]
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    assert len(lines) == 1, completed.stdout[-4000:]
    return json.loads(lines[0][len("RESULT "):])


def test_training_on_8_devices_gives_the_weights_of_training_on_1(result):
    one, eight = result["one"]["weights"], result["eight"]["weights"]
    assert [np.shape(a) for a in one] == [np.shape(b) for b in eight] == [(20, 4), (4, 2), (2,)]
    for a, b in zip(one, eight):
        np.testing.assert_allclose(np.array(b), np.array(a), rtol=1e-4, atol=1e-5)


def test_training_on_8_devices_reports_the_metrics_of_training_on_1(result):
    for key in ("accuracy", "train_loss"):
        one, eight = result["one"][key], result["eight"][key]
        assert [s for s, _ in one] == [s for s, _ in eight] == [1, 10, 20]
        np.testing.assert_allclose([v for _, v in eight], [v for _, v in one], rtol=1e-4, atol=1e-5)


def test_the_compared_runs_actually_trained(result):
    # Guards the comparisons above: they compare trained models, not two untouched initializations.
    first_loss, last_loss = result["one"]["train_loss"][0][1], result["one"]["train_loss"][-1][1]
    assert last_loss < first_loss


def test_a_batch_size_not_divisible_by_the_device_count_raises_value_error(result):
    error = result["error"]
    assert error is not None, "a batch of 12 over 8 devices did not raise ValueError"
    assert "12" in error and "8 devices" in error
