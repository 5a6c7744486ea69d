# Two commands do all the set-up on a fresh machine with python3 (>= 3.11) and make:
#   make run    serve the API on http://127.0.0.1:8000 on an embedded Postgres
#   make test   run the whole suite against a real Postgres
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck openapi openapi-check check clean bench chromium

SERVE_STAMP := $(VENV)/.installed-serve

# `make run` installs what serving needs; `make test` and the other targets the dev tools too.
$(SERVE_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(SERVE_STAMP)

$(STAMP): $(SERVE_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(SERVE_STAMP)
	$(BIN)/registry serve

# Debian's chromium renders the pages people read in the tests (tests/test_rendering.py).
chromium:
	command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

test: $(STAMP) chromium
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy app

openapi: $(STAMP)
	$(BIN)/registry openapi

openapi-check: $(STAMP)
	$(BIN)/registry openapi --check

check: test lint typecheck openapi-check

# The benchmarks (bounded, under 15 minutes): wrk from Debian when it can be had, else a Python
# driver. Figures go to bench/results/ and the terminal.
bench: $(STAMP)
	command -v wrk >/dev/null || (apt-get install -y wrk >/dev/null 2>&1 || true)
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
