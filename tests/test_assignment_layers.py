"""The layers assignment, graded: its reference solution, its release, and realistic wrong answers."""
from __future__ import annotations

import nbformat
from assignment_contract import GradedAssignment
from grading_support import REPO, run_hidden_test

from course_tools.assignment import grade_id, is_answer

NAME = "layers"
# Exercise -> (points of its visible test, points of its hidden test).
POINTS = {"Relu": (1, 1), "Sigmoid": (1, 2), "Dense": (1, 3), "Embedding": (1, 2), "Mean": (1, 2),
          "MySerial": (1, 2), "lecture_model": (1, 2)}
EXERCISES = list(POINTS)

DENSE_INIT = '''
class Dense(tl.Layer):
    def __init__(self, n_units, init_stdev=0.1):
        super().__init__(name=f"Dense_{n_units}")
        self._n_units = n_units
        self._init_stdev = init_stdev

    def init_weights_and_state(self, input_signature):
        d_in = input_signature.shape[-1]
        w = self._init_stdev * fastmath.random.normal(self.rng, (d_in, self._n_units))
        b = jnp.zeros(self._n_units)
        self.weights = (w, b)

    def forward(self, x):
        w, b = self.weights
        return jnp.dot(x, w) + b
'''
EMBEDDING = '''
class Embedding(tl.Layer):
    def __init__(self, vocab_size, d_feature, init_stdev=0.1):
        super().__init__(name=f"Embedding_{vocab_size}_{d_feature}")
        self._vocab_size = vocab_size
        self._d_feature = d_feature
        self._init_stdev = init_stdev

    def init_weights_and_state(self, input_signature):
        self.weights = self._init_stdev * fastmath.random.normal(self.rng, (self._vocab_size, self._d_feature))

    def forward(self, x):
        return jnp.take(self.weights, x, axis=0)
'''
MEAN = '''
class Mean(tl.Layer):
    def __init__(self, axis=-1):
        super().__init__()
        self._axis = axis

    def forward(self, x):
        return jnp.mean(x, axis=self._axis)
'''
MY_SERIAL = '''
class MySerial(tl.Layer):
    def __init__(self, *layers):
        super().__init__()
        self._sublayers = tuple(layers)

    def init_weights_and_state(self, input_signature):
        keys = fastmath.random.split(self.rng, max(len(self.sublayers), 1))
        signature = input_signature
        for layer, key in zip(self.sublayers, keys):
            layer.init(signature, rng=key)
            signature = layer.output_signature(signature)

    def forward(self, x):
        a = x
        for layer in self.sublayers:
            a = layer(a)
        return a
'''


def reference_layers() -> str:
    """The reference answers of the layer exercises (all but lecture_model): what a learner's notebook holds
    when they run an exercise's test, so that a wrong lecture_model is checked with correct layers."""
    source = nbformat.read(REPO / "solutions" / NAME / f"{NAME}.ipynb", as_version=4)
    return "\n".join(c.source for c in source.cells if is_answer(c) and grade_id(c) != "lecture_model_solution")


def relu(body):
    return f"class Relu(tl.Layer):\n    def forward(self, x):\n        return {body}\n"


def sigmoid(body):
    return f"class Sigmoid(tl.Layer):\n    def forward(self, x):\n        return {body}\n"


# Three submissions, each with several mistakes learners really make: {solution grade_id: code}.
WRONG = {
    "a": {
        "Relu_solution": relu("np.maximum(x, 0)                     # NumPy: fails inside jax.jit"),
        "Dense_solution": DENSE_INIT.replace("(d_in, self._n_units)", "(self._n_units, d_in)")   # W as in z = W a
                                    .replace("jnp.dot(x, w)", "jnp.dot(x, w.T)"),
        "Mean_solution": MEAN.replace("axis=self._axis", "axis=1"),                                 # always the words' axis
        "lecture_model_solution": "def lecture_model():\n    return MySerial(tl.Dense(4), tl.Sigmoid(), tl.Dense(4), "
                                  "tl.Sigmoid(), tl.Dense(3), tl.Softmax())\n",                    # not their own layers
    },
    "b": {
        "Sigmoid_solution": sigmoid("jnp.exp(x) / (1.0 + jnp.exp(x))"),                             # nan for x > 88
        "Dense_solution": DENSE_INIT.replace("jnp.dot(x, w) + b", "jnp.dot(x, w)"),                 # bias forgotten
        "Embedding_solution": EMBEDDING.replace("jnp.take(self.weights, x, axis=0)", "self.weights[:, x]"),
        "MySerial_solution": MY_SERIAL.replace("in self.sublayers:\n", "in reversed(self.sublayers):\n"),
    },
    "c": {
        "Relu_solution": relu("jnp.max(x, 0)"),                                                     # a reduction
        "Sigmoid_solution": sigmoid("1.0 / (1.0 + jnp.exp(x))"),                                    # sign
        "Embedding_solution": EMBEDDING.replace("jnp.take(self.weights, x, axis=0)", "jnp.take(self.weights, x)"),
        "Mean_solution": MEAN.replace("axis=self._axis", "axis=self._axis, keepdims=True"),
        "MySerial_solution": MY_SERIAL.replace("            a = layer(a)\n        return a",
                                               "            a = layer(a)\n            return a"),  # return in the loop
    },
}
EXPECTED_MESSAGE = {  # a phrase each wrong exercise's failure messages must contain
    "a": {"Relu": "jax.jit", "Dense": "w is transposed", "Mean": "self._axis", "lecture_model": "your own Dense"},
    "b": {"Sigmoid": "not finite", "Dense": "without the bias", "Embedding": "columns (axis 1)",
          "MySerial": "reverse order"},
    "c": {"Relu": "jnp.maximum(x, 0)", "Sigmoid": "mind the minus sign", "Embedding": "flattened",
          "Mean": "the averaged axis disappears", "MySerial": "only the first layer ran"},
}

