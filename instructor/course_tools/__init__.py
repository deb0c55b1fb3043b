"""Instructor tools: releases, autograding and gradebooks (needs the `dev` extras: nbgrader, nbclient).

The pipeline for one submitted notebook, each step in its own module:

    collect.py      which files under submitted/ are graded; reading them without following links
    assignment.py   the assignment's source notebooks (solutions/, with hidden tests) and release
    notebooks.py    read a submission safely; rebuild it on the source's cells (reconcile)
    execute.py      run the rebuilt notebook in a fresh kernel, with time limits; judge its tests
    judge.py        split a test cell into probes (the kernel's) and its judge (the grader's)
    kernel_client.py  read the kernel's messages: bounded, counted, parsed defensively
    grade.py        turn the run into a result: points per test cell, as plain JSON data
    gradebook.py    write results into nbgrader's gradebook, export grades.csv

and the commands built on it: `course-grade` (cli.py), `make autograde` (autograde.py, with
workers.py: grading in worker processes, a dead worker costing only its notebook),
`make release` (release.py; labs.py releases the labs, solutions/labs/ -> notebooks/) and
`make course` (course.py).
"""

import sys

# nbformat validates notebooks with jsonschema, whose format checkers import rfc3987_syntax when it is
# installed: 3.5 s spent building a grammar for the "iri" format, which no notebook schema uses. The
# instructor tools do without it (jsonschema skips a checker whose module cannot be imported).
if "rfc3987_syntax" not in sys.modules:
    sys.modules["rfc3987_syntax"] = None
