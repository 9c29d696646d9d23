"""MLflow child runs, one per experiment cell (task, method, n_train_patients).

kedro-mlflow opens one parent run per ``kedro run``; every node of a cell reopens the same
nested child run (found by its tags), so a cell's parameters, metrics and figures stay together
even though they come from several nodes.

Logging happens only inside a Kedro run: :class:`upgan.hooks.TrackingHooks` opens the gate
before the pipeline runs and closes it after. A node function called from a notebook or a
script logs nothing and never opens an MLflow run (nor creates ``mlruns/``), even when the
caller has an MLflow run of its own active. Nodes log only through this module.

What comes after a cell's own nodes (the report's figures, the hooks' ``cell_seconds`` and
model) goes to its child run through the client, without re-opening it, so the run's start
and end times stay those of the cell's nodes.
"""

from __future__ import annotations

import logging
import math
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
from matplotlib.figure import Figure
from mlflow.tracking import MlflowClient

from upgan.pipelines.mlflow_compare import cell_run_name

if TYPE_CHECKING:
    import pandas as pd

    from upgan.io.bundle import ModelBundle

logger = logging.getLogger(__name__)

CELL = re.compile(r"^(?P<task>[^.]+)\.(?P<method>[^.]+)\.n(?P<n>\d+)(?:\.s(?P<seed>\d+))?$")
"""A cell's namespace, e.g. ``pet_to_ct.upgan.n29.s2021`` (no seed: the ``input`` reference)."""
REPORT_PATH = "report"
"""Where the parent run holds the report (Table 1, the contract tables, the methods figures)."""

_gate: dict[str, Any] = {"open": False, "parent": None, "cells": {}}


def open_gate() -> None:
    """Let the helpers log (called when a Kedro run starts, once kedro-mlflow's run is active)."""
    run = mlflow.active_run()
    _gate.update(open=True, parent=run.info.run_id if run else None, cells={})


def close_gate() -> None:
    """Stop the helpers from logging (called when a Kedro run ends or fails)."""
    _gate.update(open=False, parent=None, cells={})


def active() -> bool:
    """True inside a Kedro run with an active (kedro-mlflow) MLflow run."""
    return _gate["open"] and mlflow.active_run() is not None


def parent_run_id() -> str | None:
    """The Kedro run's (parent) MLflow run id; ``None`` outside a Kedro run."""
    return _gate["parent"] if _gate["open"] else None


def cell_name(task: str, method: str, n_train_patients: int, seed: int | None = None) -> str:
    """Namespace of a cell, e.g. ``pet_to_ct.upgan.n29.s2021`` (``seed`` ``None``: no seed level,
    as for the do-nothing ``input``)."""
    name = f"{task}.{method}.n{n_train_patients:02d}"
    return name if seed is None else f"{name}.s{seed}"


def _cell_tags(name: str) -> dict[str, str]:
    match = CELL.match(name)
    if match is None:
        raise ValueError(f"{name!r} is not a cell namespace (<task>.<method>.n<NN>.s<seed>)")
    tags = {"task": match["task"], "method": match["method"], "n_train_patients": str(int(match["n"])),
            "cell": name}
    if match["seed"] is not None:
        tags["seed"] = str(int(match["seed"]))
    return tags


def cell_run_id(name: str, create: bool = False) -> str | None:
    """The id of cell ``name``'s child run under the Kedro run's parent run (created, closed,
    when absent and ``create``); ``None`` outside a Kedro run or when absent."""
    parent = parent_run_id()
    if parent is None:
        return None
    if name in _gate["cells"]:
        return _gate["cells"][name]
    client = MlflowClient()
    experiment = client.get_run(parent).info.experiment_id
    found = client.search_runs(
        [experiment], f"tags.`mlflow.parentRunId` = '{parent}' and tags.cell = '{name}'", max_results=1)
    if found:
        _gate["cells"][name] = found[0].info.run_id
    elif create:
        run = client.create_run(experiment, run_name=cell_run_name(name),
                                tags={**_cell_tags(name), "mlflow.parentRunId": parent})
        client.set_terminated(run.info.run_id)
        _gate["cells"][name] = run.info.run_id
    return _gate["cells"].get(name)


