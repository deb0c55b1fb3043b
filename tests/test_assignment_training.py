"""The training assignment, graded: its reference solution, its release, and realistic wrong answers."""
from __future__ import annotations

from assignment_contract import GradedAssignment
from grading_support import run_hidden_test

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

# Three submissions, each with several mistakes learners really make: {solution grade_id: code}.
WRONG = {
    "a": {
        "gradient_descent_step_solution": STEP.replace("w - alpha * g", "w + alpha * g"),      # climbs the slope
        "Adam_solution": NO_BIAS_CORRECTION,
        "fit_solution": FIT.replace("range(n_steps)", "range(1, n_steps + 1)"),                 # steps from 1
    },
    "b": {
        "gradient_descent_step_solution": '''
def gradient_descent_step(loss_fn, weights, alpha):
    return weights - alpha * fastmath.grad(loss_fn)(weights)      # only for a single array
''',
        "Adam_solution": EPS_INSIDE_SQRT,
        "fit_solution": FIT.replace("        losses.append(float(loss))", "        losses.append(float(loss_fn(weights)))"),
    },
    "c": {
        "gradient_descent_step_solution": STEP.replace("w - alpha * g", "w - g"),               # alpha forgotten
        "Adam_solution": STEP_OFF_BY_ONE,
        "fit_solution": FIT.replace("    losses = []\n    for step in range(n_steps):\n",
                                    "    losses = []\n    for step in range(n_steps):\n"
                                    "        slots = optimizer.tree_init(weights)\n"),           # fresh slots each step
    },
}
EXPECTED_MESSAGE = {  # a phrase each wrong exercise's failure messages must contain
    "a": {"gradient_descent_step": "moved up the slope", "Adam": "missing bias correction",
          "fit": "step counts from 0"},
    "b": {"gradient_descent_step": "jax.tree_util.tree_map", "Adam": "eps inside the square root",
          "fit": "you recorded the loss after each update"},
    "c": {"gradient_descent_step": "multiply the gradient by alpha", "Adam": "step off by one",
          "fit": "each step got fresh slots"},
}

# More mistakes, each checked by running the setup cell, the wrong answer and the exercise's hidden
# test in this process (fast): (exercise, code, phrase its failure message must contain).
MISTAKES = [
    ("gradient_descent_step", STEP.replace("w - alpha * g", "w + alpha * g"), "moved up the slope"),
    ("gradient_descent_step", STEP.replace("w - alpha * g", "w - g"), "multiply the gradient by alpha"),
    ("gradient_descent_step", STEP.replace("weights, grads)", "grads, weights)"), "expected x - alpha * (6x + 1)"),
    ("gradient_descent_step", "def gradient_descent_step(loss_fn, weights, alpha):\n"
                              "    return weights - alpha * fastmath.grad(loss_fn)(weights)\n", "jax.tree_util.tree_map"),
    ("gradient_descent_step", "def gradient_descent_step(loss_fn, weights, alpha):\n"
                              "    grads = fastmath.grad(loss_fn)(weights)\n"
                              "    return jax.tree_util.tree_map(lambda w, g: np.subtract(w, alpha * np.asarray(g)), weights, grads)\n",
     "inside jax.jit"),
    ("Adam", NO_BIAS_CORRECTION, "missing bias correction"),
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
]


class TestTrainingAssignment(GradedAssignment):
    NAME = NAME
    POINTS, WRONG, EXPECTED_MESSAGE, MISTAKES = POINTS, WRONG, EXPECTED_MESSAGE, MISTAKES

    def test_the_in_process_harness_passes_the_reference_and_simpler_correct_answers(self, assignment):
        answers = self.reference_answers(assignment)
        for exercise in EXERCISES:
            assert run_hidden_test(assignment, exercise, answers[f"{exercise}_solution"]) is None, exercise
        # Correct answers written differently from the reference ones pass too.
        for exercise, answer in (("gradient_descent_step", STEP), ("Adam", ADAM), ("fit", FIT)):
            assert run_hidden_test(assignment, exercise, answer) is None, exercise
