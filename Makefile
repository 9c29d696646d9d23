# Two commands for a fresh machine:
#   make run    set up the environment, then run the default Kedro pipeline
#   make test   set up the environment, then run the test suite
# make ui / make viz open MLflow's UI (on the runs table) / Kedro-Viz without activating the venv.
# ENV=<name> picks a configuration environment for run, ui and viz (e.g. make viz ENV=test).
# The environment is created once in .venv and refreshed when pyproject.toml changes.
#
# torch: CPU machines get the pinned CPU build below. On a GPU machine install the CUDA build of
# torch that matches your driver into .venv first, then run `make setup TORCH_SPEC=`.

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
ENV ?=
ENV_FLAG := $(if $(strip $(ENV)),--env $(strip $(ENV)))
# Kedro-Viz builds the pipelines before its session: KEDRO_ENV makes their shape the env's too
ENV_VAR := $(if $(strip $(ENV)),KEDRO_ENV=$(strip $(ENV)))
# the venv's bin first on PATH: kedro-mlflow and kedro-viz start `mlflow` and others by name
ON_PATH := PATH=$(abspath $(BIN)):$$PATH
export KEDRO_DISABLE_TELEMETRY := true

.PHONY: setup run test lint ui viz clean-data

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(if $(strip $(TORCH_SPEC)),$(BIN)/python -m pip install "$(TORCH_SPEC)")
	$(BIN)/python -m pip install -e ".[test]"
	touch $@

setup: $(VENV)/.installed

run: setup
	$(BIN)/kedro run $(ENV_FLAG)

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check src tests benchmarks

ui: setup
	$(ON_PATH) $(BIN)/python -m upgan.pipelines.mlflow_view $(ENV_FLAG)

viz: setup
	$(ON_PATH) $(ENV_VAR) $(BIN)/kedro viz run $(ENV_FLAG)
