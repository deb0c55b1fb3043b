"""`Layer`, the base class of every layer, and `Fn`, a layer made from a function.

A layer is a function from inputs to outputs that may own trainable weights.
Write one by subclassing `Layer` and overriding `forward`:

    class Relu(tl.Layer):
        def forward(self, x):                     # float32[...] -> float32[...]
            return jnp.maximum(x, 0)

and, when it has weights, `init_weights_and_state`, which sets `self.weights`
from the input's signature (shape and dtype) and the key `self.rng`:

    class Scale(tl.Layer):
        def init_weights_and_state(self, input_signature):
            self.weights = jnp.ones(input_signature.shape[-1])
        def forward(self, x):                     # float32[..., d] -> float32[..., d]
            return x * self.weights

Running a layer:

    layer.init(shapes.signature(x))     # create the weights, once
    y = layer(x)                        # run with layer.weights
    y = layer(x, weights=w)             # pure: w in, y out, nothing stored in the layer
    y, state = layer.pure_fn(x, w, state, rng)    # Trax's pure form

The pure forms are what `jax.grad` and `jax.jit` transform: inside them
`forward` sees `w` (a tracer) as `self.weights`, and the layer's own weights are
put back afterwards.

Layers pass data Trax's way, as a stack: a layer with `n_in == 1` takes one
array, a layer with `n_in > 1` takes a tuple of `n_in` arrays; likewise for
outputs and `n_out`. Combinators (`Serial`, `Parallel`, ...) route the stack.
"""
from __future__ import annotations

import contextlib
import inspect

import jax

from course_lib import shapes
from course_lib.fastmath import random
from course_lib.layers.compiled_init import compiled_init as _compiled_init

EMPTY_WEIGHTS = ()
EMPTY_STATE = ()


class LayerError(ValueError):
    """A layer could not run on its input.

    The message names the layer (and the combinators around it), what it
    expected, what it got, and the likely fix. The original exception, if any,
    is chained as `__cause__`.

    Attributes:
      path: names from the outermost layer to the one that failed, e.g. ['Serial', 'Dense_2'].
      expected, actual: short descriptions such as 'float32[...,256]' and 'float32[16,30]'.
    """

    def __init__(self, layer, problem, expected=None, actual=None, hint=None):
        self.path = [layer.name]
        self.problem, self.expected, self.actual, self.hint = problem, expected, actual, hint
        super().__init__()

    def __str__(self):
        where = self.path[-1] + (f" (in {' > '.join(self.path)})" if len(self.path) > 1 else "")
        lines = [f"Layer {where}: {self.problem}"]
        if self.expected is not None:
            lines.append(f"  expected: {self.expected}")
        if self.actual is not None:
            lines.append(f"  actual:   {self.actual}")
        if self.hint:
            lines.append(f"  likely fix: {self.hint}")
        return "\n".join(lines)


