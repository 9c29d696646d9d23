"""Project hooks."""

from __future__ import annotations

import logging
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

    @hook_impl
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


class NodeTimingHooks:
    """Time every node; log each duration and, after the run, where the time went.

    The summary (slowest nodes and the total per pipeline stage) is logged at INFO and written
    to ``<data_root>/09_tracking/node_times.csv`` (columns ``node, namespace, seconds``). The
    stage of a node comes from its tags (:data:`STAGES`).
    """

    def __init__(self) -> None:
        self._started: dict[str, float] = {}
        self._times: list[tuple[str, str, str, float]] = []
        self._run_started = 0.0

    @hook_impl
    def before_pipeline_run(self, run_params: dict, pipeline, catalog) -> None:
        """Start the clock."""
        self._started.clear()
        self._times.clear()
        self._run_started = time.perf_counter()

    @hook_impl
    def before_node_run(self, node) -> None:
        """Note the node's start."""
        self._started[node.name] = time.perf_counter()

    @hook_impl
    def after_node_run(self, node) -> None:
        """Record and log the node's duration."""
        seconds = time.perf_counter() - self._started.pop(node.name, time.perf_counter())
        self._times.append((node.name, node.namespace or "", _node_stage(node.tags), seconds))
        logger.info("Node %s took %.1f s", node.name, seconds)

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
