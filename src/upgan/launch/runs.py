"""The launch's MLflow side: the tracking URI every job gets, a server that must answer, and the
launch's parent run (opened by the launcher, tagged so that its jobs neither re-tag nor close it)."""

from __future__ import annotations

import logging
import os
import socket
from typing import TYPE_CHECKING

from upgan.pipelines.tracking_store import LAUNCH_TAG

if TYPE_CHECKING:
    from upgan.launch.launcher import Grid, LaunchOptions

logger = logging.getLogger(__name__)


def absolute_sqlite(uri: str) -> str:
    """A relative ``sqlite:///`` URI made absolute (jobs may start in another folder)."""
    from upgan.pipelines.tracking_store import sqlite_file

    database = sqlite_file(uri)
    if database is None or database.is_absolute():
        return uri
    return f"sqlite:///{database.resolve()}"


def check_server(uri: str, timeout_s: float = 5.0) -> None:
    """Refuse (ValueError) an ``http(s)://`` tracking URI whose server does not answer, before
    any job starts (MLflow's client would retry for minutes, in every job)."""
    if not uri.startswith(("http://", "https://")):
        return
    import requests

    try:
        requests.get(uri.rstrip("/") + "/health", timeout=timeout_s).raise_for_status()
    except requests.RequestException as error:
        raise ValueError(f"the MLflow tracking server {uri} does not answer ({type(error).__name__}): start it "
                         "(`mlflow server --backend-store-uri ... --artifacts-destination ...`, see "
                         "docs/experiments.md) or give another --tracking-uri") from None


def open_parent(grid: Grid, options: LaunchOptions) -> str:
    """Create the launch's MLflow parent run (RUNNING until the launcher ends it)."""
    from mlflow.tracking import MlflowClient

    from upgan.pipelines.tracking_store import HOST_TAG, PID_TAG, initialise_store

    initialise_store(grid.tracking_uri, grid.experiment)
    client = MlflowClient(grid.tracking_uri)
    experiment = client.get_experiment_by_name(grid.experiment)
    if experiment is None:
        experiment_id = client.create_experiment(grid.experiment)
    else:
        experiment_id = experiment.experiment_id
    run = client.create_run(experiment_id, run_name=f"launch {options.pipeline} ({options.env})", tags={
        LAUNCH_TAG: options.executor, HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid()),
        "pipeline": options.pipeline, "env": options.env})
    return run.info.run_id


def close_parent(grid: Grid, parent: str, status: str, failed: dict[str, str]) -> None:
    """End the parent run with ``status`` and the failed cells' open child runs FAILED."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:
        client = MlflowClient(grid.tracking_uri)
        experiment = client.get_run(parent).info.experiment_id
        for name in failed:
            for child in client.search_runs([experiment], f"tags.`mlflow.parentRunId` = '{parent}' and "
                                            f"tags.cell = '{name}' and attributes.status = 'RUNNING'"):
                client.set_terminated(child.info.run_id, "FAILED")
        client.set_terminated(parent, status)
    except (MlflowException, OSError) as error:  # the cells' results are on disk: say it, go on
        logger.warning("could not end the launch's MLflow run %s (%s): mark it by hand if needed", parent, error)
