"""What the whole test session shares: one JAX compilation cache, the course report lines printed
at the end, and, under pytest-xdist (`make test` runs `pytest -n auto --dist loadgroup`), the
tests that share an expensive fixture kept on one worker.

- JAX's persistent compilation cache: one temporary directory for the session, named by
  $JAX_COMPILATION_CACHE_DIR (unless it is set already; removed at the end), every program
  cached however quick its compilation, so that this process, the xdist workers
  and the unsandboxed kernels the tests start (labs, --unsafe grading) reuse each other's
  compiled programs. Sandboxed grading kernels get none of the host's environment
  (sandbox.kernel_environment); grading's own read-only caches (course_tools.compile_cache) go to
  a folder of this session, `_compile_caches_of_this_session`.
- The executed labs: one temporary folder for the session, $COURSE_TESTS_SITE_CACHE (see SITE_CACHE).
- `course_report(line)`: a fixture for tests that report a figure on every run (the visible tests'
  catch ratios, the learner-style solutions' scores). The lines are printed in a "course report"
  section at the end of the run, from the test reports, so that they show under xdist too (a
  worker's own prints are never shown).
- xdist groups: tests that use the same instance of a class-, module- or session-scoped fixture
  defined in tests/ (a graded batch, `make course`'s run, a built student edition) go to the
  same worker, which sets the fixture up once, as a run without xdist does. Tests that use none
  are spread over the workers one by one.
"""
from __future__ import annotations

import os
import shutil
import tempfile

import pytest

REPORT_KEY = "course_report"
# Shared fixtures that are quick to make again (an Assignment, a released toy course) while the tests
# that use them each grade for real: under xdist each worker makes its own, and those tests spread.
# An autouse fixture every test uses is set up on each worker too, or it would put every test in one group.
SET_UP_ON_EACH_WORKER = {"assignment", "toy", "released", "two_assignments",
                         "_compile_caches_of_this_session"}
_created_cache_dir: str | None = None
# The labs executed once for the session: test_lab_notebooks runs each lab's source through the
# site's executor (course_tools.website.execute_lab) into this folder, and test_site's build reads
# them from it, instead of running every lab twice. Both are in one xdist group ("lab-executions"),
# so that the lab tests, collected first, fill it before the site is built.
SITE_CACHE = "COURSE_TESTS_SITE_CACHE"
_created_site_cache: str | None = None
_report_lines: list[str] = []


def _is_xdist_worker() -> bool:
    return "PYTEST_XDIST_WORKER" in os.environ


def pytest_configure(config):
    global _created_cache_dir, _created_site_cache
    config.addinivalue_line("markers", "xdist_group(name): run on the same xdist worker as the other "
                                       "tests of the group (--dist loadgroup)")
    if (not _is_xdist_worker() and config.getoption("dist", "no") == "loadgroup"
            and config.getoption("numprocesses", None)
            and tuple(map(int, pytest.__version__.split(".")[:2])) >= (9, 2)):
        # Each worker would set up the shared fixtures again, and `make course`'s run would write build/
        # twice at once.
        raise pytest.UsageError(
            f"pytest {pytest.__version__} with pytest-xdist runs --dist loadgroup without its groups "
            "(pytest-dev/pytest-xdist#1386): install pytest<9.2 (`make setup` does), or run with -n 0")
    # Set before the workers start (they inherit the environment) and before a test imports JAX.
    if "JAX_COMPILATION_CACHE_DIR" not in os.environ and not _is_xdist_worker():
        _created_cache_dir = tempfile.mkdtemp(prefix="course-tests-jax-cache-")
        os.environ["JAX_COMPILATION_CACHE_DIR"] = _created_cache_dir
        # Every program, not only those that took over a second to compile (JAX's default): the
        # tests compile many small ones again and again (each Loop, each exec of a test cell).
        os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    if SITE_CACHE not in os.environ and not _is_xdist_worker():
        _created_site_cache = tempfile.mkdtemp(prefix="course-tests-site-cache-")
        os.environ[SITE_CACHE] = _created_site_cache


