"""The training assignment, graded: its reference solution, its release, and realistic wrong answers."""
from __future__ import annotations

from assignment_contract import GradedAssignment
from grading_support import run_test_cell

NAME = "training"
# Exercise -> (points of its visible test, points of its hidden test).
POINTS = {"gradient_descent_step": (1, 2), "Adam": (1, 4), "fit": (1, 2)}
EXERCISES = list(POINTS)

STEP = '''
def gradient_descent_step(loss_fn, weights, alpha):
    grads = fastmath.grad(loss_fn)(weights)
    return jax.tree_util.tree_map(lambda w, g: w - alpha * g, weights, grads)
'''
ADAM = '''
class Adam(optimizers.Optimizer):
    def __init__(self, learning_rate=0.0001, weight_decay_rate=1e-5, b1=0.9, b2=0.999, eps=1e-5):
        super().__init__(learning_rate=learning_rate, weight_decay_rate=weight_decay_rate,
                         b1=b1, b2=b2, eps=eps)

    def init(self, weights):
        return jnp.zeros_like(weights), jnp.zeros_like(weights)

    def update(self, step, grads, weights, slots, opt_params):
        m, v = slots
        learning_rate = opt_params['learning_rate']
        weight_decay_rate = opt_params['weight_decay_rate']
        b1 = opt_params['b1']
        b2 = opt_params['b2']
        eps = opt_params['eps']
        m = (1 - b1) * grads + b1 * m
        v = (1 - b2) * (grads ** 2) + b2 * v
        mhat = m / (1 - b1 ** (step + 1))
        vhat = v / (1 - b2 ** (step + 1))
        new_weights = ((1 - weight_decay_rate) * weights - learning_rate * mhat / (jnp.sqrt(vhat) + eps)).astype(weights.dtype)
        return new_weights, (m, v)
'''
FIT = '''
def fit(loss_fn, weights, optimizer, n_steps):
    slots = optimizer.tree_init(weights)
    losses = []
    for step in range(n_steps):
        loss, grads = fastmath.value_and_grad(loss_fn)(weights)
        weights, slots = optimizer.tree_update(step, grads, weights, slots, optimizer.opt_params)
        losses.append(float(loss))
    return weights, losses
'''

# Correct answers written otherwise: other functions, a list of slots, losses as 0-d JAX arrays.
STEP_OTHERWISE = '''
def gradient_descent_step(loss_fn, weights, alpha):
    grads = jax.grad(loss_fn)(weights)
    return jax.tree_util.tree_map(lambda w, g: jnp.subtract(w, jnp.multiply(alpha, g)), weights, grads)
'''
ADAM_OTHERWISE = ADAM.replace("return jnp.zeros_like(weights), jnp.zeros_like(weights)",
                              "return [jnp.zeros(weights.shape, weights.dtype), jnp.zeros(weights.shape, weights.dtype)]"
                              ).replace("b1 ** (step + 1)", "jnp.power(b1, step + 1)")
FIT_OTHERWISE = '''
def fit(loss_fn, weights, optimizer, n_steps):
    slots = optimizer.tree_init(weights)
    losses = []
    for step in range(n_steps):
        loss, grads = jax.value_and_grad(loss_fn)(weights)
        losses.append(loss)
        weights, slots = optimizer.tree_update(jnp.asarray(step), grads, weights, slots, optimizer.opt_params)
    return weights, losses
'''


def adam(*edits):
    """ADAM with each (old, new) text replaced: one mistake."""
    code = ADAM
    for old, new in edits:
        assert old in code, old
        code = code.replace(old, new)
    return code


