# Two commands do everything: `make run` (start the app) and `make test` (run the whole suite).
# One pyproject.toml, two environments in the same .venv: `make run` installs the run time only
# (the app, the analysis, the clinic's commands; no torch, about 1.2 GB); `make test` adds the
# `train` and `dev` extras (torch, the training code's libraries, pytest, Playwright). Each is
# installed once and again only when pyproject.toml or requirements-nodeps.txt change.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
RUN_STAMP := $(VENV)/.installed-run
STAMP := $(VENV)/.installed

.PHONY: run test test-fast test-postgres e2e bench migrate gpu-carry check-run check-wheel

$(VENV)/bin/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# The run time: the project in editable mode with its pinned dependencies (pyproject.toml).
$(RUN_STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -e .
	touch $(RUN_STAMP)

# Everything: the run time, the train and dev extras, and the two packages whose metadata pins
# ancient dependencies (requirements-nodeps.txt, installed with --no-deps).
$(STAMP): pyproject.toml requirements-nodeps.txt | $(VENV)/bin/python
	$(PY) -m pip install -e ".[train,dev]"
	$(PY) -m pip install --no-deps -r requirements-nodeps.txt
	touch $(STAMP) $(RUN_STAMP)

migrate: $(RUN_STAMP)
	$(VENV)/bin/acne migrate

run: migrate
	$(VENV)/bin/acne serve

test: $(STAMP)
	$(PY) -m pytest

# CI's check of the run command: the run-time environment only (no torch, its size printed),
# then a migrated throw-away data folder and the app answering /_stcore/health.
check-run: $(RUN_STAMP)
	.ci/check-run

# CI's check of the wheel: built, installed with its dependencies into a fresh venv, then
# `acne analyze` from another folder gives the checkout's JSON.
check-wheel: $(RUN_STAMP)
	.ci/check-wheel

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow and not e2e"

# The data-layer and page tests against PostgreSQL, and two app instances on PostgreSQL and S3:
# a throw-away server on 127.0.0.1 unless ACNE_TEST_POSTGRES_URL already names one.
test-postgres: $(STAMP)
	ACNE_TEST_POSTGRES_URL=$${ACNE_TEST_POSTGRES_URL:-$$(.ci/start-postgres)} $(PY) -m pytest tests/db tests/usecases tests/dashboard tests/e2e/test_two_instances.py \
	  tests/test_benchmarks.py::test_the_imports_at_once_get_a_database_of_their_own_on_the_postgresql_server

e2e: $(STAMP)
	$(PY) -m pytest -m e2e

# The ten import commands at once run against a PostgreSQL server where one can be started.
bench: $(STAMP)
	ACNE_BENCH_POSTGRES_URL=$${ACNE_BENCH_POSTGRES_URL:-$$(.ci/start-postgres 2>/dev/null || true)} \
	  $(PY) -m benchmarks.run

# What a lent GPU machine needs to train (see weights/MODEL_CARD.md, "On a GPU"): the wheels its
# image lacks and a packed subset of ACNE04, in the ignored folder gpu_carry/ (patient photos:
# delete it after the run).
gpu-carry: $(STAMP)
	rm -rf gpu_carry/wheels
	$(PY) -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
		--platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
		--dest gpu_carry/wheels -r core/training/gpu-wheels.txt
	$(PY) -m core.training.pack_data --data ../shared/data/acne04 --extra-data ../shared/data/web_acne \
		--out gpu_carry/acne04-pack.tar.gz
	du -sh gpu_carry