# More mistakes, each checked by running the setup cell, the wrong answer and the exercise's hidden
# test in this process (fast): (exercise, code, phrase its failure message must contain).
MISTAKES = [
    ("Relu", relu("np.maximum(x, 0)"), "jax.jit"),
    ("Relu", relu("jnp.max(x, 0)"), "jnp.maximum(x, 0)"),
    ("Relu", relu("jnp.minimum(x, 0)"), "must be max(0, x)"),
    ("Relu", relu("np.where(x > 0, x, 0)"), "jax.jit"),
    ("Relu", "class Relu(tl.Layer):\n    def forward(self, x):\n        x[x < 0] = 0\n        return x\n",
     "changed its input x in place"),
    ("Relu", relu("jnp.abs(x)"), "must be max(0, x)"),
    ("Sigmoid", sigmoid("1.0 / (1.0 + np.exp(-x))"), "jnp.exp, not np.exp"),
    ("Sigmoid", sigmoid("1.0 / (1.0 + jnp.exp(x))"), "mind the minus sign"),
    ("Sigmoid", sigmoid("jnp.exp(x) / (1.0 + jnp.exp(x))"), "inf / inf = nan"),
    ("Sigmoid", sigmoid("1.0 / 1.0 + jnp.exp(-x)"), "must be 1 / (1 + exp(-x))"),
    ("Sigmoid", sigmoid("jnp.tanh(x)"), "must be 1 / (1 + exp(-x))"),
    ("Sigmoid", sigmoid("1.0 / (1.0 - jnp.exp(-x))"), "must be 1 / (1 + exp(-x))"),
    ("Dense", DENSE_INIT.replace("(d_in, self._n_units)", "(self._n_units, d_in)").replace("jnp.dot(x, w)", "jnp.dot(x, w.T)"),
     "w is transposed"),
    ("Dense", DENSE_INIT.replace("jnp.dot(x, w) + b", "jnp.dot(x, w)"), "add b"),
    ("Dense", DENSE_INIT.replace("jnp.zeros(self._n_units)", "jnp.zeros((1, self._n_units))"), "make it 1-D"),
    ("Dense", DENSE_INIT.replace("jnp.zeros(self._n_units)", "jnp.zeros(d_in)"), "not per input feature"),
    ("Dense", DENSE_INIT.replace("jnp.zeros(self._n_units)", "0.1 * fastmath.random.normal(self.rng, (self._n_units,))"),
     "start at zeros"),
    ("Dense", DENSE_INIT.replace("self._init_stdev * fastmath", "fastmath"), "multiply the standard normal values by init_stdev"),
    ("Dense", DENSE_INIT.replace("fastmath.random.normal(self.rng, (d_in, self._n_units))",
                                 "fastmath.random.uniform(self.rng, (d_in, self._n_units), minval=-1.732, maxval=1.732)"),
     "normally distributed"),
    ("Dense", DENSE_INIT.replace("self.rng", "fastmath.random.get_prng(0)"), "draw w from self.rng"),
    ("Dense", DENSE_INIT.replace("fastmath.random.normal(self.rng, (d_in, self._n_units))",
                                 "np.random.normal(size=(d_in, self._n_units))"), "not with np.random"),
    ("Dense", DENSE_INIT.replace("jnp.dot(x, w) + b", "np.dot(x, w) + b"), "jax.jit and jax.grad"),
    ("Dense", DENSE_INIT.replace("self._init_stdev * fastmath", "0.1 * fastmath"), "not a fixed 0.1"),
    ("Dense", DENSE_INIT.replace("self._init_stdev * fastmath", "self._init_stdev ** 2 * fastmath"), "not by its square"),
    ("Dense", DENSE_INIT.replace("self._init_stdev * fastmath.random.normal(self.rng, (d_in, self._n_units))",
                                 "jnp.zeros((d_in, self._n_units))"), "w must be random"),
    ("Dense", DENSE_INIT.replace("jnp.dot(x, w) + b", "jnp.dot(w, x) + b"), "jnp.dot(x, w) + b"),
    ("Embedding", EMBEDDING.replace("(self._vocab_size, self._d_feature)", "(self._d_feature, self._vocab_size)")
                           .replace("x, axis=0", "x, axis=1"), "the table is transposed"),
    ("Embedding", EMBEDDING.replace("jnp.take(self.weights, x, axis=0)", "self.weights[:, x]"), "columns (axis 1)"),
    ("Embedding", EMBEDDING.replace("jnp.take(self.weights, x, axis=0)", "jnp.take(self.weights, x)"), "flattened"),
    ("Embedding", EMBEDDING.replace("jnp.take(self.weights, x, axis=0)", "np.take(self.weights, x, axis=0)"), "not np.take"),
    ("Embedding", EMBEDDING.replace("self._init_stdev * fastmath", "fastmath"), "standard deviation 0.5"),
    ("Embedding", EMBEDDING.replace("self.rng", "fastmath.random.get_prng(0)"), "draw it from self.rng"),
    ("Embedding", EMBEDDING.replace("self._init_stdev * fastmath", "0.1 * fastmath"), "not a fixed 0.1"),
    ("Embedding", EMBEDDING.replace("(self._vocab_size, self._d_feature)", "(input_signature.shape[-1], self._d_feature)"),
     "does not depend on the input's shape"),
    ("Embedding", EMBEDDING.replace("jnp.take(self.weights, x, axis=0)", "jnp.take(self.weights, x, axis=1)"),
     "columns (axis 1)"),
    ("Mean", MEAN.replace("axis=self._axis", "axis=1"), "self._axis, not a fixed one"),
    ("Mean", MEAN.replace("jnp.mean(x, axis=self._axis)", "jnp.mean(x)"), "into one number"),
    ("Mean", MEAN.replace("axis=self._axis", "axis=self._axis, keepdims=True"), "the averaged axis disappears"),
    ("Mean", MEAN.replace("jnp.mean", "jnp.sum"), "that is the sum"),
    ("Mean", MEAN.replace("jnp.mean", "np.average"), "use jnp.mean"),
    ("Mean", MEAN.replace("axis=self._axis", "axis=-1"), "self._axis, not a fixed one"),
    ("MySerial", MY_SERIAL.replace("in self.sublayers:\n", "in reversed(self.sublayers):\n"), "reverse order"),
    ("MySerial", MY_SERIAL.replace("            a = layer(a)\n        return a", "            a = layer(a)\n            return a"),
     "only the first layer ran"),
    ("MySerial", MY_SERIAL.replace("a = layer(a)", "a = layer(x)"), "instead of the previous layer's output"),
    ("MySerial", MY_SERIAL.replace("a = layer(a)", "layer(a)"), "came out unchanged"),
    ("MySerial", MY_SERIAL.replace("in self.sublayers:\n", "in self.sublayers[:-1]:\n"), "the last layer did not run"),
    ("lecture_model", "def lecture_model():\n    return MySerial(tl.Dense(4), tl.Sigmoid(), tl.Dense(4), tl.Sigmoid(), "
                      "tl.Dense(3), tl.Softmax())\n", "your own Dense"),
    ("lecture_model", "def lecture_model():\n    return tl.Serial(Dense(4), Sigmoid(), Dense(4), Sigmoid(), Dense(3), "
                      "tl.Softmax())\n", "not tl.Serial"),
    ("lecture_model", "def lecture_model():\n    return MySerial(Dense(4), Sigmoid(), Dense(4), Sigmoid(), Dense(3))\n",
     "the lecture's model is"),
    ("lecture_model", "def lecture_model():\n    return MySerial(Dense(4), tl.Relu(), Dense(4), tl.Relu(), Dense(3), tl.Softmax())\n",
     "the lecture's model is"),
    ("lecture_model", "def lecture_model():\n    return MySerial(Dense(4), Sigmoid(), Dense(4), Sigmoid(), Dense(3), tl.LogSoftmax())\n",
     "the lecture's model is"),
    ("lecture_model", "def lecture_model():\n    return MySerial(Dense(4), tl.Sigmoid(), Dense(4), tl.Sigmoid(), Dense(3), "
                      "tl.Softmax())\n", "your own Sigmoid"),
    ("lecture_model", "def lecture_model():\n    return MySerial(Dense(3), Sigmoid(), Dense(4), Sigmoid(), Dense(4), "
                      "tl.Softmax())\n", "the lecture's model is"),
]


class TestLayersAssignment(GradedAssignment):
    NAME = NAME
    POINTS, WRONG, EXPECTED_MESSAGE, MISTAKES = POINTS, WRONG, EXPECTED_MESSAGE, MISTAKES
    CONTEXT = reference_layers()

    def test_the_in_process_harness_passes_the_reference_answers(self, assignment):
        answers = self.reference_answers(assignment)
        for exercise in ("Relu", "Sigmoid", "Dense", "Embedding", "Mean", "MySerial"):
            assert run_hidden_test(assignment, exercise, answers[f"{exercise}_solution"]) is None, exercise
        everything = "\n".join(answers[f"{name}_solution"] for name in EXERCISES)
        assert run_hidden_test(assignment, "lecture_model", everything) is None
