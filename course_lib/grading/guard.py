"""Guarding test cells against a notebook that tampers with the tools the tests use.

Before any of the learner's code runs, the grader's preamble (run without
history) seeds Python's and NumPy's random generators and takes a snapshot of
the modules tests rely on (builtins, numpy, jax, optax, course_lib, ...). Each
test cell then starts by restoring them: a learner who replaced
`np.testing.assert_allclose`, `np.allclose`, a `jnp` function, `print`,
`isinstance` or `AssertionError`, or put a fake module in `sys.modules`,
sees the test run with the real ones. The re-imports that the instructor's
cells made are re-run too, so a global `np` or `tl` the learner rebound points
back at the real module.

The restoring function is stored in builtins under a name drawn at random for
each run, so the notebook cannot name it in advance. This guards against the
tampering listed above; it cannot guard against code written to take the Python
interpreter itself apart, which runs in the same process as the tests (see the
README's "Grading safely").
"""
from __future__ import annotations

import ast
import re
import secrets

# Python's own modules: a snapshot of them is always taken.
PYTHON_MODULES = ["builtins", "math", "random", "itertools", "functools", "operator", "os", "os.path",
                  "tempfile", "json"]
MODULES = PYTHON_MODULES + [
    "numpy", "numpy.testing", "numpy.linalg", "numpy.random",
    "jax", "jax.numpy", "jax.nn", "jax.random", "jax.tree_util", "jax.scipy.special", "optax",
    "course_lib", "course_lib.fastmath", "course_lib.fastmath.random", "course_lib.layers",
    "course_lib.layers.base", "course_lib.layers.core", "course_lib.layers.combinators",
    "course_lib.layers.metrics", "course_lib.shapes", "course_lib.optimizers",
    "course_lib.training", "course_lib.training.loop", "course_lib.training.tasks",
    "course_lib.training.history", "course_lib.data", "course_lib.data.preprocess", "course_lib.testing",
]

_PREAMBLE = '''\
def _course_grader_setup(token, names):
    import builtins, importlib, random, sys
    random.seed(0)
    try:
        import numpy
        numpy.random.seed(0)
    except ImportError:
        pass
    saved = []
    for name in names:
        try:
            module = importlib.import_module(name)
        except Exception:
            continue
        saved.append((name, module, dict(vars(module))))
    settrace, setprofile, modules = sys.settrace, sys.setprofile, sys.modules

    def restore():
        settrace(None)
        setprofile(None)
        for name, module, attributes in saved:
            modules[name] = module
            current = vars(module)
            for key, value in attributes.items():
                if current.get(key, restore) is not value:
                    current[key] = value

    setattr(builtins, token, restore)

_course_grader_setup({token!r}, {modules!r})
del _course_grader_setup
'''


def modules_for(code: list[str]) -> list[str]:
    """The modules of MODULES worth a snapshot for a notebook: those whose package its
    instructor and test cells mention (Python's own always)."""
    text = "\n".join(code)
    return [m for m in MODULES if m in PYTHON_MODULES or re.search(rf"\b{m.split('.')[0]}\b", text)]


def new_token() -> str:
    """A fresh name for the restoring function: unguessable, a valid identifier."""
    return "_" + secrets.token_hex(12)


def preamble(token: str, modules: list[str] = MODULES) -> str:
    """The code run first in the kernel: seeds, then the snapshot of `modules`."""
    return _PREAMBLE.format(token=token, modules=list(modules))


def test_prologue(token: str, instructor_imports: str) -> str:
    """The lines run at the start of each test cell: restore, then the instructor's imports again."""
    return f"{token}()\n{instructor_imports}\n" if instructor_imports else f"{token}()\n"


def imports_of(sources: list[str]) -> str:
    """The import statements (top-level) of the instructor's cells, one per line."""
    lines = []
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        lines += [ast.unparse(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    return "\n".join(dict.fromkeys(lines))
