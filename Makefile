# The course kit's commands. `make course` and `make test` do all their own set-up.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# nbgrader runs tools (alembic) from the environment's bin/ by name.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# The NLTK data directory (twitter_samples, stopwords); `make data` fills it.
export COURSE_DATA_DIR ?= $(CURDIR)/nltk_data

JOBS   ?= 1
# The grading engine: local (a process pool of JOBS workers) or dask (a Dask cluster at SCHEDULER).
ENGINE ?= local
TEST_WORKERS ?= auto

.PHONY: setup system-deps data release site student-edition autograde formgrader course test bench clean

## setup: create .venv and install course_lib (the learners' package, with the dev extras, the
## site extras, the website's builder, and the bench extras, `make bench`'s peers) and course_tools
## (the instructors' package, instructor/) (quick when done)
setup: $(STAMP)
$(STAMP): pyproject.toml instructor/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,site,bench]' -e './instructor[distributed]'
	touch $@

## system-deps: bubblewrap, the sandbox that grading runs notebooks in, and chromium with
## chromium-driver, the headless browser that tests the course website (installed as root with apt);
## a prerequisite of the targets that grade: autograde, course, test, bench
SYSTEM_PACKAGES := bubblewrap chromium chromium-driver
system-deps:
	@missing="$$(for p in $(SYSTEM_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | \
	  grep -q 'ok installed' || echo $$p; done)"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get install -y -qq $$missing >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null && apt-get install -y -qq $$missing >/dev/null; }; \
	  else \
	    echo "note: grading needs bubblewrap, the website's test chromium and chromium-driver:" \
	         "sudo apt-get install $$missing"; \
	  fi; \
	fi

## data: fetch twitter_samples and stopwords into $(COURSE_DATA_DIR) if they are missing
data: setup
	$(PY) -m course_lib.data

## release: regenerate the student versions in assignments/ from solutions/ (nbgrader), and the labs
## in notebooks/ from solutions/labs/ (answers replaced by stubs)
release: setup
	$(PY) -m course_tools.release

## site: the course website in build/site (OUT=folder for another): the labs executed and cleared of
## their answers, the released assignments, the lecture map; view it with `python -m http.server -d build/site`
site: setup
	$(PY) -m course_tools.website $(or $(OUT),build/site)

## student-edition: write the learners' repository into DEST (course_lib, the labs, the released
## assignments, the built course website in site/, a learners' README and set-up; no solutions, tests or tools): make student-edition
## DEST=../course-learners [FORCE=1: replace what DEST holds] [GIT=1: commit it] [REPOSITORY=url BRANCH=b]
student-edition: setup
	@test -n "$(DEST)" || { echo "usage: make student-edition DEST=folder [FORCE=1] [GIT=1]"; exit 2; }
	$(PY) -m course_tools.student_edition "$(DEST)" $(if $(FORCE),--force) $(if $(GIT),--git) \
	  $(if $(REPOSITORY),--repository "$(REPOSITORY)") $(if $(BRANCH),--branch "$(BRANCH)")

## autograde: grade everything under submitted/<student>/<assignment>/ (JOBS=n at once), export grades.csv;
## ENGINE=dask SCHEDULER=tcp://host:8786: on a running Dask cluster instead (see README, "Grading on a cluster")
autograde: setup system-deps
	$(PY) -m course_tools.autograde --jobs $(JOBS) --engine $(ENGINE) $(if $(SCHEDULER),--scheduler $(SCHEDULER)) \
	  $(if $(UNSAFE),--unsafe)

## formgrader: nbgrader's formgrader on this course, for manual grading and comments: open the URL it
## prints (http://127.0.0.1:8888/formgrader?token=...; PORT=n for another port); ^C stops it
formgrader: setup
	$(VENV)/bin/jupyter server --ServerApp.ip=127.0.0.1 --ServerApp.port=$(or $(PORT),8888) \
	  --ServerApp.default_url=/formgrader $(if $(filter 0,$(shell id -u)),--ServerApp.allow_root=True)

## course: data, release, run the reference solutions, grade a sample class, report
course: data release system-deps
	$(PY) -m course_tools.course

## test: the test suite, on TEST_WORKERS pytest-xdist workers (default: one per CPU core; 0: none);
## tests that share a graded batch or another expensive fixture run on one worker (tests/conftest.py)
test: data system-deps
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup

## bench: the benchmarks (ONLY="train_step preprocess" for some); writes build/bench.json
bench: data system-deps
	$(PY) -m benchmarks.run $(if $(ONLY),--only $(ONLY))

clean:
	rm -rf build autograded feedback gradebook.db grades.csv .pytest_cache
