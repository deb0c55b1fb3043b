"""The course: seconds to execute each lab notebook and each reference solution, top to bottom."""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def paths() -> dict[str, Path]:
    found = {p.stem: p for p in sorted((ROOT / "notebooks").glob("*.ipynb"))}
    found.update({f"solutions/{p.parent.name}": p for p in sorted((ROOT / "solutions").glob("*/*.ipynb"))})
    return found


def run(repeats: int = 3) -> dict:
    from course_lib.grading.execute import execute_notebook

    runs = {}
    for name, path in paths().items():
        runs[name] = []
        for _ in range(repeats):
            with tempfile.TemporaryDirectory() as workdir:
                start = time.perf_counter()
                execute_notebook(path, Path(workdir))
                runs[name].append(time.perf_counter() - start)
    return {"seconds": {name: statistics.median(r) for name, r in runs.items()}, "runs": runs}
