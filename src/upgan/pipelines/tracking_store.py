"""The MLflow store and the Kedro run's parent run.

- :func:`initialise_store`: create (or migrate) a sqlite store and the run's experiment under an
  exclusive file lock, so that Kedro runs starting together on a fresh ``mlflow.db`` do not run
  MLflow's schema migration at the same time (which breaks the file for good).
- :func:`tag_parent_run`: the parent run's ``upgan.host`` and ``upgan.pid`` (so a later run can
  tell that its process is gone), its ``runner`` as a class name, and the experiment's kind.
- :func:`mark_killed_runs`: parent runs of this host left RUNNING by a process that no longer
  exists (killed, out of memory, power cut) become KILLED, with their RUNNING child runs.
- :func:`project_tracking_uri`: the tracking URI a ``kedro run`` of the project would use.

Used by :mod:`upgan.hooks` and :mod:`upgan.console`; nodes never call it.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path, PurePath
from typing import Any
from urllib.parse import urlparse

from mlflow.entities import RunStatus
from mlflow.tracking import MlflowClient

from upgan.io.cohort import pid_alive
from upgan.machine import cpu_description

logger = logging.getLogger(__name__)

HOST_TAG = "upgan.host"
PID_TAG = "upgan.pid"
LAUNCH_TAG = "upgan.launch"
"""Tag of an ``upgan launch`` parent run (its value: the executor): its cell jobs neither re-tag
nor close it; the launcher does."""
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
"""The experiment tag MLflow 3's UI reads to choose an experiment's opening page."""
CUSTOM_MODEL_DEVELOPMENT = "custom_model_development"
"""Its value for model training (opens the runs table; ``genai_development`` opens traces)."""


def sqlite_file(uri: str | None) -> Path | None:
    """The database file of a ``sqlite:///`` URI (relative to the current folder, as MLflow reads
    it), or ``None`` for any other URI (a server, another database, an in-memory sqlite)."""
    if not uri or not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///"):].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


@contextmanager
def _store_lock(database: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``<database>.lock`` (waits while another process holds it)."""
    try:
        import fcntl
    except ImportError:  # no flock (Windows): nothing to serialise with
        yield
        return
    database.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{database}.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logger.info("Waiting for another process to initialise the MLflow store %s", database)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def check_store_writable(database: Path) -> None:
    """One ``ValueError`` when the sqlite store (or, for a new one, its folder) cannot be
    written: a read-only file system or folder, or a store file without write permission."""
    folder = database.resolve().parent
    target = database if database.exists() else folder
    if folder.is_dir() and not os.access(target, os.W_OK):
        where = "the store" if target == database else f"its folder {folder}"
        raise ValueError(f"the MLflow store {database.resolve()} cannot be written ({where} is read-only): run "
                         "from a writable copy of the project, or set server.mlflow_tracking_uri in "
                         "conf/local/mlflow.yml to a writable place")


def initialise_store(uri: str | None, experiment: str | None = None,
                     create_kwargs: Mapping[str, Any] | None = None) -> None:
    """Create or migrate the sqlite store at ``uri`` and create ``experiment`` in it (with
    ``create_kwargs``: ``artifact_location``, ``tags``) when absent, under an exclusive file lock:
    a second process waits, then finds both ready. Other URIs are left to their server."""
    database = sqlite_file(uri)
    if database is None:
        return
    check_store_writable(database)
    with _store_lock(database):
        client = MlflowClient(tracking_uri=uri)
        client.search_experiments(max_results=1)  # builds the store: creates or migrates the schema
        if experiment and client.get_experiment_by_name(experiment) is None:
            kwargs = {k: v for k, v in dict(create_kwargs or {}).items() if v is not None}
            client.create_experiment(experiment, **kwargs)
            logger.info("Created the MLflow experiment %r in %s", experiment, database)


def resolve_location(project_path: Path, location: str) -> str:
    """An artefact location as kedro-mlflow resolves it: a relative path is anchored at the
    project, an absolute one becomes a ``file://`` URI, a URI stays as it is."""
    if PurePath(location).is_absolute():
        return PurePath(location).as_uri()
    if urlparse(location).scheme == "":
        return (Path(project_path) / location).as_uri()
    return location


