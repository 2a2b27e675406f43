# Syrena — the two commands are `make run` and `make test`; see README.md.
#
# scripts/services.py makes sure PostgreSQL+PostGIS and Redis answer (starting
# local ones under var/ when the configured ones do not) and writes the URLs to
# use to var/services.env; every recipe below that talks to them loads that file
# first ($(WITH_ENV)), so SYRENA_DATABASE__URL / SYRENA_REDIS__URL always match
# the servers that were found or started.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.syrena-installed
SERVICES_ENV := var/services.env
ASSETS_STAMP := node_modules/.syrena-installed
PYTEST_ARGS ?=
BENCH_ARGS ?=

# Load var/services.env and put the venv first on PATH (`flask`, `pytest`, `honcho`).
WITH_ENV = set -a && . ./$(SERVICES_ENV) && set +a && export PATH="$(BIN):$$PATH" &&

.PHONY: help venv lock lint assets services migrate run test bench stop-services services-status clean

# Everything `make venv` installs, pinned in requirements.lock (pyproject.toml keeps the ranges).
EXTRAS := test run deploy lint
LOCK_ARGS ?=
# What `make lint` checks: ruff everywhere; mypy, the unused-code and the duplicate/cycle scans on the packages.
PACKAGES := app zones campaigns smsc_gateway smsc_simulator subscribers billing syrena_core feeds

help:
	@echo "make run            set everything up and start web, 2 workers and the SMSC simulator (Ctrl-C stops)"
	@echo "make test           set everything up (incl. Chromium) and run the tests; PYTEST_ARGS='-k zones -x'"
	@echo "make test-fast      the fast tier only: no database, Redis, simulator, worker or browser (< 20 s)"
	@echo "make bench          run the benchmarks in bench/ (results: docs/benchmarks.md); BENCH_ARGS=..."
	@echo "make lint           ruff (lint + format check), mypy, vulture, duplicate-code and import-cycle scans"
	@echo "make venv           create .venv and install requirements.lock + the project (again when either changes)"
	@echo "make lock           recompile requirements.lock from pyproject.toml (LOCK_ARGS=--upgrade to move pins)"
	@echo "make assets         install the browser assets from npm (Leaflet, Leaflet-Geoman, Chart.js; again when package-lock.json changes)"
	@echo "make services       make sure PostgreSQL+PostGIS and Redis answer; writes $(SERVICES_ENV)"
	@echo "make migrate        flask db upgrade"
	@echo "make services-status / stop-services / clean"

venv: $(STAMP)

# Reinstall only when pyproject.toml or the lock changes; recreate the venv if its python is gone. The pinned
# versions come from requirements.lock, the project itself is installed editable without resolving again;
# `pip check` then fails when pyproject.toml wants something the lock lacks (run `make lock`).
$(STAMP): pyproject.toml requirements.lock
	@if ! $(VENV)/bin/python -c '' 2>/dev/null; then \
	  rm -rf $(VENV); \
	  echo "creating $(VENV)"; \
	  if ! $(PYTHON) -m venv $(VENV); then \
	    echo "python3 -m venv failed; installing python3-venv"; \
	    rm -rf $(VENV); \
	    $(PYTHON) scripts/services.py apt python3-venv; \
	    $(PYTHON) -m venv $(VENV); \
	  fi; \
	fi
	$(VENV)/bin/python -m pip install -q -r requirements.lock
	$(VENV)/bin/python -m pip install -q --no-deps -e .
	@$(VENV)/bin/python -m pip check || { echo "make venv: requirements.lock does not satisfy pyproject.toml; run 'make lock'" >&2; exit 1; }
	@touch $@

# One command after any change to the dependencies in pyproject.toml: keeps the pins it can (uv reads the
# old file), adds what is new. --universal: one file for every platform and Python >= 3.11.
lock:
	@if ! $(VENV)/bin/python -c '' 2>/dev/null; then $(PYTHON) -m venv $(VENV); fi
	@$(VENV)/bin/python -m uv --version >/dev/null 2>&1 || $(VENV)/bin/python -m pip install -q 'uv>=0.4'
	$(VENV)/bin/python -m uv pip compile pyproject.toml --universal --python-version 3.11 --quiet \
	  $(addprefix --extra ,$(EXTRAS)) $(LOCK_ARGS) -o requirements.lock

# Every check runs even when an earlier one fails, so one run shows all findings; any finding fails the target.
# The duplicate scan reads the packages at 4 equal lines and tests/ + bench/ at 6 (pyproject.toml [tool.pylint]).
lint: venv
	@rc=0; \
	echo "ruff check";          $(BIN)/ruff check . || rc=1; \
	echo "ruff format --check"; $(BIN)/ruff format --check . || rc=1; \
	echo "mypy";                $(BIN)/mypy || rc=1; \
	echo "vulture";             $(BIN)/vulture || rc=1; \
	echo "pylint duplicate-code, cyclic-import"; \
	$(BIN)/pylint --disable=all --enable=duplicate-code,cyclic-import --score=n $(PACKAGES) || rc=1; \
	$(BIN)/pylint --disable=all --enable=duplicate-code --score=n --min-similarity-lines=6 tests bench || rc=1; \
	if [ $$rc -ne 0 ]; then echo "make lint: FAILED (see above)" >&2; fi; \
	exit $$rc

assets: $(ASSETS_STAMP)

# Browser assets (Leaflet, Leaflet-Geoman, Chart.js) from npm, exactly as package-lock.json pins them, served by Flask from
# node_modules/; again only when the lock file changes. Debian's nodejs/npm are installed when npm is missing.
$(ASSETS_STAMP): package.json package-lock.json
	@if ! command -v npm >/dev/null 2>&1; then \
	  echo "npm not found; installing Debian nodejs npm"; \
	  $(PYTHON) scripts/services.py apt nodejs npm; \
	fi
	npm ci --no-audit --no-fund
	@touch $@

services:
	$(PYTHON) scripts/services.py up

migrate: venv services
	$(WITH_ENV) flask db upgrade

run: venv assets services migrate
	$(WITH_ENV) scripts/run.sh

test: venv assets
	$(PYTHON) scripts/services.py up --chromium
	@echo "pytest $(PYTEST_ARGS)"
	@$(WITH_ENV) rc=0; pytest $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: FAILED — pytest collected no tests (exit 5)" >&2; fi; \
	exit $$rc

# The fast tier (tests/conftest.py): tests that use no service — pure functions, codecs, parsers, config,
# geometry — for every save. Needs only the venv: no services, no var/services.env; a test of the tier that
# reaches for a service fails (sockets and processes are locked under --fast). Bytecode is written even where
# the shell says not to (PYTHONDONTWRITEBYTECODE): pytest's rewritten test modules are cached with it, which
# halves the start-up.
.PHONY: test-fast
test-fast: venv
	@unset PYTHONDONTWRITEBYTECODE; rc=0; $(BIN)/pytest --fast $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test-fast: FAILED — pytest collected no tests (exit 5)" >&2; fi; \
	exit $$rc

bench: venv assets services
	$(WITH_ENV) python bench/run.py $(BENCH_ARGS)

services-status:
	@$(PYTHON) scripts/services.py status

# Stops only the servers scripts/services.py started under var/, never a system service.
stop-services:
	$(PYTHON) scripts/services.py stop

clean:
	$(PYTHON) scripts/services.py stop --purge
	rm -rf var .pytest_cache bench/results
