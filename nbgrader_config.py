"""nbgrader's configuration for this course: solutions/ is the source, assignments/ the release."""
from course_tools import layout

c = get_config()  # noqa: F821 (nbgrader provides it)
c.CourseDirectory.course_id = "nn-sentiment"
c.CourseDirectory.source_directory = layout.SOURCE
c.CourseDirectory.release_directory = layout.RELEASE
c.CourseDirectory.submitted_directory = layout.SUBMITTED
c.CourseDirectory.autograded_directory = layout.AUTOGRADED
c.CourseDirectory.feedback_directory = layout.FEEDBACK
c.CourseDirectory.db_url = f"sqlite:///{layout.GRADEBOOK}"
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
