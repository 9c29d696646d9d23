"""Open MLflow's UI on the runs table of the experiment that holds the project's runs
(``make ui``; ``python -m upgan.pipelines.mlflow_view [--env ENV] [--port PORT]``).

MLflow 3.17's UI ignores the ``mlflow.experimentKind`` experiment tag when it picks an
experiment's page: its bundled front end takes the kind from a global "workflow type" (the
*GenAI* / *Model training* switch at the top left), read from the page URL's ``workflowType``
query parameter, else from the browser's local storage, else ``genai``, which opens the GenAI
overview (traces, token usage). The URL printed (and opened) here carries
``workflowType=machine_learning`` and goes straight to the experiment's runs.

Unlike ``kedro mlflow ui`` this starts no Kedro session, so it never creates an experiment or
a store: it reads ``conf/base`` (+ ``--env``) ``mlflow.yml`` and serves the store as it is.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import threading
import webbrowser
from pathlib import Path

logger = logging.getLogger(__name__)

WORKFLOW_QUERY = "workflowType=machine_learning"
"""The query MLflow 3.17's UI reads to open experiments as model training (runs table)."""


def ui_settings(conf_source: Path, env: str | None) -> dict[str, str]:
    """Tracking URI, experiment name, host and port of the project's ``mlflow.yml`` (base, then
    ``env``)."""
    import yaml

    from upgan.pipelines.tracking_store import project_tracking_uri

    merged: dict = {}
    for name in ("base", env):
        path = conf_source / name / "mlflow.yml" if name else None
        if path is not None and path.is_file():
            data = yaml.safe_load(path.read_text()) or {}
            for key, value in data.items():
                merged[key] = {**merged.get(key, {}), **value} if isinstance(value, dict) else value
    experiment = ((merged.get("tracking") or {}).get("experiment") or {}).get("name") or "upgan"
    ui = merged.get("ui") or {}
    return {"uri": project_tracking_uri(conf_source, env) or "", "experiment": str(experiment),
            "host": str(ui.get("host", "127.0.0.1")), "port": str(ui.get("port", "5000"))}


def runs_url(host: str, port: int | str, experiment_id: str | None, view: str | None = None) -> str:
    """The page of the experiment's runs (or the experiments list) in model-training mode, in the
    experiment's shared view ``view`` when given (see :mod:`upgan.pipelines.mlflow_compare`)."""
    page = f"experiments/{experiment_id}/runs" if experiment_id else "experiments"
    shared = f"&viewStateShareKey={view}" if view and experiment_id else ""
    return f"http://{host}:{port}/#/{page}?{WORKFLOW_QUERY}{shared}"


def comparison_view(uri: str, experiment_id: str | None) -> str | None:
    """The key of the experiment's method-comparison view when a run wrote it, else ``None``."""
    from mlflow.tracking import MlflowClient

    from upgan.pipelines.mlflow_compare import SHARED_VIEW_TAG, VIEW_KEY

    if experiment_id is None:
        return None
    tags = MlflowClient(uri).get_experiment(experiment_id).tags
    return VIEW_KEY if SHARED_VIEW_TAG + VIEW_KEY in tags else None


def experiment_with_runs(uri: str, name: str) -> str | None:
    """The id of experiment ``name`` in the store, else of the experiment with the latest run;
    ``None`` for an empty or absent store. Reads only (an absent sqlite file is not created)."""
    from mlflow.tracking import MlflowClient

    from upgan.pipelines.tracking_store import sqlite_file

    database = sqlite_file(uri)
    if database is not None and not database.is_file():
        return None
    client = MlflowClient(uri)
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    experiments = [e.experiment_id for e in client.search_experiments()]
    latest = client.search_runs(experiments, max_results=1, order_by=["attributes.start_time DESC"]) if experiments else []
    return latest[0].info.experiment_id if latest else None


def main(argv: list[str] | None = None) -> int:
    """Serve the project's MLflow store with ``mlflow ui`` and print the runs page's URL."""
    from upgan.structure import PROJECT_ROOT

    parser = argparse.ArgumentParser(prog="python -m upgan.pipelines.mlflow_view", description=__doc__.split("\n")[0])
    parser.add_argument("--env", default=os.environ.get("KEDRO_ENV") or None, help="configuration environment")
    parser.add_argument("--host", default=None)
    parser.add_argument("--port", default=None)
    parser.add_argument("--no-browser", action="store_true", help="only print the URL")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = ui_settings(PROJECT_ROOT / "conf", args.env)
    host, port = args.host or settings["host"], args.port or settings["port"]
    if not settings["uri"]:
        logger.error("no MLflow tracking URI in conf/base/mlflow.yml (nor MLFLOW_TRACKING_URI)")
        return 2
    experiment_id = experiment_with_runs(settings["uri"], settings["experiment"])
    url = runs_url(host, port, experiment_id, comparison_view(settings["uri"], experiment_id))
    logger.info("MLflow UI on the runs table: %s", url)
    if not args.no_browser:  # once the server had time to start
        threading.Timer(3.0, webbrowser.open, (url,)).start()
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", settings["uri"], "--host", host,
               "--port", str(port)]
    return subprocess.call(command)


if __name__ == "__main__":
    sys.exit(main())