class Layer:
    """Base class of layers (Trax's `tl.Layer`).

    Args:
      n_in: how many inputs `forward` takes from the data stack (1: one array; k > 1: a tuple).
      n_out: how many outputs `forward` returns (1: one array; k > 1: a tuple).
      name: the name shown by `repr` and in errors; the class name by default.

    Subclasses override `forward(self, x)` and, when they have weights,
    `init_weights_and_state(self, input_signature)`.
    """

    # Class-level defaults: a subclass whose __init__ forgets super().__init__() still works.
    _n_in = 1
    _n_out = 1
    _name = None
    _sublayers = None        # a combinator sets a list (maybe empty); a plain layer has None
    _sublayers_to_print = None   # what repr shows inside [...] if not the sublayers (Trax's)
    _weights = EMPTY_WEIGHTS
    _state = EMPTY_STATE
    _rng = None
    _input_signature = None

    def __init__(self, n_in=1, n_out=1, name=None):
        self._n_in, self._n_out, self._name = n_in, n_out, name

    # -- what a subclass overrides ------------------------------------------------------------

    def forward(self, x):
        """Computes this layer's output from its input, using `self.weights`. Override it."""
        raise NotImplementedError(f"{type(self).__name__} must override forward(self, x).")

    def init_weights_and_state(self, input_signature):
        """Sets `self.weights` (and `self.state`) for inputs like `input_signature`.

        Override it in layers that have weights; draw random numbers from `self.rng`.
        The default creates no weights.
        """

    # -- properties ------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name or type(self).__name__

    @property
    def n_in(self) -> int:
        return self._n_in

    @property
    def n_out(self) -> int:
        return self._n_out

    @property
    def sublayers(self) -> list:
        """This layer's sublayers, in order, as a list (as in Trax); `[]` for a plain layer."""
        if isinstance(self._sublayers, list):
            return self._sublayers
        return list(self._sublayers or ())

    @property
    def weights(self):
        """This layer's weights: arrays, or for a combinator the tuple of its sublayers' weights."""
        if self._sublayers is not None:
            return tuple(layer.weights for layer in self._sublayers)
        return self._weights

    @weights.setter
    def weights(self, weights):
        if self._sublayers is not None:
            _check_one_per_sublayer(self, weights, "weights")
            for layer, w in zip(self._sublayers, weights):
                layer.weights = w
        else:
            self._weights = weights

    @property
    def state(self):
        """Non-trainable state (unused by course_lib's layers; kept for Trax's API)."""
        if self._sublayers is not None:
            return tuple(layer.state for layer in self._sublayers)
        return self._state

    @state.setter
    def state(self, state):
        if self._sublayers is not None:
            _check_one_per_sublayer(self, state, "state")
            for layer, s in zip(self._sublayers, state):
                layer.state = s
        else:
            self._state = state

    @property
    def rng(self) -> jax.Array:
        """The PRNG key `init_weights_and_state` draws from (set by `init`)."""
        if self._rng is None:
            self._rng = random.get_prng(0)
        return self._rng

    @rng.setter
    def rng(self, rng):
        self._rng = rng

    # -- creating weights ----------------------------------------------------------------------

    def init(self, input_signature, rng=None):
        """Creates the weights of this layer and its sublayers for inputs like `input_signature`.

        Args:
          input_signature: a `ShapeDtype`, or an example input array (only its shape
            and dtype are used); a tuple of them when `n_in > 1`.
          rng: PRNG key, uint32[2]; `fastmath.random.get_prng(0)` by default, so
            `init` is deterministic.

        Returns:
          `(weights, state)`, as Trax does. They are also stored in the layer.

        The whole model's initialization is compiled as one XLA program (`jax.jit`), not run
        op by op (which compiles every random function and shape on its own: seconds for the
        capstone's model). The weights are the same, bit for bit. `init_weights_and_state` runs
        once per call as Python, as before, but sees traced arrays (shapes known, values not);
        one that needs values (`float(w)`, `np.asarray(w)`) or keeps an array outside its
        weights, state and key is run again op by op, as it was before.

        Raises:
          LayerError: the signature does not match `n_in`, or a sublayer cannot run on it.
        """
        signature = shapes.signature(input_signature)
        _check_input_count(self, signature)
        if _compiled_init.active or jax.config.jax_disable_jit or not _compiled_init(self, signature, rng):
            self._init_eagerly(signature, rng)   # inside a compiled init, or its fallback
        return self.weights, self.state

    def _init_eagerly(self, signature, rng):
        """`init`'s work, op by op: what the compiled init traces, and its fallback.
        `rng=None`: the default key, `get_prng(0)` (made inside the compiled init, not before it)."""
        self.rng = rng if rng is not None else random.get_prng(0)
        self._input_signature = signature
        self.init_weights_and_state(signature)

    def output_signature(self, input_signature):
        """The signature of this layer's output for inputs like `input_signature` (nothing is computed)."""
        structs = jax.tree_util.tree_map(
            lambda s: s.as_struct(), shapes.signature(input_signature),
            is_leaf=lambda s: isinstance(s, shapes.ShapeDtype))
        return shapes.signature(jax.eval_shape(self._run, structs))

    # -- running -------------------------------------------------------------------------

    def __call__(self, x, weights=None, state=None, rng=None):
        """Runs the layer on `x` with `weights` (by default its own) and returns the output.

        With `weights` given, the call is pure: the layer's own weights are not used or changed.
        """
        outputs, _ = self.pure_fn(x, self.weights if weights is None else weights, state, rng)
        return outputs

    def pure_fn(self, x, weights, state=None, rng=None):
        """Trax's pure form: returns `(outputs, new_state)` computed with the given weights.

        Nothing in the layer changes, so `jax.grad` and `jax.jit` can transform it:
        `jax.grad(lambda w: loss(model.pure_fn(x, w)[0]))(model.weights)`.
        `state` defaults to the layer's own.
        """
        with self._temporarily(weights, self.state if state is None else state, rng):
            outputs = self._run(x)
            new_state = self.state
        return outputs, new_state

    @contextlib.contextmanager
    def _temporarily(self, weights, state, rng):
        saved = self.weights, self.state, self._rng
        self.weights, self.state = weights, state
        if rng is not None:
            self._rng = rng
        try:
            yield
        finally:
            self.weights, self.state = saved[0], saved[1]
            self._rng = saved[2]

    def _run_with_rng(self, x, rng):
        """`_run` with `rng` as this layer's key (how a combinator hands each sublayer its key)."""
        saved, self._rng = self._rng, rng
        try:
            return self._run(x)
        finally:
            self._rng = saved

    def _run(self, x):
        """Runs `forward` on `x`, checking first that the layer can, and naming it in any error."""
        _check_input_count(self, x)
        if self._needs_weights() and not _has_weights(self.weights):
            raise LayerError(
                self, "has no weights yet.",
                expected="weights created by init() before the layer runs",
                actual=f"called on {shapes.describe(x)} with no weights",
                hint="call `layer.init(shapes.signature(x))` once before `layer(x)`.")
        try:
            return self.forward(x)
        except LayerError as error:
            if self._sublayers is not None:
                error.path.insert(0, self.name)
            raise
        except NotImplementedError:
            raise
        except Exception as error:  # any failure: say which layer, on what input
            expected = (shapes.describe(self._input_signature)
                        if self._input_signature is not None else None)
            raise LayerError(
                self, f"forward failed with {type(error).__name__}: {error}",
                expected=f"input like {expected} (the signature given to init)" if expected else None,
                actual=shapes.describe(x),
                hint=("the input's shape or dtype differs from the one the layer was initialized "
                      "with: check the previous layer's output, or call init() with this input."
                      if expected and not _same_as_computed(self._input_signature, x) else None),
            ) from error

    def _is_initialized(self) -> bool:
        """True when every layer inside that creates weights has them."""
        if self._sublayers is not None:
            return all(layer._is_initialized() for layer in self._sublayers)
        return not self._needs_weights() or _has_weights(self.weights)

    def _needs_weights(self) -> bool:
        """True for a layer (not a combinator) whose class creates weights in init."""
        return (self._sublayers is None
                and type(self).init_weights_and_state is not Layer.init_weights_and_state)

    # -- printing --------------------------------------------------------------------------

    def __repr__(self):
        text = self.name
        if self.n_in != 1:  # as Trax: each suffix only when that count is not 1
            text += f"_in{self.n_in}"
        if self.n_out != 1:
            text += f"_out{self.n_out}"
        shown = self._sublayers_to_print if self._sublayers_to_print is not None else self._sublayers
        lines = [str(item) for item in shown or ()]   # Trax prints None for Branch's identity
        lines = [line for line in lines if line]
        if lines:
            inner = "\n".join("  " + line.replace("\n", "\n  ") for line in lines)
            text += "[\n" + inner + "\n]"
        return text


