"""Instructor tools: releases, autograding and gradebooks (needs the `dev` extras: nbgrader, nbclient).

The pipeline for one submitted notebook, each step in its own module:

    collect.py      which files under submitted/ are graded; reading them without following links
    assignment.py   the assignment's source notebooks (solutions/, with hidden tests) and release
    notebooks.py    read a submission safely; rebuild it on the source's cells (reconcile)
    execute.py      run the rebuilt notebook in a fresh kernel, with time limits
    grade.py        turn the run into a result: points per test cell, as plain JSON data
    gradebook.py    write results into nbgrader's gradebook, export grades.csv

and the commands built on it: `course-grade` (cli.py), `make autograde` (autograde.py, with
workers.py: grading in worker processes, a dead worker costing only its notebook),
`make release` (release.py) and `make course` (course.py).
"""
