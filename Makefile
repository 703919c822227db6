# Two commands for a new user: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test bench bench-scale bench-validation lint typecheck schema migrate seed clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required" if sys.version_info < (3, 11) else 0)'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps: reinstall only when the dependencies change (the package itself is installed editable).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.installed

## Migrate, seed the demo data, print demo tokens and serve GraphiQL on http://$(HOST):$(PORT)/graphql
run: $(VENV)/.installed
	$(BIN)/helpdesk db upgrade
	$(BIN)/helpdesk seed --demo
	@echo "GraphiQL: http://$(HOST):$(PORT)/graphql"
	$(BIN)/helpdesk serve --host $(HOST) --port $(PORT)

## Lint, type-check, check schema.graphql, and run the whole suite
test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/helpdesk schema check
	$(BIN)/pytest $(PYTEST_ARGS)

## The benchmark against a raw floor (needs PostgreSQL and Redis on localhost); see docs/PERFORMANCE.md
bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench.run $(BENCH_ARGS)

## The same plus W7: a 1M-ticket database (adds a few minutes for seeding)
bench-scale: $(VENV)/.installed-dev
	$(BIN)/python -m bench.run --scale $(BENCH_ARGS)

## Parse + validate CPU of the worst documents within the query limits (no services needed)
bench-validation: $(VENV)/.installed-dev
	$(BIN)/python -m bench.validation $(BENCH_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

## Regenerate schema.graphql from the code
schema: $(VENV)/.installed
	$(BIN)/helpdesk schema export

migrate: $(VENV)/.installed
	$(BIN)/helpdesk db upgrade

clean:
	rm -rf $(VENV) .helpdesk .pytest_cache .mypy_cache .ruff_cache
