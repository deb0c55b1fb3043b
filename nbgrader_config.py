"""nbgrader's configuration for this course: solutions/ is the source, assignments/ the release."""
from pathlib import Path

c = get_config()  # noqa: F821 (nbgrader provides it)

try:
    from course_tools import layout, nbgrader_settings
except ImportError:
    # A learner's copy of the course, without the instructors' tools (course_lib alone): all that
    # `nbgrader validate` needs is the time a cell may take, the kit's default limit per cell
    # (course_tools.limits.Limits.cell_seconds) rather than nbgrader's 30 s.
    c.Execute.timeout = 300
else:
    c.CourseDirectory.course_id = "nn-sentiment"
    c.CourseDirectory.source_directory = layout.SOURCE
    c.CourseDirectory.release_directory = layout.RELEASE
    c.CourseDirectory.submitted_directory = layout.SUBMITTED
    c.CourseDirectory.autograded_directory = layout.AUTOGRADED
    c.CourseDirectory.feedback_directory = layout.FEEDBACK
    c.CourseDirectory.db_url = f"sqlite:///{layout.GRADEBOOK}"
    c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

    # solutions/labs/ holds the labs' sources (released into notebooks/ by `make release`), not an
    # assignment: nbgrader's own listing of the assignments (formgrader) leaves it out.
    nbgrader_settings.hide_labs()

    # A cell's time when nbgrader runs a notebook (`nbgrader validate`): the kit's limit per cell
    # (cell_seconds, the largest in grading.toml next to this file), not nbgrader's default of 30 s.
    c.Execute.timeout = nbgrader_settings.execution_timeout(Path(__file__).resolve().parent)

    # `nbgrader generate_feedback` (formgrader's "Generate Feedback") renders the autograded notebooks,
    # which hold the hidden tests: it removes them first. (`make autograde` writes its own feedback.)
    c.GenerateFeedback.preprocessors = ["nbgrader.preprocessors.GetGrades",
                                        "nbgrader.preprocessors.ClearHiddenTests",
                                        "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor"]

    # nbgrader's own autograde (formgrader's "Autograde" button) would run learners' code unconfined, in
    # your kernel: it stops before running anything. `make autograde` grades, in the sandbox.
    c.Autograde.sanitize_preprocessors = ["course_tools.nbgrader_guard.RefuseUnsandboxedAutograde"]

    # Late submissions (submitted/<student>/<assignment>/timestamp.txt later than the assignment's due
    # date, set with `nbgrader db assignment add NAME --duedate=...`): nbgrader's penalty, which
    # `make autograde` applies too: 'none' (the default) or 'zero'; or a plugin of your own,
    # c.AssignLatePenalties.plugin_class = "module.Class" (a LateSubmissionPlugin subclass, in a
    # module importable from the course's folder).
    c.LateSubmissionPlugin.penalty_method = "none"
