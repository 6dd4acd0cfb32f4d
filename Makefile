# The two commands a new user needs: `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
WORKERS ?= 2
STAMP := $(VENV)/.installed-stamp

export FLASK_APP := api
export QBANK_ENV ?= development

.PHONY: install serve test lint lint-spec migrate seed bench profile soak eval clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

migrate: install
	$(BIN)/flask --app api db upgrade

seed: migrate
	$(BIN)/flask --app api seed

serve: seed
	PORT=$(PORT) WORKERS=$(WORKERS) exec $(BIN)/gunicorn --config gunicorn.conf.py 'api:create_app()'

lint: install
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest

# Spectral and Redocly on openapi.yaml alone (make test runs them too, in
# tests/contract/test_lint.py, which installs the pinned Node tools first).
lint-spec: install
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/contract/test_lint.py

# wrk on loopback against the app and a bare-Flask baseline (bench/README.md); BENCH_QUICK=1
# for a short development run. Writes bench/results/latest.md.
bench: install
	$(BIN)/python -m bench.run

# Where each benchmark row's time goes, in process, on a 100,000-question bank per backend
# (bench/profile.py): CPU, statements, driver time, and the profiled time by package.
profile: install
	$(BIN)/python -m bench.profile

# A bounded soak (SOAK_SECONDS, 180 by default) of a realistic mix from 200 learners through
# nginx, two app instances, PostgreSQL and Redis (bench/soak.py): no 5xx, no lost writes.
soak: install
	$(BIN)/python -m bench.soak

# Grading quality against the labelled answers in eval/grading (eval/run.py): a benchmark,
# not a test. Prints agreement, pass rates and separation per split.
eval: install
	$(BIN)/python -m eval.run

clean:
	rm -rf $(VENV) instance .pytest_cache node_modules
