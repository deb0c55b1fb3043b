"""Feedback for learners: each test's points and message, never the code of a hidden test.

nbgrader's `generate_feedback` renders the graded notebook, hidden test cells
included; this feedback is made from the result (grade.py) instead, whose
messages are already scrubbed of hidden test code.
"""
from __future__ import annotations

import html
from pathlib import Path

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Feedback: {title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border-bottom: 1px solid #ddd; padding: .4rem .6rem; text-align: left; vertical-align: top; }}
.pass {{ color: #17702f; }} .fail {{ color: #a8201a; }}
pre {{ white-space: pre-wrap; margin: 0; font-size: .9rem; }}
</style></head><body>
<h1>{title}</h1>
<p><strong>Score: {score:g} / {max_score:g}</strong>{status}</p>
<table><thead><tr><th>test</th><th>points</th><th>result</th><th>message</th></tr></thead><tbody>
{rows}
</tbody></table></body></html>
"""


def render(result: dict, student: str | None = None) -> str:
    """The feedback page (HTML) for one graded notebook."""
    title = f"{result['assignment']}" + (f", {student}" if student else "")
    status = "" if result["status"] == "graded" and not result["reason"] else \
        f" ({html.escape(result['status'])}{': ' + html.escape(result['reason']) if result['reason'] else ''})"
    rows = []
    for test in result["tests"]:
        mark = '<span class="pass">passed</span>' if test["passed"] else '<span class="fail">failed</span>'
        rows.append(f"<tr><td>{html.escape(test['grade_id'])}</td>"
                    f"<td>{test['points']:g} / {test['max_points']:g}</td><td>{mark}</td>"
                    f"<td><pre>{html.escape(test['message'])}</pre></td></tr>")
    return _PAGE.format(title=html.escape(title), score=result["score"], max_score=result["max_score"],
                        status=status, rows="\n".join(rows))


def write(result: dict, path: Path, student: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(result, student), encoding="utf-8")
    return path
