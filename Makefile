# The two commands a newcomer runs on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: demo test lint typecheck unit edc-up edc-down bench clean lock
PIP := $(BIN)/python -m pip --quiet --disable-pip-version-check

# Exact versions from constraints.txt (refresh it with `make lock`).
$(STAMP): pyproject.toml constraints.txt
	@echo "Installing vaultsync and its pinned dependencies into $(VENV) ..."
	@$(PYTHON) -m venv $(VENV)
	@$(PIP) install --upgrade pip
	@$(PIP) install -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

## lock: refresh constraints.txt after changing a dependency in pyproject.toml
lock:
	@PYTHON=$(PYTHON) bash .ci/lock.sh

## demo: create the environment, start the dev-server, validate -> plan -> apply -> plan (no changes)
demo: $(STAMP)
	@bash examples/demo.sh

## test: lint, type-check and the whole test suite (real-connector tests need Java 17 + Maven)
test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check vaultsync tests bench action
	$(BIN)/ruff format --check vaultsync

typecheck: $(STAMP)
	$(BIN)/mypy vaultsync action/*.py

unit: $(STAMP)
	PATH="$$(bash .ci/sops-tools.sh)$$PATH" $(BIN)/python -m pytest $(PYTEST_ARGS)

## edc-up / edc-down: a real EDC connector (Maven Central + the secrets-API jars in ../shared/edc) on loopback
edc-up: $(STAMP)
	@$(BIN)/python tests/edc/runtime.py up

edc-down:
	@$(PYTHON) tests/edc/runtime.py down

## bench: performance figures (dev-server, and the real connector when Java is available)
bench: $(STAMP)
	$(BIN)/python bench/bench.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .demo
