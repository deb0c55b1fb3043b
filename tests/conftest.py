"""Settings for the whole test session."""
import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _compile_caches_of_this_session(tmp_path_factory):
    """Grading's JAX compilation caches (course_tools.compile_cache) in a folder of this session (of
    this worker, under pytest-xdist), filled once for it, rather than in each course's build/."""
    if "COURSE_GRADE_COMPILE_CACHE" not in os.environ:
        os.environ["COURSE_GRADE_COMPILE_CACHE"] = str(tmp_path_factory.mktemp("compile-cache"))
    yield
