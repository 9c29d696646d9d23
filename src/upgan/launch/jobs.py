"""What one job of a launch runs: a Kedro session restricted to one stage's nodes (the data
preparation, one cell, or the report), under the launch's MLflow parent run.

The job takes one picklable :class:`JobSpec` and is importable, so the same code runs in the
launcher's process (``debug``), as a local subprocess and as a SLURM job. It is a submitit
``Checkpointable``: when SLURM times out or preempts the job, submitit requeues it with the same
spec, and the cell resumes from its stage checkpoints (the training engine's fingerprinted
resume), so a requeued cell gives the numbers an uninterrupted one gives.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import submitit

from upgan.pipelines.tracking_store import LAUNCH_TAG

__all__ = ["LAUNCH_TAG", "JobSpec", "StageJob"]

logger = logging.getLogger(__name__)



@dataclass(frozen=True)
class JobSpec:
    """Everything a job needs, passed explicitly (no state of the launcher's process)."""

    project_path: str
    env: str
    pipeline: str
    stage: str  # the stage's name: data_preparation, a cell's namespace, report
    nodes: tuple[str, ...]
    data_root: str
    tracking_uri: str | None = None
    parent_run_id: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


class StageJob(submitit.helpers.Checkpointable):
    """Run a :class:`JobSpec` (``checkpoint``, inherited, resubmits it unchanged on time-out)."""

    def __call__(self, spec: JobSpec) -> str:
        """Run the stage's nodes in a Kedro session; returns the stage's name."""
        import mlflow
        from kedro.framework.session import KedroSession
        from kedro.framework.startup import bootstrap_project

        from upgan import structure
        from upgan.launch.grid import mark_done, parameters_digest

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
        quick_mlflow_failures()
        project = Path(spec.project_path)
        bootstrap_project(project)
        if spec.tracking_uri:
            mlflow.set_tracking_uri(spec.tracking_uri)
        parent = mlflow.start_run(run_id=spec.parent_run_id) if spec.parent_run_id else None
        try:
            params = {"data_root": spec.data_root, **spec.params}
            with KedroSession.create(project_path=project, env=spec.env, runtime_params=params) as session:
                session.run(pipeline_names=[spec.pipeline], node_names=list(spec.nodes))
                mark_done(spec.data_root, spec.stage, parameters_digest(structure.parameters()))
        finally:
            if parent is not None and mlflow.active_run() is not None:
                _leave_parent()
        if spec.stage == "report" and spec.parent_run_id:  # the launch's last job (--no-wait: no launcher)
            mlflow.MlflowClient().set_terminated(spec.parent_run_id, "FINISHED")
        logger.info("stage %s done", spec.stage)
        return spec.stage


def quick_mlflow_failures() -> None:
    """A tracking server that stops answering fails the job in about a minute (MLflow's client
    otherwise retries each call for minutes), unless the environment sets its own values."""
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")


def _leave_parent() -> None:
    """Let go of the launch's parent run in this process without ending it (the launcher ends
    it when every cell has ended); the cell's own child runs are ended by then."""
    import mlflow

    while mlflow.active_run() is not None:
        active = mlflow.active_run()
        try:
            from mlflow.tracking.fluent import _active_run_stack

            _active_run_stack.get().pop()
        except (ImportError, AttributeError, IndexError):  # an MLflow without the stack: end, reopen
            mlflow.end_run()
            mlflow.MlflowClient().update_run(active.info.run_id, status="RUNNING")
            break
