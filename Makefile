# `make run`: install and start the platform on the embedded profile (SQLite, in-process feed).
# `make test`: install, check the layer contract and run the whole test suite (PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# What the platform needs to run, and on top of it what the test suite needs (pytest, reference
# libraries, ...): `make run` installs only the first.
RUNTIME_STAMP := $(VENV)/.installed-runtime-stamp
TEST_STAMP := $(VENV)/.installed-test-stamp

.PHONY: install run test

$(RUNTIME_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(RUNTIME_STAMP)

$(TEST_STAMP): $(RUNTIME_STAMP)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(TEST_STAMP)

install: $(TEST_STAMP)

run: $(RUNTIME_STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py run_platform

# The layer contract (pyproject.toml [tool.importlinter], docs/architecture.md) first: it takes a
# second and names the import that points up.
test: $(TEST_STAMP)
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n auto