def runner_name(runner: Any) -> str:
    """The runner's class name from what Kedro records in its run parameters (an object's repr,
    a class name, or ``None`` for the default)."""
    text = str(runner)
    if text in ("", "None"):
        return "SequentialRunner"
    match = re.match(r"<(?:[\w.]+\.)?(\w+) object at 0x[0-9a-fA-F]+>$", text)
    return match.group(1) if match else text


def tag_parent_run(client: MlflowClient, run_id: str, runner: Any) -> None:
    """Tag the Kedro run's parent run with this host and process, its runner's class name and the
    CPU it computes on (:func:`upgan.machine.cpu_description`: model, instruction set), and
    mark its experiment as model development (MLflow's UI then opens it on the runs table)."""
    client.set_tag(run_id, HOST_TAG, socket.gethostname())
    client.set_tag(run_id, PID_TAG, str(os.getpid()))
    # kedro-mlflow sets every run parameter as a tag: Kedro records the runner as str(runner)
    client.set_tag(run_id, "runner", runner_name(runner))
    for key, value in cpu_description().items():  # results repeat bit for bit only on one CPU type
        client.set_tag(run_id, key, value)
    experiment_id = client.get_run(run_id).info.experiment_id
    if EXPERIMENT_KIND_TAG not in client.get_experiment(experiment_id).tags:  # keep a choice made in the UI
        client.set_experiment_tag(experiment_id, EXPERIMENT_KIND_TAG, CUSTOM_MODEL_DEVELOPMENT)



def mark_killed_runs(client: MlflowClient, experiment_id: str, current_run_id: str) -> list[str]:
    """Mark as KILLED the RUNNING parent runs of ``experiment_id`` started on this host by a
    process that no longer exists, and their RUNNING child runs; returns the parents' ids.
    Runs without the host and process tags (older runs) are left alone."""
    host = socket.gethostname()
    stale = client.search_runs(
        [experiment_id],
        f"attributes.status = 'RUNNING' and tags.`{HOST_TAG}` = '{host}'",
        max_results=1000,
    )
    killed = []
    for run in stale:
        pid = run.data.tags.get(PID_TAG, "")
        if run.info.run_id == current_run_id or not pid.isdigit() or pid_alive(int(pid)):
            continue
        children = client.search_runs(
            [experiment_id],
            f"attributes.status = 'RUNNING' and tags.`mlflow.parentRunId` = '{run.info.run_id}'",
            max_results=1000,
        )
        end = int(time.time() * 1000)
        for child in children:
            client.set_terminated(child.info.run_id, RunStatus.to_string(RunStatus.KILLED), end)
        client.set_terminated(run.info.run_id, RunStatus.to_string(RunStatus.KILLED), end)
        logger.warning("MLflow run %s (%s) was left RUNNING by process %s of this host, which no "
                       "longer exists: marked KILLED (with %d running child runs)",
                       run.info.run_id, run.info.run_name, pid, len(children))
        killed.append(run.info.run_id)
    return killed


def project_tracking_uri(conf_source: Path, env: str | None = None) -> str | None:
    """The tracking URI a ``kedro run`` of the project would use: ``server.mlflow_tracking_uri``
    of ``mlflow.yml`` (base, then ``env``, default ``$KEDRO_ENV`` or ``local``), else
    ``$MLFLOW_TRACKING_URI``; ``None`` when neither is set."""
    from kedro.config import MissingConfigException, OmegaConfigLoader

    from upgan.configuration import CONFIG_LOADER_ARGS

    env = env or os.environ.get("KEDRO_ENV") or "local"
    args = dict(CONFIG_LOADER_ARGS)
    if not (Path(conf_source) / env).is_dir():  # e.g. no conf/local: base alone
        env = args["base_env"]
    args["config_patterns"] = {**args.get("config_patterns", {}), "mlflow": ["mlflow*", "mlflow*/**"]}
    try:
        with warnings.catch_warnings():  # omegaconf's, on every loader (filtered in settings.py too)
            warnings.filterwarnings("ignore", message=r".*register_new_resolver\(\) is deprecated.*")
            conf = OmegaConfigLoader(conf_source=str(conf_source), env=env, **args)["mlflow"]
    except (MissingConfigException, ValueError):
        conf = {}
    uri = (conf.get("server") or {}).get("mlflow_tracking_uri")
    return uri or os.environ.get("MLFLOW_TRACKING_URI") or None
