"""MLflow child runs, one per experiment cell (task, method, n_train_patients).

kedro-mlflow opens one parent run per ``kedro run``; every node of a cell reopens the same
nested child run (found by its tags), so a cell's parameters, metrics and figures stay together
even though they come from several nodes. Without an active run (a node called directly) the
logging is skipped.
"""

from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
from matplotlib.figure import Figure

logger = logging.getLogger(__name__)


def cell_name(task: str, method: str, n_train_patients: int) -> str:
    """Namespace of a cell, e.g. ``pet_to_ct.upgan.n29``."""
    return f"{task}.{method}.n{n_train_patients:02d}"


@contextmanager
def cell_run(task: str, method: str, n_train_patients: int) -> Iterator[mlflow.ActiveRun | None]:
    """Enter the cell's child run (created on first use) under the active parent run."""
    parent = mlflow.active_run()
    if parent is None:
        yield None
        return
    name = cell_name(task, method, n_train_patients)
    found = mlflow.search_runs(
        experiment_ids=[parent.info.experiment_id],
        filter_string=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}' and tags.cell = '{name}'",
        output_format="list",
    )
    tags = {"task": task, "method": method, "n_train_patients": str(n_train_patients), "cell": name}
    if found:
        run = mlflow.start_run(run_id=found[0].info.run_id, nested=True)
    else:
        run = mlflow.start_run(run_name=name, nested=True, tags=tags)
    try:
        yield run
    finally:
        mlflow.end_run()


def log_history(history: list[Mapping[str, float]], prefix: str) -> None:
    """Log a stage's records as metric histories ``<prefix>/<name>`` at MLflow step = the
    record's ``step`` (generator updates); missing (NaN) values are left out. No-op without an
    active run."""
    if mlflow.active_run() is None:
        return
    for row in history:
        step = int(row["step"])
        values = {f"{prefix}/{k}": float(v) for k, v in row.items()
                  if k != "step" and v is not None and math.isfinite(float(v))}
        mlflow.log_metrics(values, step=step)


def log_metrics(values: Mapping[str, float], step: int | None = None) -> None:
    """Log metrics into the active run (no-op without one)."""
    if mlflow.active_run() is not None:
        mlflow.log_metrics(dict(values), step=step)


def log_params(params: Mapping[str, Any], prefix: str) -> None:
    """Log a flat dict of parameters under ``prefix.`` (no-op without an active run)."""
    if mlflow.active_run() is None:
        return
    mlflow.log_params({f"{prefix}.{k}": v for k, v in params.items()})


def log_figure(figure: Figure, name: str) -> None:
    """Attach a figure to the active run as ``figures/<name>`` (no-op without one)."""
    if mlflow.active_run() is None:
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        figure.savefig(path, dpi=110)
        mlflow.log_artifact(str(path), artifact_path="figures")
