"""Tests judged outside the learner's process: a test cell split into probes and a judge.

A test cell (see course_lib.testing) is Python whose top-level functions marked
`@probe` call the learner's code; the rest of the cell is the judge. When a
notebook is graded:

  - the probes' code is defined in the learner's (sandboxed) kernel, and runs there
    when called, on the arguments the judge sends, as wire data;
  - the judge runs here, in the grader's process, with each probe's name bound to a
    stand-in that runs the probe in the kernel and returns its result as wire data.

So the judge's expected values, reference implementations and comparisons never
enter the learner's process, and whatever the learner's code does there, it can only
earn points by returning the right values for inputs it has not seen.

`split` reads a cell once per assignment; `check` finds an author's mistakes before a
learner meets them (a judge that uses a name only the notebook defines);
`run_judge` runs one test.
"""
from __future__ import annotations

import ast
import builtins
import contextlib
import io
import symtable
from dataclasses import dataclass

from course_lib.testing import ProbeFailed


class AuthoringError(ValueError):
    """A test cell cannot be judged as written; the message names the cell and the fix."""


@dataclass(frozen=True)
class Test:
    """One test cell, split.

    Attributes:
      grade_id: the cell's nbgrader grade_id.
      probes: the probes' names, in order.
      probe_source: the probes' definitions (decorators removed): run in the learner's kernel.
      judge_source: everything else in the cell: run in the grader.
    """
    grade_id: str
    probes: tuple[str, ...]
    probe_source: str
    judge_source: str


def _is_probe(node) -> bool:
    if not isinstance(node, ast.FunctionDef):
        return False
    for decorator in node.decorator_list:
        name = decorator.attr if isinstance(decorator, ast.Attribute) else getattr(decorator, "id", None)
        if name == "probe":
            return True
    return False


def split(grade_id: str, source: str) -> Test:
    """Splits a test cell's `source` into its probes and its judge.

    Raises:
      AuthoringError: the cell is not valid Python, or a probe has other decorators.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise AuthoringError(f"test cell '{grade_id}' is not valid Python: {error}") from None
    probes, judge = [], []
    for node in tree.body:
        if _is_probe(node):
            if len(node.decorator_list) != 1:
                raise AuthoringError(f"test cell '{grade_id}': probe {node.name} must have @probe as its only decorator")
            node.decorator_list = []
            probes.append(node)
        else:
            judge.append(node)
    return Test(grade_id, tuple(p.name for p in probes),
                "\n\n".join(ast.unparse(p) for p in probes),
                ast.unparse(ast.Module(body=judge, type_ignores=[])))


def check(test: Test, provided: set[str]) -> list[str]:
    """The names the judge of `test` uses that it would not have when graded: neither
    builtins, nor `provided` (the instructor's imports), nor its probes, nor its own.

    A judge that reads a name the notebook defines (the learner's function, a global
    of the notebook) works in the notebook and fails in the grader; read it in a probe.
    """
    table = symtable.symtable(test.judge_source or "pass", f"<{test.grade_id}>", "exec")
    defined = {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()}
    known = defined | set(test.probes) | provided | set(dir(builtins))
    used, tables = set(), [table]
    while tables:
        current = tables.pop()
        tables.extend(current.get_children())
        for symbol in current.get_symbols():
            if symbol.is_referenced() and (current is table or symbol.is_global()):
                used.add(symbol.get_name())
    return sorted(used - known)


class StopRun(Exception):
    """Raised by a call_probe to stop the whole run (the kernel died, out of time)."""


def run_judge(test: Test, imports: str, call_probe) -> str | None:
    """Runs the judge of `test`; None if it passed, else the failure message for the learner.
    What the judge prints (a "passed" line for the learner's own notebook) is dropped here.

    Args:
      imports: the instructor's import lines, run first in the judge's namespace.
      call_probe: call_probe(name, args, kwargs) runs probe `name` in the learner's kernel and
        returns its result (wire data), or raises ProbeFailed. It may raise other exceptions
        (the kernel died, the notebook ran out of time): those stop the judge and propagate.
    """
    namespace = {"__name__": "__judge__", "__builtins__": builtins}
    exec(compile(imports, f"<imports of {test.grade_id}>", "exec"), namespace)
    for name in test.probes:
        namespace[name] = _stand_in(name, call_probe)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            exec(compile(test.judge_source, f"<test {test.grade_id}>", "exec"), namespace)
    except ProbeFailed as error:
        return describe_probe_failure(error)
    except AssertionError as error:
        return f"AssertionError: {error}" if str(error) else "AssertionError (the test failed)"
    except StopRun:
        raise
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


def _stand_in(name, call_probe):
    def probe(*args, **kwargs):
        return call_probe(name, args, kwargs)
    probe.__name__ = name
    return probe


def imports_of(sources: list[str]) -> str:
    """The import statements (top-level) of the instructor's cells, one per line: the judges'
    namespace starts with them."""
    lines = []
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        lines += [ast.unparse(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    return "\n".join(dict.fromkeys(lines))


def imported_names(imports: str) -> set[str]:
    """The names that the import lines `imports` bind."""
    names = set()
    for node in ast.parse(imports).body:
        for alias in node.names:
            names.add(alias.asname or alias.name.split(".")[0])
    return names


def describe_probe_failure(error: ProbeFailed) -> str:
    """The message of a test whose probe's call into the learner's code raised."""
    if error.ename in ("NoResult", "WireError"):    # the grader's own names: the call gave no usable result
        return f"the test could not read a result from your code ({error.ename}): {error.evalue}"
    if error.ename == "NotImplementedError" and not error.evalue.strip():
        return "NotImplementedError: not implemented yet (the answer cell still raises NotImplementedError)"
    return f"your code raised {error.ename}: {error.evalue}" if error.evalue else f"your code raised {error.ename}"
