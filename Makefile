# Two commands do everything: `make run` (start the app) and `make test` (run the whole suite).
# The virtual environment is built once and rebuilt only when a requirements file changes.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-fast test-postgres e2e bench migrate gpu-carry

$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -r requirements.txt
	$(PY) -m pip install --no-deps -r requirements-nodeps.txt
	# The project itself, editable: `core`, `db`, `usecases` and `dashboard` import from anywhere.
	$(PY) -m pip install --no-deps -e .
	touch $(STAMP)

migrate: $(STAMP)
	$(PY) -m usecases.cli.migrate

run: migrate
	$(VENV)/bin/streamlit run dashboard/app.py --server.address 127.0.0.1 --server.headless true

test: $(STAMP)
	$(PY) -m pytest

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow and not e2e"

# The data-layer and page tests against PostgreSQL: a throw-away server on 127.0.0.1 unless
# ACNE_TEST_POSTGRES_URL already names one.
test-postgres: $(STAMP)
	ACNE_TEST_POSTGRES_URL=$${ACNE_TEST_POSTGRES_URL:-$$(.ci/start-postgres)} $(PY) -m pytest tests/db tests/usecases tests/dashboard

e2e: $(STAMP)
	$(PY) -m pytest -m e2e

bench: $(STAMP)
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
