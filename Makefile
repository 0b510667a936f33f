# Two commands do everything: `make up` runs the system, `make test` runs the tests.
# Both create .venv and install what is missing first (scripts/setup.sh), Debian packages included.

VENV  := .venv
STAMP := $(VENV)/.installed-stamp
BIN   := $(VENV)/bin
# incidents notified at once by the load test within `make test` (CI's 30 minutes on 2 cores); test-faults runs 200
LOAD_IN_TEST := 20
# pytest processes: the tests spend much of their time waiting on a Prefect server, a worker's process or a browser,
# so two keep both cores busy. Each has its own CSPR_HOME, Prefect server, PostgreSQL database and S3 server, and
# gets whole test files (--dist loadfile), so a file's module fixtures are set up once.
PYTEST_PROCESSES := -n 2 --dist loadfile

.PHONY: up up-team test test-faults e2e lint clean-state

$(STAMP): pyproject.toml constraints.txt package-lock.json scripts/setup.sh
	bash scripts/setup.sh
	@touch $(STAMP)

up: $(STAMP)
	$(BIN)/cspr up

# The team set-up: Prefect and the project database on PostgreSQL, two workers, S3 (see docs/operators.md).
up-team: $(STAMP)
	$(BIN)/cspr up --team

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest $(PYTEST_PROCESSES)
	CSPR_LOAD_REVIEWS=$${CSPR_LOAD_REVIEWS:-$(LOAD_IN_TEST)} $(BIN)/pytest $(PYTEST_PROCESSES) -m faults tests/faults

# The slow fault and load tests alone (also part of `make test`, in a pytest session of their own): a worker killed
# mid-stage, the Prefect server restarted under 50 waiting reviews, incidents notified at once on the team set-up.
# One process here, unlike `make test`: nothing else competes for the cores while the load test takes its figures.
test-faults: $(STAMP)
	$(BIN)/pytest -m faults tests/faults

# The end-to-end tests alone (also part of `make test`): the coordinator's journey in Chromium, and cspr demo on the
# team set-up (PostgreSQL, two workers, S3) with a planted name searched for afterwards.
e2e: $(STAMP)
	$(BIN)/pytest tests/e2e

lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean-state:
	rm -rf .cspr
