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

# Debian packages the tests use, each installed only when missing: qemu-user-static runs ARM
# artifacts on aarch64 (edgeopt calls qemu-aarch64-static itself; binfmt is not needed),
# chromium renders the run report, openssh-server/-client are the SSH "device" (the test
# fixture starts its own sshd on 127.0.0.1; no system service is needed).
sysdeps:
	@missing=""; \
	command -v qemu-aarch64-static >/dev/null 2>&1 || missing="$$missing qemu-user-static"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	[ -x /usr/sbin/sshd ] || missing="$$missing openssh-server"; \
	command -v ssh >/dev/null 2>&1 || missing="$$missing openssh-client"; \
	[ -z "$$missing" ] || { \
	  SUDO=""; [ "$$(id -u)" -ne 0 ] && SUDO="sudo"; \
	  $$SUDO apt-get update -q && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; }

demo: setup
	$(VENV)/bin/optimize run

test: setup sysdeps
	$(VENV)/bin/pytest -q

test-all: setup sysdeps
	$(VENV)/bin/pytest -q -m ''

lint: setup
	$(VENV)/bin/ruff check edgeopt tests benchmarks
	$(VENV)/bin/ruff format --check edgeopt tests benchmarks