class Fn(Layer):
    """A layer with no weights that computes `f` (Trax's `tl.Fn`).

    `n_in` is the number of positional arguments of `f` without default values;
    `f` returns one array, or a tuple of `n_out` arrays.

        Mean = tl.Fn('Mean', lambda x: jnp.mean(x, axis=1))          # float32[b, s, d] -> float32[b, d]
        Add = tl.Fn('Add', lambda a, b: a + b)                       # n_in = 2
    """

    def __init__(self, name: str, f, n_out: int = 1):
        super().__init__(n_in=_count_required_args(name, f), n_out=n_out, name=name)
        self._f = f

    def forward(self, xs):
        return self._f(xs) if self.n_in == 1 else self._f(*xs)


def _count_required_args(name, f) -> int:
    parameters = inspect.signature(f).parameters.values()
    kinds = {p.kind for p in parameters}
    if inspect.Parameter.VAR_POSITIONAL in kinds or inspect.Parameter.VAR_KEYWORD in kinds:
        raise ValueError(f"Fn('{name}', f): f cannot take *args or **kwargs; name its inputs.")
    return sum(1 for p in parameters
               if p.default is inspect.Parameter.empty
               and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))


def _same_as_computed(signature, x) -> bool:
    """True when `x` has `signature`'s shapes and the dtypes JAX computes them in."""
    def canonical(s):
        return [(t.shape, jax.dtypes.canonicalize_dtype(t.dtype))
                for t in jax.tree_util.tree_leaves(
                    s, is_leaf=lambda t: isinstance(t, shapes.ShapeDtype))]
    return canonical(signature) == canonical(shapes.signature(x))


def _has_weights(weights) -> bool:
    return weights is not None and not (isinstance(weights, tuple) and not weights)


def _check_input_count(layer, x):
    """A layer with n_in > 1 takes a tuple of exactly n_in inputs."""
    if layer.n_in > 1 and not (isinstance(x, (tuple, list)) and len(x) == layer.n_in):
        got = f"{len(x)} inputs {shapes.describe(x)}" if isinstance(x, (tuple, list)) \
            else f"one input {shapes.describe(x)}"
        raise LayerError(layer, f"takes {layer.n_in} inputs from the data stack.",
                         expected=f"a tuple of {layer.n_in} arrays", actual=got,
                         hint="pass a tuple, or check the layers before it (e.g. Select/Branch).")


def _check_one_per_sublayer(layer, values, what):
    if not isinstance(values, (tuple, list)) or len(values) != len(layer.sublayers):
        count = len(values) if isinstance(values, (tuple, list)) else type(values).__name__
        raise ValueError(f"{layer.name} has {len(layer.sublayers)} sublayers, so its {what} "
                         f"must be a tuple of {len(layer.sublayers)} items; got {count}.")

