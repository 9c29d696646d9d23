"""Project hooks."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pandas as pd
from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl

from upgan import structure
from upgan.runtime import configure_cpu_threads

logger = logging.getLogger(__name__)


class ProjectStructureHooks:
    """Build the pipelines from the run's configuration environment (see :mod:`upgan.structure`)."""

    @hook_impl(tryfirst=True)  # before plugins' hooks, which may build the pipelines
    def after_context_created(self, context: KedroContext) -> None:
        """Record the run's parameters; rebuild pipelines if an earlier build used others."""
        # the raw parameters (runtime params included): context.params would validate them
        # against the pipelines, i.e. build the pipelines before the structure is known
        if structure.activate(context.env, context.config_loader["parameters"]):
            from kedro.framework.project import pipelines

            logger.debug("Configuration changed: rebuilding the pipelines for env %s", context.env)
            pipelines.configure("upgan.pipeline_registry")


class RuntimeHooks:
    """Check the parameters and apply the ``runtime`` ones (CPU threads) before a pipeline runs."""

    @hook_impl(tryfirst=True)  # before kedro-mlflow opens a run for a run that is refused
    def before_pipeline_run(self, run_params: dict, pipeline, catalog) -> None:
        """Validate every parameter group (any pipeline), then configure torch's CPU threads
        from ``runtime.cpu_threads``; a bad configuration fails here, before any node runs."""
        from upgan.pipelines.parameters import check_methods, validate_parameters

        params = structure.parameters()
        names = run_params.get("pipeline_names")
        validate_parameters(params)
        check_methods(params, names)
        if "weak_supervision" in (names or []):
            structure.require_sweep()
        configure_cpu_threads((params.get("runtime") or {}).get("cpu_threads"))


class RunGuardHooks:
    """Lock the parts of the data root a run writes before it starts (:mod:`upgan.locks`): every
    namespace of its nodes (cells, tasks' preparation, the report), all at once, so a second run
    on the same data root that would write any of them is refused before it does anything, while
    runs of different cells (``upgan launch``'s jobs) go ahead side by side. Also keeps which
    namespaces have nodes left, so an interrupted run ends their MLflow cell runs KILLED."""

    def __init__(self) -> None:
        self._locks = None
        self._left: dict[str, int] = {}

    def _release(self) -> None:
        if self._locks is not None:
            self._locks.release()
            self._locks = None

    def unfinished(self) -> set[str]:
        """Namespaces of the current (or interrupted) run with nodes not yet done."""
        return {name for name, left in self._left.items() if left > 0}

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        """Release what an earlier session of this process left held (it was interrupted)."""
        self._release()
        self._left = {}

    @hook_impl(tryfirst=True)  # before kedro-mlflow opens a run for a run that is refused
    def before_pipeline_run(self, run_params: dict, pipeline, catalog) -> None:
        """Take the locks of every namespace the run's nodes write (raises LockHeld)."""
        from upgan.locks import DataRootLocks, lock_name

        self._release()
        locks = DataRootLocks(structure.parameters().get("data_root") or "data")
        locks.acquire({lock_name(node.namespace) for node in pipeline.nodes})
        self._locks = locks
        self._left = {}
        for node in pipeline.nodes:
            self._left[node.namespace or ""] = self._left.get(node.namespace or "", 0) + 1

    @hook_impl
    def after_node_run(self, node) -> None:
        """Count the node done."""
        self._left[node.namespace or ""] = self._left.get(node.namespace or "", 1) - 1

    @hook_impl
    def after_pipeline_run(self, run_params: dict, pipeline, catalog) -> None:
        """Release the run's locks."""
        self._release()

    @hook_impl
    def on_pipeline_error(self, error: Exception, run_params: dict, pipeline, catalog) -> None:
        """Release the run's locks."""
        self._release()


