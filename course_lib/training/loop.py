"""`Loop`: the training loop (Trax's `training.Loop`), one jit-compiled step at a time.

    loop = training.Loop(model, train_task, eval_tasks=[eval_task], output_dir='~/model')
    loop.run(n_steps=200)          # 200 more steps; evaluates and saves every n_steps_per_checkpoint
    loop.history.plot()            # loss and metrics against the step
    model(x)                       # the model now holds the trained weights

Each step is one call of a jit-compiled function that computes the loss and
its gradient (`jax.value_and_grad`) and applies the optimizer; the old weights'
buffers are donated to the new ones, so a step allocates no new weight memory.
The batch is split over all local devices along its first axis (data
parallelism with `jax.sharding`) and the weights are replicated, so the same
code trains on one CPU, a GPU or the 8 cores of a TPU.
"""
from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from tqdm.auto import tqdm

from course_lib import shapes
from course_lib.fastmath import random
from course_lib.fastmath.compiling import step_compiler_options
from course_lib.training import checkpoint
from course_lib.training.history import History
from course_lib.training.tasks import EvalTask, TrainTask


class Loop:
    """Trains `model` on a `TrainTask`, evaluating on `EvalTask`s (Trax's `training.Loop`).

    Args:
      model: the layer to train. If it has no weights yet, the loop initializes
        it from the first training batch with `random_seed`; if it has, training
        starts from its weights.
      tasks: a `TrainTask` (or a list holding one).
      eval_model: the layer to evaluate; `model` by default. It must have the
        same weights as `model`: the same architecture built with mode='eval', say,
        so that its `Dropout` layers pass values through.
      eval_tasks: a list of `EvalTask`s, or one `EvalTask` (taken as a list of one, as
        in Trax), run at step 1 and every `n_steps_per_checkpoint` steps.
      output_dir: where checkpoints go. If it holds a checkpoint, the loop resumes
        from it (weights, optimizer slots, step, history). To start fresh, pass a
        new directory or delete the old one (`shutil.rmtree(output_dir)`).
        None: no checkpoints.
      random_seed: seeds the weights' initialization and the PRNG keys of the training
        steps (step s runs the model with the key `fold_in(key, s)`, so `Dropout` drops
        other values each step). Same seed and data, same result.
      n_devices: how many local devices to split each batch over; all by default.

    Raises:
      TypeError: a keyword Loop does not take, such as Trax 1.3.1's `eval_task=` (the
        message says to pass `eval_tasks=[eval_task]`).
      ValueError: no single TrainTask, a batch size that the device count does not
        divide, or a checkpoint saved by another model.
    """

    def __init__(self, model, tasks, eval_model=None, eval_tasks=None, output_dir=None,
                 random_seed: int = 0, n_devices: int | None = None, **unexpected):
        _reject_unexpected_keywords(unexpected)
        tasks = list(tasks) if isinstance(tasks, (list, tuple)) else [tasks]
        if len(tasks) != 1 or not isinstance(tasks[0], TrainTask):
            raise ValueError(f"Loop trains with exactly one TrainTask; got {tasks!r}.")
        self._task = tasks[0]
        if eval_tasks is None:
            eval_tasks = []
        elif not isinstance(eval_tasks, (list, tuple)):
            eval_tasks = [eval_tasks]   # one EvalTask, as Trax accepts it
        self._eval_tasks = list(eval_tasks)
        for task in self._eval_tasks:
            if not isinstance(task, EvalTask):
                raise ValueError(f"eval_tasks must hold EvalTasks; got {type(task).__name__}.")
        self._model = model
        self._eval_model = eval_model if eval_model is not None else model
        self._output_dir = Path(output_dir).expanduser() if output_dir is not None else None
        self._step = 0
        self._saved_at_step = None
        self.history = History()

        devices = jax.local_devices()
        n_devices = len(devices) if n_devices is None else n_devices
        if not 1 <= n_devices <= len(devices):
            raise ValueError(f"n_devices={n_devices}, but there are {len(devices)} local devices.")
        mesh = Mesh(np.array(devices[:n_devices]), ("data",))
        self._replicated = NamedSharding(mesh, PartitionSpec())
        self._split_batch = NamedSharding(mesh, PartitionSpec("data"))
        self._n_devices = n_devices

        # The first batch gives the input signature; it is also the first one trained on.
        self._pending_batch = self._task.next_batch()
        if not model._is_initialized():
            # rng=None is get_prng(0), made inside the compiled init (no program of its own).
            model.init(shapes.signature(self._pending_batch[0]),
                       rng=random.get_prng(random_seed) if random_seed != 0 else None)
        optimizer = self._task.optimizer
        weights, slots = model.weights, _initial_slots(optimizer, model.weights)
        if self.checkpoint_path is not None and self.checkpoint_path.exists():
            weights, slots, self._step, history = checkpoint.load(
                self.checkpoint_path, weights, slots)
            self.history = History.from_dict(history)
            tqdm.write(f"Loaded checkpoint {self.checkpoint_path} at step {self._step}.")
        self._weights = self._replicate(weights)
        self._slots = self._replicate(slots)
        replicated, split = self._replicated, self._split_batch
        # XLA's defaults even where XLA_FLAGS asks for fast compiling, unless the model is tiny.
        options = step_compiler_options(_count_weights(weights))
        # Batches go in as NumPy arrays: jit splits them over the devices as it transfers them.
        # The hyperparameters are constants of the compiled step: XLA folds them into its arithmetic.
        self._train_step = jax.jit(_make_train_step(model, self._task.loss_layer, optimizer,
                                                    random_seed),
                                   donate_argnums=(0, 1, 2), out_shardings=replicated,
                                   in_shardings=(replicated, replicated, replicated, split),
                                   compiler_options=options)
        self._eval_steps = [jax.jit(_make_eval_step(self._eval_model, task.metrics),
                                    in_shardings=(replicated, split), out_shardings=replicated,
                                    compiler_options=options)
                            for task in self._eval_tasks]
        self._sync_model()

    # -- properties -----------------------------------------------------------------------

    @property
    def step(self) -> int:
        """How many training steps have been done (restored from a checkpoint included)."""
        return self._step

    @property
    def model(self):
        """The model, holding the current weights."""
        return self._model

    @property
    def eval_model(self):
        """The model used for evaluation, holding the current weights (Trax's `loop.eval_model`)."""
        return self._eval_model

    @property
    def output_dir(self) -> Path | None:
        return self._output_dir

    @property
    def checkpoint_path(self) -> Path | None:
        """`output_dir / 'checkpoint.npz'`, or None without an output_dir."""
        return self._output_dir / checkpoint.CHECKPOINT_NAME if self._output_dir else None

    # -- training ----------------------------------------------------------------------------

    def run(self, n_steps: int = 1) -> None:
        """Trains for `n_steps` more steps.

        At step 1 and every `n_steps_per_checkpoint` steps it reports the mean
        training loss since the last report, runs the eval tasks and saves a
        checkpoint; it saves one at the end too. A progress bar shows the steps.
        """
        every = self._task.n_steps_per_checkpoint
        # The model keeps its arrays; the loop trains on copies, whose buffers each step donates.
        self._weights = self._replicate(self._weights)
        step = _copy_to(np.int32(self._step), self._replicated)  # counted on the devices
        if self._step == 0:
            self._log(1, f"Total number of trainable weights: {_count_weights(self._weights)}")
        losses, started = [], time.perf_counter()
        with tqdm(total=n_steps, desc="Training", unit="step") as bar:
            for _ in range(n_steps):
                batch = self._next_train_batch()
                self._check(batch)
                self._weights, self._slots, step, loss = self._train_step(
                    self._weights, self._slots, step, batch)
                self._step += 1
                losses.append(loss)
                bar.update()
                if self._step == 1 or self._step % every == 0:
                    seconds = time.perf_counter() - started
                    self._log(self._step, f"Ran {len(losses)} train steps in {seconds:0.2f} secs")
                    train_loss = float(np.mean(jax.device_get(losses)))
                    self._record("train", self._task.loss_name, train_loss)
                    bar.set_postfix(loss=f"{train_loss:.4f}")
                    self.run_evals()
                    self.save_checkpoint()
                    losses, started = [], time.perf_counter()
        self.save_checkpoint()
        self._sync_model()

    def run_evals(self) -> dict[str, float]:
        """Runs every eval task on `n_eval_batches` batches; records and returns the mean metrics."""
        results = {}
        for task, eval_step in zip(self._eval_tasks, self._eval_steps):
            totals = np.zeros(len(task.metrics))
            for _ in range(task.n_eval_batches):
                batch = task.next_batch()
                self._check(batch)
                totals += np.asarray(jax.device_get(eval_step(self._weights, batch)))
            for name, total in zip(task.metric_names, totals):
                value = total / task.n_eval_batches
                self._record("eval", name, value)
                results[name] = value
        return results

    def save_checkpoint(self) -> None:
        """Saves weights, optimizer slots, step and history to `checkpoint_path` (if there is one)."""
        if self.checkpoint_path is not None and self._saved_at_step != self._step:
            self._saved_at_step = self._step
            checkpoint.save(self.checkpoint_path, self._weights, self._slots, self._step,
                            self.history.to_dict())

    # -- helpers -----------------------------------------------------------------------------

    def _next_train_batch(self):
        if self._pending_batch is not None:
            batch, self._pending_batch = self._pending_batch, None
            return batch
        return self._task.next_batch()

    def _check(self, batch) -> None:
        """Raises ValueError unless the batch's first (batch) axis splits evenly over the devices."""
        size = np.shape(batch[0])[0] if np.ndim(batch[0]) else 0
        if size % self._n_devices:
            raise ValueError(
                f"The batch size {size} is not a multiple of the {self._n_devices} devices it is "
                f"split over: use a batch size divisible by {self._n_devices}, or "
                f"Loop(..., n_devices=1).")

    def _replicate(self, tree):
        """A copy of `tree` on every device (a copy, so that donating it frees nothing else)."""
        return _copy_to(tree, self._replicated)

    def _sync_model(self):
        self._model.weights = self._weights
        if self._eval_model is not self._model:
            self._eval_model.weights = self._weights

    def _record(self, mode, name, value):
        self.history.append(mode, f"metrics/{name}", self._step, value)
        self._log(self._step, f"{mode:<5} {name:>16} | {value: .8f}")

    @staticmethod
    def _log(step, message):
        tqdm.write(f"Step {step:6d}: {message}")


