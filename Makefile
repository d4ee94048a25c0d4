# Set-up is idempotent: the venv is (re)installed only when pyproject.toml changes.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.edgeopt-installed

.PHONY: setup sysdeps demo test test-all lint format

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[tflite,dev]' --config-settings editable_mode=compat
	touch $(STAMP)

setup: $(STAMP)

# qemu-user-static runs ARM artifacts on aarch64 in the tests (edgeopt calls
# qemu-aarch64-static itself; binfmt is not needed). Installed only when missing.
sysdeps:
	@command -v qemu-aarch64-static >/dev/null 2>&1 || { \
	  SUDO=""; [ "$$(id -u)" -ne 0 ] && SUDO="sudo"; \
	  $$SUDO apt-get update -q && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q qemu-user-static; }

demo: setup
	$(VENV)/bin/optimize run

test: setup sysdeps
	$(VENV)/bin/pytest -q

test-all: setup sysdeps
	$(VENV)/bin/pytest -q -m ''

lint: setup
	$(VENV)/bin/ruff check edgeopt tests benchmarks
	$(VENV)/bin/ruff format --check edgeopt tests benchmarks