class MlflowStoreHooks:
    """Initialise a sqlite MLflow store once, safely, before kedro-mlflow opens it: runs that
    start together on a fresh ``mlflow.db`` otherwise migrate its schema at the same time and
    break the file (see :func:`upgan.pipelines.tracking_store.initialise_store`)."""

    @hook_impl(tryfirst=True)  # before kedro-mlflow's hook, which builds the store
    def after_context_created(self, context: KedroContext) -> None:
        """Create or migrate the store and the run's experiment under a file lock."""
        import mlflow
        from kedro.config import MissingConfigException
        from kedro.framework.project import PACKAGE_NAME

        from upgan.pipelines.tracking_store import initialise_store, resolve_location

        if mlflow.active_run():  # kedro-mlflow then uses the caller's run and ignores mlflow.yml
            return
        patterns = context.config_loader.config_patterns
        patterns.setdefault("mlflow", ["mlflow*", "mlflow*/**", "**/mlflow*"])  # as kedro-mlflow
        try:
            conf = context.config_loader["mlflow"] or {}
        except MissingConfigException:
            conf = {}
        except Exception as error:  # noqa: BLE001 (e.g. kedro-mlflow's resolvers, not registered yet)
            logger.debug("MLflow store not initialised here (kedro-mlflow reads mlflow.yml): %s", error)
            return
        uri = (conf.get("server") or {}).get("mlflow_tracking_uri") or os.environ.get("MLFLOW_TRACKING_URI")
        experiment = (conf.get("tracking") or {}).get("experiment") or {}
        kwargs = dict(experiment.get("create_experiment_kwargs") or {})
        if kwargs.get("artifact_location"):
            kwargs["artifact_location"] = resolve_location(context.project_path, kwargs["artifact_location"])
        initialise_store(uri, experiment.get("name") or PACKAGE_NAME, kwargs)


class TrackingHooks:
    """Open :mod:`upgan.pipelines.tracking`'s gate for the length of a Kedro run, so nodes log to
    MLflow only inside one (a node called from a notebook logs nothing); tag the parent run
    (host, process, runner, experiment kind), mark runs left RUNNING by killed processes as
    KILLED, and log every cell's model bundle as an MLflow model on its child run."""

    def __init__(self) -> None:
        self._register = False

    @hook_impl(trylast=True)  # after kedro-mlflow's hook has started the parent run
    def before_pipeline_run(self, run_params: dict, pipeline, catalog) -> None:
        """Let the tracking helpers log; tag the parent run; close runs of dead processes."""
        from upgan.pipelines import tracking

        self._register = _register_models()
        tracking.open_gate()
        parent = tracking.parent_run_id()
        if parent is None:
            return
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        from upgan.pipelines.mlflow_compare import name_parent_run
        from upgan.pipelines.tracking_store import LAUNCH_TAG, mark_killed_runs, tag_parent_run

        client = MlflowClient()
        try:
            if LAUNCH_TAG in client.get_run(parent).data.tags:  # a launch's cell: the launcher owns it
                return
            tag_parent_run(client, parent, run_params.get("runner"))
            name_parent_run(client, parent, run_params, pipeline)
            mark_killed_runs(client, client.get_run(parent).info.experiment_id, parent)
        except MlflowException as error:  # bookkeeping: never fail a run over it
            logger.warning("could not tag the MLflow run or close stale runs: %s", error)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data, node) -> None:
        """Log a cell's final model bundle (``<cell>.model``) on the cell's child run."""
        from upgan.io.bundle import ModelBundle
        from upgan.pipelines import tracking

        cell, _, name = dataset_name.rpartition(".")
        if name != "model" or not tracking.CELL.match(cell) or not isinstance(data, ModelBundle):
            return
        from mlflow.exceptions import MlflowException

        try:
            uri = tracking.log_cell_model(cell, data, register=self._register)
        except (MlflowException, OSError) as error:  # the bundle is on disk: warn, go on
            logger.warning("could not log %s's model to MLflow: %s", cell, error)
            return
        if uri:
            logger.info("Logged %s's model to MLflow as %s", cell, uri)

    @hook_impl
    def after_pipeline_run(self, run_params: dict, run_result, pipeline, catalog) -> None:
        """Close the gate after a run."""
        from upgan.pipelines import tracking

        tracking.close_gate()

    @hook_impl
    def on_pipeline_error(self, error: Exception, run_params: dict, pipeline, catalog) -> None:
        """Close the gate after a failed run."""
        from upgan.pipelines import tracking

        tracking.close_gate()