@contextmanager
def cell_run(task: str, method: str, n_train_patients: int,
             seed: int | None = None) -> Iterator[mlflow.ActiveRun | None]:
    """Enter the cell's child run (created on first use) under the active parent run; yields
    ``None`` and does nothing outside a Kedro run."""
    if not active():
        yield None
        return
    name = cell_name(task, method, n_train_patients, seed)
    run_id = cell_run_id(name)
    if run_id is not None:
        run = mlflow.start_run(run_id=run_id, nested=True)
    else:
        run = mlflow.start_run(run_name=cell_run_name(name), nested=True, tags=_cell_tags(name))
        _gate["cells"][name] = run.info.run_id
    try:
        yield run
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM (upgan.pipelines.interrupts): not FINISHED
        mlflow.end_run("KILLED")
        raise
    except BaseException:
        mlflow.end_run()
        raise
    else:
        mlflow.end_run()


def log_history(history: list[Mapping[str, float]], prefix: str) -> None:
    """Log a stage's records as metric histories ``<prefix>/<name>`` at MLflow step = the
    record's ``step`` (generator updates); missing (NaN) values are left out. No-op without an
    active run."""
    if not active():
        return
    for row in history:
        step = int(row["step"])
        values = {f"{prefix}/{k}": float(v) for k, v in row.items()
                  if k != "step" and v is not None and math.isfinite(float(v))}
        mlflow.log_metrics(values, step=step)


def log_metrics(values: Mapping[str, float], step: int | None = None) -> None:
    """Log metrics into the active run (no-op outside a Kedro run)."""
    if active():
        mlflow.log_metrics(dict(values), step=step)


def log_params(params: Mapping[str, Any], prefix: str) -> None:
    """Log a flat dict of parameters under ``prefix.`` (no-op outside a Kedro run)."""
    if not active():
        return
    mlflow.log_params({f"{prefix}.{k}": v for k, v in params.items()})


def log_figure(figure: Figure, name: str) -> None:
    """Attach a figure to the active run as ``figures/<name>`` (no-op outside a Kedro run)."""
    if not active():
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        figure.savefig(path, dpi=110)
        mlflow.log_artifact(str(path), artifact_path="figures")


def _log_file(run_id: str, name: str, write: Callable[[Path], None], artifact_path: str) -> None:
    """Write a file with ``write`` and attach it to ``run_id`` (without re-opening the run)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        write(path)
        MlflowClient().log_artifact(run_id, str(path), artifact_path=artifact_path)


def attach_figure(task: str, method: str, n_train_patients: int, seed: int | None, figure: Figure,
                  name: str) -> None:
    """Attach a figure to a cell's child run as ``figures/<name>`` without re-opening the run
    (no-op outside a Kedro run)."""
    if not active():
        return
    run_id = cell_run_id(cell_name(task, method, n_train_patients, seed), create=True)
    _log_file(run_id, name, lambda p: figure.savefig(p, dpi=110), "figures")


def log_report(name: str, content: str | pd.DataFrame | Figure) -> None:
    """Attach a report file (markdown text, a table as CSV, a figure as PNG) to the Kedro run's
    parent run as ``report/<name>`` (``report/figures/<name>`` for a figure); no-op outside a
    Kedro run."""
    if not active():
        return
    if isinstance(content, Figure):
        _log_file(parent_run_id(), name, lambda p: content.savefig(p, dpi=110), f"{REPORT_PATH}/figures")
    elif isinstance(content, str):
        _log_file(parent_run_id(), name, lambda p: p.write_text(content, encoding="utf-8"), REPORT_PATH)
    else:
        _log_file(parent_run_id(), name, lambda p: content.to_csv(p, index=False), REPORT_PATH)


def log_cell_seconds(name: str, seconds: float, nodes: int) -> None:
    """Record ``cell_seconds`` (the summed durations of the cell's first ``nodes`` nodes in this
    Kedro run; MLflow step = ``nodes``) on cell ``name``'s child run, if it has one; no-op outside
    a Kedro run or for a namespace that is not a cell."""
    run_id = cell_run_id(name) if active() and CELL.match(name) else None
    if run_id is not None:
        MlflowClient().log_metric(run_id, "cell_seconds", float(seconds), step=int(nodes))


def log_cell_model(name: str, bundle: ModelBundle, register: bool = False) -> str | None:
    """Log cell ``name``'s model bundle on its child run as the MLflow model ``model`` (pyfunc,
    see :mod:`upgan.pipelines.mlflow_model`), registered as ``upgan-<task>-<method>`` when
    ``register``; returns the model's URI (``None`` outside a Kedro run)."""
    if not active():
        return None
    from upgan.pipelines.mlflow_model import log_bundle

    tags = _cell_tags(name)
    run_id = cell_run_id(name, create=True)
    registered = f"upgan-{tags['task']}-{tags['method']}" if register else None
    return log_bundle(run_id, bundle, tags, registered)
