"""Project hooks."""

from __future__ import annotations

import logging

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
    """Apply the ``runtime`` parameters (CPU threads) before a pipeline runs."""

    @hook_impl
    def before_pipeline_run(self, run_params: dict, pipeline, catalog) -> None:
        """Configure torch's CPU threads from ``runtime.cpu_threads``."""
        params = structure.parameters()
        if any(n.name.endswith(".train_phase_0") for n in pipeline.nodes):
            from upgan.pipelines.training.nodes import validate_upgan_parameters

            validate_upgan_parameters(params.get("upgan", {}), params.get("training", {}))
        configure_cpu_threads(params.get("runtime", {}).get("cpu_threads", "auto"))
