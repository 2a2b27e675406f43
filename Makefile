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
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.syrena-installed
SERVICES_ENV := var/services.env
ASSETS_STAMP := node_modules/.syrena-installed
PYTEST_ARGS ?=
BENCH_ARGS ?=

# Load var/services.env and put the venv first on PATH (`flask`, `pytest`, `honcho`).
WITH_ENV = set -a && . ./$(SERVICES_ENV) && set +a && export PATH="$(BIN):$$PATH" &&

.PHONY: help venv assets services migrate run test bench stop-services services-status clean

help:
	@echo "make run            set everything up and start web, 2 workers and the SMSC simulator (Ctrl-C stops)"
	@echo "make test           set everything up (incl. Chromium) and run the tests; PYTEST_ARGS='-k zones -x'"
	@echo "make test-fast      the fast tier only: no database, Redis, simulator, worker or browser (< 20 s)"
	@echo "make bench          run the benchmarks in bench/ (results: docs/benchmarks.md); BENCH_ARGS=..."
	@echo "make venv           create .venv and install the project (again when pyproject.toml changes)"
	@echo "make assets         install the browser assets from npm (Leaflet-Geoman; again when package-lock.json changes)"
	@echo "make services       make sure PostgreSQL+PostGIS and Redis answer; writes $(SERVICES_ENV)"
	@echo "make migrate        flask db upgrade"
	@echo "make services-status / stop-services / clean"

venv: $(STAMP)

# Reinstall only when pyproject.toml changes; recreate the venv if its python is gone.
$(STAMP): pyproject.toml
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
	$(VENV)/bin/python -m pip install -q -e '.[test]'
	@touch $@

assets: $(ASSETS_STAMP)

# Browser assets (Leaflet-Geoman) from npm, exactly as package-lock.json pins them, served by Flask from
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