NO_BIAS_CORRECTION = adam(("m / (1 - b1 ** (step + 1))", "m"), ("v / (1 - b2 ** (step + 1))", "v"))
STEP_OFF_BY_ONE = adam(("b1 ** (step + 1)", "b1 ** step"), ("b2 ** (step + 1)", "b2 ** step"))
EPS_INSIDE_SQRT = adam(("(jnp.sqrt(vhat) + eps)", "jnp.sqrt(vhat + eps)"))
FROZEN_STEP = adam(("b1 ** (step + 1)", "b1"), ("b2 ** (step + 1)", "b2"))                 # t stuck at 1
B1_B2_SWAPPED = adam(("m = (1 - b1) * grads + b1 * m", "m = (1 - b2) * grads + b2 * m"),
                     ("v = (1 - b2) * (grads ** 2) + b2 * v", "v = (1 - b1) * (grads ** 2) + b1 * v"),
                     ("m / (1 - b1 ** (step + 1))", "m / (1 - b2 ** (step + 1))"),
                     ("v / (1 - b2 ** (step + 1))", "v / (1 - b1 ** (step + 1))"))

SINGLE_ARRAY_STEP = '''
def gradient_descent_step(loss_fn, weights, alpha):
    return weights - alpha * fastmath.grad(loss_fn)(weights)      # only for a single array
'''
FIT_WITHOUT_OPTIMIZER = FIT.replace(
    "weights, slots = optimizer.tree_update(step, grads, weights, slots, optimizer.opt_params)",
    "weights = jax.tree_util.tree_map(lambda w, g: w - optimizer.opt_params['learning_rate'] * g, weights, grads)")

# Submissions with mistakes learners really make: {solution grade_id: code}. The visible tests catch these
# mistakes too, so each submission leaves at least one exercise right (it must keep some points).
WRONG = {
    "a": {
        "gradient_descent_step_solution": STEP.replace("w - alpha * g", "w + alpha * g"),      # climbs the slope
        "Adam_solution": NO_BIAS_CORRECTION,
    },
    "b": {
        "Adam_solution": EPS_INSIDE_SQRT,
        "fit_solution": FIT.replace("        losses.append(float(loss))", "        losses.append(float(loss_fn(weights)))"),
    },
    "c": {
        "gradient_descent_step_solution": STEP.replace("w - alpha * g", "w - g"),               # alpha forgotten
        "fit_solution": FIT.replace("    losses = []\n    for step in range(n_steps):\n",
                                    "    losses = []\n    for step in range(n_steps):\n"
                                    "        slots = optimizer.tree_init(weights)\n"),           # fresh slots each step
    },
    "d": {
        "gradient_descent_step_solution": SINGLE_ARRAY_STEP,
        "fit_solution": FIT.replace("range(n_steps)", "range(1, n_steps + 1)"),                 # steps from 1
    },
    "e": {
        "Adam_solution": STEP_OFF_BY_ONE,
        "fit_solution": FIT_WITHOUT_OPTIMIZER,                                                  # SGD by hand
    },
}
EXPECTED_MESSAGE = {  # a phrase each wrong exercise's failure messages must contain
    "a": {"gradient_descent_step": "moved up the slope", "Adam": "missing bias correction"},
    "b": {"Adam": "eps inside the square root", "fit": "you recorded the loss after each update"},
    "c": {"gradient_descent_step": "multiply the gradient by alpha", "fit": "each step got fresh slots"},
    "d": {"gradient_descent_step": "jax.tree_util.tree_map", "fit": "step counts from 0"},
    "e": {"Adam": "step off by one", "fit": "fit never called the optimizer"},
}

