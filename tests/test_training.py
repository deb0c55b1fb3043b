"""training.Loop, TrainTask, EvalTask and History on a tiny classifier and a few batches."""
import itertools
import shutil

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import matplotlib.figure  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

from course_lib import layers as tl  # noqa: E402
from course_lib import optimizers, shapes, training  # noqa: E402
from course_lib.fastmath import random  # noqa: E402

BATCH_SIZE, D_IN = 8, 3


def make_batches(n, seed=0):
    """n batches (x: float32[8, 3], y: int32[8], w: float32[8]); the class is 1 where x0 + x1 > 0."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(n):
        x = rng.normal(size=(BATCH_SIZE, D_IN)).astype(np.float32)
        y = (x[:, 0] + x[:, 1] > 0).astype(np.int32)
        w = np.ones(BATCH_SIZE, np.float32)
        batches.append((x, y, w))
    return batches


TRAIN = make_batches(12, seed=0)
EVAL = make_batches(2, seed=1)


def make_model():
    return tl.Serial(tl.Dense(2), tl.LogSoftmax())


def make_loop(model=None, train=None, optimizer=None, every=3, output_dir=None, eval_batches=None,
              n_eval_batches=1, **kwargs):
    train_task = training.TrainTask(
        labeled_data=itertools.cycle(TRAIN) if train is None else train,
        loss_layer=tl.CrossEntropyLoss(),
        optimizer=optimizer or optimizers.Adam(0.05),
        n_steps_per_checkpoint=every)
    eval_task = training.EvalTask(
        labeled_data=itertools.cycle(eval_batches or EVAL[:1]),
        metrics=[tl.CrossEntropyLoss(), tl.Accuracy()],
        n_eval_batches=n_eval_batches)
    return training.Loop(model or make_model(), train_task, eval_tasks=[eval_task],
                         output_dir=output_dir, **kwargs)


def nll_by_hand(weights, batch):
    """The weighted mean cross-entropy of Serial(Dense(2), LogSoftmax()), in numpy."""
    (w, b), _ = weights
    x, y, mask = batch
    z = x @ np.asarray(w) + np.asarray(b)
    log_probs = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return float(np.sum(-log_probs[np.arange(len(y)), y] * mask) / np.sum(mask))


def accuracy_by_hand(weights, batch):
    (w, b), _ = weights
    x, y, mask = batch
    correct = np.argmax(x @ np.asarray(w) + np.asarray(b), axis=1) == y
    return float(np.sum(correct * mask) / np.sum(mask))


def leaves(tree):
    return [np.asarray(a) for a in jax.tree_util.tree_leaves(tree)]


# -- training ------------------------------------------------------------------------------


def test_loop_trains_the_model_so_the_eval_loss_decreases_and_it_beats_any_constant_guess():
    loop = make_loop(every=10)
    loop.run(30)
    losses = [value for _, value in loop.history.get("eval", "metrics/CrossEntropyLoss")]
    assert len(losses) == 4                    # steps 1, 10, 20, 30
    # The labels are linear in x, so Dense(2) can learn them: trained, the model must do better on
    # the eval batch than the best input-blind prediction, whose cross-entropy is the entropy of the
    # batch's labels and whose accuracy is the share of its majority class.
    _, y, _ = EVAL[0]
    p = float(np.mean(y))
    constant_loss = -(p * np.log(p) + (1 - p) * np.log(1 - p))
    assert losses[-1] < min(losses[0], constant_loss)
    assert loop.history.get("eval", "metrics/Accuracy")[-1][1] > max(p, 1 - p)


def test_loop_steps_are_sgd_steps_on_the_loss_gradient_and_the_model_gets_the_trained_weights():
    model = make_model()
    model.init(shapes.ShapeDtype((BATCH_SIZE, D_IN)), rng=random.get_prng(5))
    held = model.weights                                   # arrays the user holds before training
    held_copy = leaves(held)
    loop = make_loop(model=model, optimizer=optimizers.SGD(0.5), every=100)
    loop.run(4)

    # The same 4 steps by hand: w <- w - 0.5 * dL/dw, with jax.grad of a loss written in jnp.
    def loss(params, batch):
        (w, b) = params
        x, y, mask = batch
        log_probs = jax.nn.log_softmax(x @ w + b)
        return jnp.sum(-log_probs[jnp.arange(len(y)), y] * mask) / jnp.sum(mask)

    params = tuple(jnp.asarray(a) for a in held_copy)
    for batch in TRAIN[:4]:
        grads = jax.grad(loss)(params, batch)
        params = tuple(p - 0.5 * g for p, g in zip(params, grads))

    trained = leaves(model.weights)
    np.testing.assert_allclose(trained[0], params[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(trained[1], params[1], rtol=1e-5, atol=1e-6)
    assert not np.allclose(trained[0], held_copy[0])
    # Buffers are donated only from the loop's own copies: what the user held is still readable.
    for before, copy in zip(leaves(held), held_copy):
        np.testing.assert_array_equal(before, copy)


def test_loop_initializes_an_uninitialized_model_from_the_first_batch():
    model = make_model()
    loop = make_loop(model=model)
    (w, b), _ = model.weights
    assert w.shape == (D_IN, 2) and b.shape == (2,)
    assert loop.step == 0


def test_steps_accumulate_across_run_calls():
    loop = make_loop(every=100)
    loop.run(3)
    assert loop.step == 3
    loop.run(2)
    assert loop.step == 5


def test_eval_runs_at_step_1_and_every_n_steps_per_checkpoint_across_runs():
    loop = make_loop(every=3)
    loop.run(7)
    assert [s for s, _ in loop.history.get("eval", "metrics/Accuracy")] == [1, 3, 6]
    loop.run(5)
    assert [s for s, _ in loop.history.get("eval", "metrics/Accuracy")] == [1, 3, 6, 9, 12]
    assert [s for s, _ in loop.history.get("eval", "metrics/CrossEntropyLoss")] == [1, 3, 6, 9, 12]
    assert [s for s, _ in loop.history.get("train", "metrics/CrossEntropyLoss")] == [1, 3, 6, 9, 12]
    assert loop.history.modes == ["eval", "train"]


def test_reported_train_loss_is_the_mean_since_the_last_report_and_eval_metrics_are_exact():
    # With learning rate 0 the weights never change, so every value can be computed by hand.
    model = make_model()
    weights, _ = model.init(shapes.ShapeDtype((BATCH_SIZE, D_IN)), rng=random.get_prng(3))
    weights = jax.tree_util.tree_map(np.asarray, weights)
    loop = make_loop(model=model, optimizer=optimizers.SGD(0.0), every=3,
                     eval_batches=EVAL, n_eval_batches=2)
    loop.run(6)
    nll = [nll_by_hand(weights, batch) for batch in TRAIN[:6]]
    train = loop.history.get("train", "metrics/CrossEntropyLoss")
    assert [s for s, _ in train] == [1, 3, 6]
    np.testing.assert_allclose([v for _, v in train],
                               [nll[0], (nll[1] + nll[2]) / 2, (nll[3] + nll[4] + nll[5]) / 3],
                               rtol=1e-5)
    eval_accuracy = loop.history.get("eval", "metrics/Accuracy")
    expected = (accuracy_by_hand(weights, EVAL[0]) + accuracy_by_hand(weights, EVAL[1])) / 2
    np.testing.assert_allclose(eval_accuracy[0][1], expected, rtol=1e-6)
    eval_loss = loop.history.get("eval", "metrics/CrossEntropyLoss")
    np.testing.assert_allclose(eval_loss[0][1],
                               (nll_by_hand(weights, EVAL[0]) + nll_by_hand(weights, EVAL[1])) / 2,
                               rtol=1e-5)


def test_loop_shows_a_progress_bar_and_logs_the_steps(capsys):
    loop = make_loop(every=2)
    loop.run(2)
    out, err = capsys.readouterr()
    assert "Training" in err and "2/2" in err          # tqdm's bar
    assert "Step      1" in out and "Step      2" in out
    assert "Total number of trainable weights: 8" in out    # 3 * 2 + 2


# -- checkpoints ---------------------------------------------------------------------------


def test_run_writes_a_checkpoint_in_output_dir(tmp_path):
    output_dir = tmp_path / "model"
    loop = make_loop(every=100, output_dir=output_dir)
    assert loop.checkpoint_path == output_dir / "checkpoint.npz"
    loop.run(2)
    assert (output_dir / "checkpoint.npz").is_file()
    assert make_loop(every=100).checkpoint_path is None


def test_a_new_loop_on_the_same_output_dir_resumes_and_trains_as_an_uninterrupted_run(tmp_path):
    uninterrupted = make_loop(every=2, output_dir=tmp_path / "a")
    uninterrupted.run(6)

    first = make_loop(every=2, output_dir=tmp_path / "b")
    first.run(3)
    saved = leaves(first.model.weights)

    resumed = make_loop(model=make_model(), train=iter(TRAIN[3:]), every=2, output_dir=tmp_path / "b")
    assert resumed.step == 3
    for a, b in zip(leaves(resumed.model.weights), saved):
        np.testing.assert_array_equal(a, b)
    assert [s for s, _ in resumed.history.get("eval", "metrics/Accuracy")] == [1, 2]

    resumed.run(3)
    assert resumed.step == 6
    for a, b in zip(leaves(resumed.model.weights), leaves(uninterrupted.model.weights)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    for metric in ("metrics/CrossEntropyLoss", "metrics/Accuracy"):
        got = resumed.history.get("eval", metric)
        want = uninterrupted.history.get("eval", metric)
        assert [s for s, _ in got] == [s for s, _ in want] == [1, 2, 4, 6]
        np.testing.assert_allclose([v for _, v in got], [v for _, v in want], rtol=1e-5)


def test_deleting_output_dir_starts_fresh(tmp_path):
    output_dir = tmp_path / "model"
    make_loop(every=100, output_dir=output_dir).run(3)
    shutil.rmtree(output_dir)
    fresh = make_loop(every=100, output_dir=output_dir)
    assert fresh.step == 0
    assert fresh.history.modes == []


def test_a_checkpoint_from_another_model_raises_a_clear_value_error(tmp_path):
    output_dir = tmp_path / "model"
    make_loop(every=100, output_dir=output_dir).run(1)
    other = tl.Serial(tl.Dense(4), tl.Relu(), tl.Dense(2), tl.LogSoftmax())
    with pytest.raises(ValueError) as info:
        make_loop(model=other, every=100, output_dir=output_dir)
    message = str(info.value)
    assert "another model" in message
    assert str(output_dir / "checkpoint.npz") in message


# -- seeds, data, devices ------------------------------------------------------------------


def test_the_same_random_seed_gives_identical_weights_after_training():
    a = make_loop(random_seed=7, every=100)
    b = make_loop(random_seed=7, every=100)
    a.run(3)
    b.run(3)
    for x, y in zip(leaves(a.model.weights), leaves(b.model.weights)):
        np.testing.assert_array_equal(x, y)


def test_different_random_seeds_give_different_initial_weights():
    a = make_loop(random_seed=1)
    b = make_loop(random_seed=2)
    assert not np.allclose(leaves(a.model.weights)[0], leaves(b.model.weights)[0])


def test_running_out_of_training_data_raises_runtime_error_saying_so():
    loop = make_loop(train=iter(TRAIN[:2]), every=100)
    with pytest.raises(RuntimeError, match="ran out after 2 batches"):
        loop.run(5)


def test_empty_training_data_raises_runtime_error_when_the_loop_is_made():
    with pytest.raises(RuntimeError, match="ran out"):
        make_loop(train=iter([]))


def test_loop_needs_exactly_one_train_task():
    task = training.TrainTask(itertools.cycle(TRAIN), tl.CrossEntropyLoss(), optimizers.SGD())
    with pytest.raises(ValueError, match="exactly one TrainTask"):
        training.Loop(make_model(), [task, task])


def make_tasks(optimizer=None, every=3):
    train_task = training.TrainTask(itertools.cycle(TRAIN), tl.CrossEntropyLoss(),
                                    optimizer or optimizers.Adam(0.05), n_steps_per_checkpoint=every)
    eval_task = training.EvalTask(itertools.cycle(EVAL[:1]), [tl.CrossEntropyLoss(), tl.Accuracy()])
    return train_task, eval_task


def test_loop_takes_a_single_eval_task_as_trax_does():
    model = make_model()
    weights, _ = model.init(shapes.ShapeDtype((BATCH_SIZE, D_IN)), rng=random.get_prng(3))
    weights = jax.tree_util.tree_map(np.asarray, weights)
    train_task, eval_task = make_tasks(optimizer=optimizers.SGD(0.0))
    loop = training.Loop(model, train_task, eval_tasks=eval_task)
    loop.run(1)
    [(step, loss)] = loop.history.get("eval", "metrics/CrossEntropyLoss")
    assert step == 1
    np.testing.assert_allclose(loss, nll_by_hand(weights, EVAL[0]), rtol=1e-5)
    [(_, accuracy)] = loop.history.get("eval", "metrics/Accuracy")
    np.testing.assert_allclose(accuracy, accuracy_by_hand(weights, EVAL[0]), rtol=1e-6)


def test_traxs_old_eval_task_keyword_raises_type_error_saying_to_pass_eval_tasks():
    train_task, eval_task = make_tasks()
    with pytest.raises(TypeError) as info:
        training.Loop(make_model(), train_task, eval_task=eval_task)
    message = str(info.value)
    assert "eval_task" in message
    assert "eval_tasks=[eval_task]" in message


def test_an_unknown_keyword_raises_type_error_naming_it():
    train_task, _ = make_tasks()
    with pytest.raises(TypeError, match="unexpected keyword argument 'checkpoint_every'"):
        training.Loop(make_model(), train_task, checkpoint_every=5)


def test_each_training_step_runs_the_model_with_a_new_key_so_dropout_draws_a_new_mask():
    # Learning rate 0 and the same batch every step: the losses differ only through dropout.
    batch = TRAIN[0]

    def losses(rate, random_seed=0):
        model = tl.Serial(tl.Dropout(rate), tl.Dense(2), tl.LogSoftmax())
        task = training.TrainTask(itertools.repeat(batch), tl.CrossEntropyLoss(), optimizers.SGD(0.0),
                                  n_steps_per_checkpoint=1)
        loop = training.Loop(model, task, random_seed=random_seed)
        loop.run(4)
        return [v for _, v in loop.history.get("train", "metrics/CrossEntropyLoss")]

    without = losses(0.0)
    np.testing.assert_allclose(without, [without[0]] * 4, rtol=1e-6)
    with_dropout = losses(0.5)
    assert len(set(with_dropout)) == 4
    assert losses(0.5) == with_dropout                       # same seed, same masks
    assert losses(0.5, random_seed=1) != with_dropout


def test_an_eval_model_with_dropout_in_eval_mode_evaluates_without_dropping():
    model = tl.Serial(tl.Dropout(0.5), tl.Dense(2), tl.LogSoftmax())
    eval_model = tl.Serial(tl.Dropout(0.5, mode="eval"), tl.Dense(2), tl.LogSoftmax())
    train_task, eval_task = make_tasks(optimizer=optimizers.SGD(0.0))
    loop = training.Loop(model, train_task, eval_model=eval_model, eval_tasks=[eval_task])
    loop.run(1)
    weights = jax.tree_util.tree_map(np.asarray, loop.model.weights)
    [(_, loss)] = loop.history.get("eval", "metrics/CrossEntropyLoss")
    np.testing.assert_allclose(loss, nll_by_hand(weights[1:], EVAL[0]), rtol=1e-5)


def test_train_task_rejects_a_loss_or_optimizer_of_the_wrong_kind():
    with pytest.raises(TypeError, match="loss_layer"):
        training.TrainTask(TRAIN, tl.CrossEntropyLoss, optimizers.SGD())
    with pytest.raises(TypeError, match="optimizer"):
        training.TrainTask(TRAIN, tl.CrossEntropyLoss(), optimizers.SGD)


def test_more_devices_than_there_are_raises_value_error():
    n = len(jax.local_devices())
    with pytest.raises(ValueError, match=f"{n} local devices"):
        make_loop(n_devices=n + 1)


# -- History -------------------------------------------------------------------------------


def _history():
    history = training.History()
    history.append("train", "metrics/CrossEntropyLoss", 1, 0.7)
    history.append("train", "metrics/CrossEntropyLoss", 10, 0.4)
    history.append("eval", "metrics/CrossEntropyLoss", 1, 0.72)
    history.append("eval", "metrics/Accuracy", 1, 0.5)
    history.append("eval", "metrics/Accuracy", 10, 0.9)
    return history


def test_history_get_returns_step_value_pairs_and_empty_for_unknown_metrics():
    history = _history()
    assert history.get("eval", "metrics/Accuracy") == [(1, 0.5), (10, 0.9)]
    assert history.get("eval", "metrics/Nothing") == []
    assert history.get("test", "metrics/Accuracy") == []
    assert history.modes == ["eval", "train"]
    assert history.metrics_for_mode("eval") == ["metrics/Accuracy", "metrics/CrossEntropyLoss"]


def test_history_round_trips_through_to_dict_and_from_dict():
    history = _history()
    restored = training.History.from_dict(history.to_dict())
    assert restored.to_dict() == history.to_dict()
    for mode in history.modes:
        for metric in history.metrics_for_mode(mode):
            assert restored.get(mode, metric) == history.get(mode, metric)


def test_history_plot_returns_a_matplotlib_figure_with_one_axes_per_metric():
    figure = _history().plot()
    try:
        assert isinstance(figure, matplotlib.figure.Figure)
        titles = sorted(ax.get_title() for ax in figure.axes)
        assert titles == ["Accuracy", "CrossEntropyLoss"]
    finally:
        plt.close(figure)


def test_plotting_an_empty_history_says_to_train_first():
    with pytest.raises(ValueError, match="run the training loop"):
        training.History().plot()