def pytest_unconfigure(config):
    for created in (_created_cache_dir, _created_site_cache):
        if created:
            shutil.rmtree(created, ignore_errors=True)


def pytest_xdist_auto_num_workers(config):
    """`-n auto`: one worker per CPU this process may use (its affinity, and a container's CPU quota),
    not psutil's count of the host's cores; $PYTEST_XDIST_AUTO_NUM_WORKERS overrides it."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS", "").isdigit():
        return int(os.environ["PYTEST_XDIST_AUTO_NUM_WORKERS"])
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    for files in (["/sys/fs/cgroup/cpu.max"],      # cgroup v2: "max 100000" or "200000 100000"
                  ["/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us"]):  # v1
        try:
            quota, period = " ".join(open(file).read() for file in files).split()
            if quota not in ("max", "-1"):
                cpus = min(cpus, max(1, int(quota) // int(period)))
        except (OSError, ValueError):
            pass
    return cpus


@pytest.fixture
def course_report(request):
    """`course_report(line)`: prints `line` in the "course report" section at the end of the run."""
    def report(line: str) -> None:
        request.node.user_properties.append((REPORT_KEY, line))
    return report


def pytest_runtest_logreport(report):
    # On the controller, reports come from the workers with their user_properties.
    if report.when == "call":
        _report_lines.extend(value for key, value in report.user_properties if key == REPORT_KEY)


def pytest_terminal_summary(terminalreporter):
    if _report_lines and not _is_xdist_worker():
        terminalreporter.section("course report")
        for line in _report_lines:
            terminalreporter.write_line(line)


def _shared_instances(item) -> list[str]:
    """Keys of the instances of the non-function-scoped fixtures from tests/ that `item` uses."""
    keys = []
    for name, definitions in item._fixtureinfo.name2fixturedefs.items():
        definition = definitions[-1]              # the one in effect for this item
        if (definition.scope == "function" or not definition.baseid       # baseid "": pytest's or a plugin's
                or name in SET_UP_ON_EACH_WORKER):
            continue
        if definition.scope == "class" and item.getparent(pytest.Class) is not None:
            holder = item.getparent(pytest.Class).nodeid
        elif definition.scope in ("class", "module"):
            holder = item.getparent(pytest.Module).nodeid
        else:                                     # package, session
            holder = definition.scope
        callspec = getattr(item, "callspec", None)
        index = callspec.indices.get(name, "") if callspec else ""
        keys.append(f"{holder}::{name}{index}")
    return keys


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(items):
    _group_shared_fixtures(items)   # before xdist's hook, which adds each item's group to its nodeid
    yield


def _group_shared_fixtures(items) -> None:
    """Puts the tests that share a fixture instance (or an explicit xdist_group) in one xdist group:
    the union of those that share any, so that each item ends up with exactly one group name."""
    parent: dict[str, str] = {}

    def find(key: str) -> str:
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    keys_of = {}
    for item in items:
        keys = _shared_instances(item)
        keys += [f"group:{mark.args[0] if mark.args else mark.kwargs.get('name', 'default')}"
                 for mark in item.iter_markers("xdist_group")]
        keys_of[item] = keys
        for key in keys[1:]:
            parent[find(key)] = find(keys[0])
    for item, keys in keys_of.items():
        if not keys:
            continue
        for node in item.listchain():             # one group per item: xdist would join several names
            node.own_markers[:] = [m for m in node.own_markers if m.name != "xdist_group"]
        item.add_marker(pytest.mark.xdist_group(find(keys[0]).removeprefix("group:").removeprefix("tests/")))


@pytest.fixture(scope="session", autouse=True)
def _compile_caches_of_this_session(tmp_path_factory):
    """Grading's JAX compilation caches (course_tools.compile_cache) in a folder of this session (of
    this worker, under pytest-xdist), filled once for it, rather than in each course's build/."""
    if "COURSE_GRADE_COMPILE_CACHE" not in os.environ:
        os.environ["COURSE_GRADE_COMPILE_CACHE"] = str(tmp_path_factory.mktemp("compile-cache"))
    yield
