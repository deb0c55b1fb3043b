"""The course: seconds to execute each lab (its source, with the answers) and each reference
solution, top to bottom."""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.common import ROOT


def paths() -> dict[str, Path]:
    # The labs' sources (solutions/labs/, with their answers: the released labs stop at their stubs).
    found = {p.stem: p for p in sorted((ROOT / "solutions" / "labs").glob("*.ipynb"))}
    found.update({f"solutions/{p.parent.name}": p for p in sorted((ROOT / "solutions").glob("*/*.ipynb"))
                  if p.parent.name != "labs"})
    return found


def run(repeats: int = 3) -> dict:
    """{notebook name: median seconds, ..., 'runs': {notebook name: [seconds, ...]}}."""
    from course_tools.execute import execute_notebook

    runs = {}
    for name, path in paths().items():
        runs[name] = []
        for _ in range(repeats):
            with tempfile.TemporaryDirectory() as workdir:
                start = time.perf_counter()
                execute_notebook(path, Path(workdir))
                runs[name].append(time.perf_counter() - start)
    return {**{name: statistics.median(r) for name, r in runs.items()}, "runs": runs}