_TRAIN_KEYS = 1   # the training steps' keys: fold_in(fold_in(get_prng(seed), 1), step)


def _reject_unexpected_keywords(unexpected):
    """Raises the TypeError Python would, with the fix for a keyword from older Trax."""
    if not unexpected:
        return
    name = next(iter(unexpected))
    message = f"Loop() got an unexpected keyword argument '{name}'"
    if name == "eval_task":
        message += (": pass eval_tasks=[eval_task] (Trax 1.3.1's eval_task became "
                    "eval_tasks, a list of EvalTasks).")
    else:
        message += "."
    raise TypeError(message)


def _initial_slots(optimizer, weights):
    """`optimizer.tree_init(weights)` as one compiled program (op by op, each shape compiles on
    its own); op by op if it cannot be traced (an optimizer of one's own that needs values)."""
    try:
        return jax.jit(optimizer.tree_init)(weights)
    except Exception:  # noqa: BLE001 -- e.g. a ConcretizationTypeError: the same work, op by op
        return optimizer.tree_init(weights)


def _count_weights(weights) -> int:
    """How many numbers the arrays of a weights pytree hold."""
    return sum(int(np.prod(np.shape(w))) for w in jax.tree_util.tree_leaves(weights))


def _copy_to(tree, sharding):
    """A copy of `tree`'s arrays placed with `sharding`, copied without compiling a program
    (`jnp.copy` compiles one per shape)."""
    try:
        return jax.device_put(tree, sharding, may_alias=False)
    except TypeError:   # a JAX without may_alias (before 0.4.36)
        return jax.device_put(jax.tree_util.tree_map(jnp.copy, tree), sharding)


def _make_train_step(model, loss_layer, optimizer, random_seed):
    """One training step: (weights, slots, step, batch) -> (weights, slots, step + 1, loss).

    The model runs with the key `fold_in(fold_in(get_prng(random_seed), 1), step)`: a new one
    each step (computed inside the step, where XLA folds its constant part).
    """
    opt_params = optimizer.opt_params  # constants of the compiled step

    def loss_fn(weights, batch, rng):
        model_output = model(batch[0], weights=weights, rng=rng)
        return loss_layer((model_output, *batch[1:]))

    def train_step(weights, slots, step, batch):
        rng = random.fold_in(random.fold_in(random.get_prng(random_seed), _TRAIN_KEYS), step)
        loss, grads = jax.value_and_grad(loss_fn)(weights, batch, rng)
        weights, slots = optimizer.tree_update(step, grads, weights, slots, opt_params)
        return weights, slots, step + 1, loss

    return train_step


def _make_eval_step(model, metrics):
    """(weights, batch) -> float32[n_metrics], each metric on the model's output for the batch."""

    def eval_step(weights, batch):
        model_output = model(batch[0], weights=weights)
        return jnp.stack([metric((model_output, *batch[1:])) for metric in metrics])

    return eval_step