def _register_models() -> bool:
    """The ``tracking.register_models`` parameter (default false), checked to be a boolean."""
    value = (structure.parameters().get("tracking") or {}).get("register_models", False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ValueError(f"parameter tracking.register_models must be true or false, got {value!r}")
    return value


class NodeTimingHooks:
    """Time every node; log each duration and, after the run, where the time went.

    The summary (slowest nodes and the total per pipeline stage) is logged at INFO and written
    to ``<data_root>/09_tracking/node_times.csv`` (columns ``node, namespace, seconds``). The
    stage of a node comes from its tags (:data:`STAGES`). A cell's summed node times so far go
    to its MLflow child run as ``cell_seconds`` after each of its nodes.
    """

    def __init__(self) -> None:
        self._started: dict[str, float] = {}
        self._times: list[tuple[str, str, str, float]] = []
        self._per_namespace: dict[str, list[float]] = {}  # namespace -> [seconds, nodes]
        self._run_started = 0.0

    @hook_impl
    def before_pipeline_run(self, run_params: dict, pipeline, catalog) -> None:
        """Start the clock."""
        self._started.clear()
        self._times.clear()
        self._per_namespace.clear()
        self._run_started = time.perf_counter()

    @hook_impl
    def before_node_run(self, node) -> None:
        """Note the node's start."""
        self._started[node.name] = time.perf_counter()

    @hook_impl
    def after_node_run(self, node) -> None:
        """Record and log the node's duration; a cell's node also updates the cell's compute time
        (``cell_seconds`` on its MLflow child run: the sum of its nodes' durations so far)."""
        seconds = time.perf_counter() - self._started.pop(node.name, time.perf_counter())
        namespace = node.namespace or ""
        self._times.append((node.name, namespace, _node_stage(node.tags), seconds))
        logger.info("Node %s took %.1f s", node.name, seconds)
        total = self._per_namespace.setdefault(namespace, [0.0, 0])
        total[0] += seconds
        total[1] += 1
        from mlflow.exceptions import MlflowException

        from upgan.pipelines import tracking

        try:
            tracking.log_cell_seconds(namespace, total[0], total[1])
        except MlflowException as error:  # timing is a convenience: never fail a run over it
            logger.warning("could not log %s's cell_seconds to MLflow: %s", namespace, error)

    @hook_impl
    def after_pipeline_run(self, run_params: dict, pipeline, catalog) -> None:
        """Log the slowest nodes and the time per stage; write node_times.csv."""
        if not self._times:
            return
        total = time.perf_counter() - self._run_started
        frame = pd.DataFrame(self._times, columns=["node", "namespace", "stage", "seconds"])
        per_stage = frame.groupby("stage")["seconds"].sum().sort_values(ascending=False)
        slowest = frame.nlargest(10, "seconds")
        logger.info(
            "Run took %.1f s (%d nodes). Time per stage: %s.", total, len(frame),
            ", ".join(f"{k} {v:.0f} s" for k, v in per_stage.items()),
        )
        for row in slowest.itertuples():
            logger.info("  slowest: %7.1f s  %s", row.seconds, row.node)
        data_root = structure.parameters().get("data_root") or "data"
        path = Path(data_root) / "09_tracking" / "node_times.csv"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            frame.drop(columns="stage").to_csv(path.with_suffix(".tmp"), index=False)
            path.with_suffix(".tmp").replace(path)
        except OSError as error:  # timing is a convenience: never fail a finished run over it
            logger.warning("could not write %s: %s", path, error)


STAGES = ("data_preparation", "training", "evaluation", "reporting")
"""Pipeline stages, by the tag their nodes carry (the first match wins: a cell's phase summary
is tagged both training and evaluation and counts as training, where it runs)."""


def _node_stage(tags: set[str]) -> str:
    """The pipeline stage of a node, from its tags (``other`` when it carries none of them)."""
    return next((stage for stage in STAGES if stage in tags), "other")
