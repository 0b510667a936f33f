# Two commands do everything: `make up` runs the system, `make test` runs the tests.
# Both create .venv and install what is missing first (scripts/setup.sh), Debian packages included.

VENV  := .venv
STAMP := $(VENV)/.installed-stamp
BIN   := $(VENV)/bin
# incidents notified at once by the load test within `make test` (CI's 30 minutes on 2 cores); test-faults runs 200
LOAD_IN_TEST := 20

.PHONY: up up-team test test-faults e2e lint clean-state

$(STAMP): pyproject.toml constraints.txt scripts/setup.sh
	bash scripts/setup.sh
	@touch $(STAMP)

up: $(STAMP)
	$(BIN)/cspr up

# The team set-up: Prefect and the project database on PostgreSQL, two workers, S3 (see the README).
up-team: $(STAMP)
	$(BIN)/cspr up --team

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest
	CSPR_LOAD_REVIEWS=$${CSPR_LOAD_REVIEWS:-$(LOAD_IN_TEST)} $(BIN)/pytest -m faults tests/faults

# The slow fault and load tests alone (also part of `make test`, in a pytest session of their own): a worker killed
# mid-stage, the Prefect server restarted under 50 waiting reviews, incidents notified at once on the team set-up.
test-faults: $(STAMP)
	$(BIN)/pytest -m faults tests/faults

# The end-to-end tests alone (also part of `make test`): cspr demo through a worker, the coordinator's journey in
# Chromium, and the team set-up on PostgreSQL with two workers and S3.
e2e: $(STAMP)
	$(BIN)/pytest tests/e2e

lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean-state:
	rm -rf .cspr
