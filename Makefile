# Two commands for a fresh machine:
#   make run    set up the environment, then run the default Kedro pipeline
#   make test   set up the environment, then run the test suite
# The environment is created once in .venv and refreshed when pyproject.toml changes.
#
# torch: CPU machines get the pinned CPU build below. On a GPU machine install the CUDA build of
# torch that matches your driver into .venv first, then run `make setup TORCH_SPEC=`.

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
export KEDRO_DISABLE_TELEMETRY := true

.PHONY: setup run test lint viz clean-data

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(if $(strip $(TORCH_SPEC)),$(BIN)/python -m pip install "$(TORCH_SPEC)")
	$(BIN)/python -m pip install -e ".[test]"
	touch $@

setup: $(VENV)/.installed

run: setup
	$(BIN)/kedro run

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check src tests benchmarks

viz: setup
	$(BIN)/kedro viz run
