# Set-up is idempotent: the venv is (re)installed only when pyproject.toml changes.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.edgeopt-installed

.PHONY: setup demo test test-all lint format

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[tflite,dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(VENV)/bin/optimize run

test: setup
	$(VENV)/bin/pytest -q

test-all: setup
	$(VENV)/bin/pytest -q -m ''

lint: setup
	$(VENV)/bin/ruff check edgeopt tests benchmarks
	$(VENV)/bin/ruff format --check edgeopt tests benchmarks