# More mistakes, each checked by running the setup cell, the wrong answer and the exercise's hidden
# test in this process (fast): (exercise, code, phrase its failure message must contain).
MISTAKES = [
    ("gradient_descent_step", STEP.replace("w - alpha * g", "w + alpha * g"), "moved up the slope"),
    ("gradient_descent_step", STEP.replace("w - alpha * g", "w - g"), "multiply the gradient by alpha"),
    ("gradient_descent_step", STEP.replace("weights, grads)", "grads, weights)"),
     "the weights and the gradients are swapped in tree_map"),
    ("gradient_descent_step", SINGLE_ARRAY_STEP, "jax.tree_util.tree_map"),
    ("gradient_descent_step", "def gradient_descent_step(loss_fn, weights, alpha):\n"
                              "    grads = fastmath.grad(loss_fn)(weights)\n"
                              "    return jax.tree_util.tree_map(lambda w, g: np.subtract(w, alpha * np.asarray(g)), weights, grads)\n",
     "inside jax.jit"),
    ("gradient_descent_step", "def gradient_descent_step(loss_fn, weights, alpha):\n"
                              "    grads = fastmath.grad(loss_fn)(weights)\n"
                              "    for w, g in zip(jax.tree_util.tree_leaves(weights), jax.tree_util.tree_leaves(grads)):\n"
                              "        w -= alpha * g\n"
                              "    return weights\n", "the weights did not move"),
    ("gradient_descent_step", STEP.replace("fastmath.grad(loss_fn)(weights)", "fastmath.grad(loss_fn(weights))"),
     "gradient_descent_step raised TypeError"),
    ("Adam", NO_BIAS_CORRECTION, "missing bias correction"),
    ("Adam", FROZEN_STEP, "t = 1 at every step"),
    ("Adam", B1_B2_SWAPPED, "b1 and b2 swapped"),
    ("Adam", adam(("(jnp.sqrt(vhat) + eps)", "(vhat + eps)")), "the square root is missing"),
    ("Adam", adam(("return new_weights, (m, v)", "return new_weights, slots")), "the slots were not updated"),
    ("Adam", adam(("return new_weights, (m, v)", "return new_weights, (mhat, vhat)")), "the slots keep the bias-corrected"),
    ("Adam", adam(("return jnp.zeros_like(weights), jnp.zeros_like(weights)", "return jnp.zeros_like(weights)")),
     "init must return the slots (m, v)"),
    ("Adam", STEP_OFF_BY_ONE, "not 1 - b1 ** step"),
    ("Adam", adam(("b1 ** (step + 1)", "b1 ** (step + 2)"), ("b2 ** (step + 1)", "b2 ** (step + 2)")), "do not add 1 twice"),
    ("Adam", EPS_INSIDE_SQRT, "eps inside the square root"),
    ("Adam", adam(("v / (1 - b2 ** (step + 1))", "v / (1 - b2 ** (step + 1)) + eps"), ("(jnp.sqrt(vhat) + eps)", "jnp.sqrt(vhat)")),
     "eps inside the square root (or added to vhat)"),
    ("Adam", adam(("learning_rate * mhat / (jnp.sqrt(vhat) + eps)", "(learning_rate * mhat / jnp.sqrt(vhat) + eps)")),
     "eps added after the division"),
    ("Adam", adam(("learning_rate * mhat /", "mhat /")), "the step is not multiplied by the learning rate"),
    ("Adam", adam(("m = (1 - b1) * grads + b1 * m", "m = b1 * grads + (1 - b1) * m")), "b1 and 1 - b1 swapped"),
    ("Adam", adam(("v = (1 - b2) * (grads ** 2) + b2 * v", "v = b2 * (grads ** 2) + (1 - b2) * v")), "b2 and 1 - b2 swapped"),
    ("Adam", adam(("v = (1 - b2) * (grads ** 2) + b2 * v", "v = (1 - b1) * (grads ** 2) + b1 * v")), "b1 used for the second moment"),
    ("Adam", adam(("v = (1 - b2) * (grads ** 2) + b2 * v", "v = (1 - b2) * grads + b2 * v")), "squared gradients"),
    ("Adam", adam(("(1 - weight_decay_rate) * weights", "weights")), "weight decay missing"),
    ("Adam", adam(("        m = (1 - b1)", "        grads = grads + weight_decay_rate * weights\n        m = (1 - b1)"),
                  ("(1 - weight_decay_rate) * weights", "weights")), "not added to the gradient"),
    ("Adam", adam(("((1 - weight_decay_rate) * weights - learning_rate * mhat / (jnp.sqrt(vhat) + eps))",
                   "((1 - weight_decay_rate) * (weights - learning_rate * mhat / (jnp.sqrt(vhat) + eps)))")),
     "only the old weights are decayed"),
    ("Adam", adam(("(1 - weight_decay_rate) * weights", "(1 - learning_rate * weight_decay_rate) * weights")),
     "Trax's decay is (1 - weight_decay_rate) * weights, not multiplied by the learning rate"),
    ("Adam", adam(("(1 - weight_decay_rate) * weights", "(1 + weight_decay_rate) * weights")), "the weights shrink"),
    ("Adam", adam(("        m, v = slots\n", "        m, v = slots\n        opt_params = self.opt_params\n")),
     "read them from opt_params"),
    ("Adam", adam(("jnp.sqrt(vhat)", "np.sqrt(vhat)")), "inside jax.jit"),
    ("Adam", adam(("1 - b1 ** (step + 1)", "1 - b1 ** float(step + 1)")), "inside jax.jit"),
    ("Adam", adam((").astype(weights.dtype)", ")")), ".astype(weights.dtype)"),
    ("Adam", adam(("return jnp.zeros_like(weights), jnp.zeros_like(weights)", "return jnp.zeros(1), jnp.zeros(1)")),
     "must have the shape of the weights"),
    ("fit", FIT.replace("range(n_steps)", "range(1, n_steps + 1)"), "step counts from 0"),
    ("fit", FIT.replace("range(n_steps)", "range(n_steps - 1)"), "must call tree_update with the steps 0, 1, ..., 3"),
    ("fit", FIT.replace("    losses = []\n    for step in range(n_steps):\n",
                        "    losses = []\n    for step in range(n_steps):\n        slots = optimizer.tree_init(weights)\n"),
     "each step got fresh slots"),
    ("fit", FIT.replace("weights, slots = optimizer.tree_update", "weights, _ = optimizer.tree_update"), "each step got fresh slots"),
    ("fit", FIT.replace("        losses.append(float(loss))", "        losses.append(float(loss_fn(weights)))"),
     "you recorded the loss after each update"),
    ("fit", FIT.replace("weights, slots = optimizer.tree_update", "new_weights, slots = optimizer.tree_update"),
     "expected the losses"),
    ("fit", FIT.replace("    return weights, losses", "    return weights, losses[:-1]"), "must return a list of n_steps = 4 losses"),
    ("fit", FIT_WITHOUT_OPTIMIZER, "fit never called the optimizer"),
    ("fit", FIT.replace("slots, optimizer.opt_params)", "slots, {})"), "fit raised KeyError"),
]


class TestTrainingAssignment(GradedAssignment):
    NAME = NAME
    POINTS, WRONG, EXPECTED_MESSAGE, MISTAKES = POINTS, WRONG, EXPECTED_MESSAGE, MISTAKES

    def test_the_in_process_harness_passes_the_reference_and_simpler_correct_answers(self, assignment):
        answers = self.reference_answers(assignment)
        for exercise in EXERCISES:
            for kind in ("visible", "hidden"):
                assert run_test_cell(assignment, f"{exercise}_{kind}", answers[f"{exercise}_solution"]) is None, exercise
        # Correct answers written differently from the reference ones pass too (values count, not types).
        for exercise, answer in (("gradient_descent_step", STEP), ("gradient_descent_step", STEP_OTHERWISE),
                                 ("Adam", ADAM), ("Adam", ADAM_OTHERWISE), ("fit", FIT), ("fit", FIT_OTHERWISE)):
            for kind in ("visible", "hidden"):
                assert run_test_cell(assignment, f"{exercise}_{kind}", answer) is None, (exercise, kind, answer)
