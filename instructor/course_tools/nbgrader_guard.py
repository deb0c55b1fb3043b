"""A guard that nbgrader_config.py puts in nbgrader's own autograde (`nbgrader autograde`, formgrader's
"Autograde" button): it stops it before it runs anything. nbgrader's autograde runs learners' code
unconfined, in the instructor's own kernel (README, "Grading safely"); this course is graded by
`make autograde`, in the sandbox.

nbgrader has by then removed the student's autograded/<student>/<assignment>/ folder (it does so on
--force, and formgrader's button forces): the next `make autograde` grades that submission again.
"""
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool


class RefuseUnsandboxedAutograde(Preprocessor):
    """The first step of nbgrader's autograde, in place of its own: raises, so nothing is run."""

    enabled = Bool(True)    # nbconvert's preprocessors are off unless enabled

    def preprocess(self, nb, resources):
        raise RuntimeError("this course is graded by `make autograde` (in a sandbox), not by nbgrader's "
                           "autograde, which would run learners' code unconfined: run `make autograde`")
