# `make run`: install and start the platform on the embedded profile (SQLite, in-process feed).
# `make test`: install and run the whole test suite (PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py run_platform

test: $(STAMP)
	$(BIN)/python -m pytest -n auto
