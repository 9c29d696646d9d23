"""Project hooks."""

from __future__ import annotations

import logging

from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl

from upgan import structure

logger = logging.getLogger(__name__)


class ProjectStructureHooks:
    """Build the pipelines from the run's configuration environment (see :mod:`upgan.structure`)."""

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        """Record the run's parameters; rebuild pipelines if an earlier build used others."""
        if structure.activate(context.env, context.params):
            from kedro.framework.project import pipelines

            logger.debug("Configuration changed: rebuilding the pipelines for env %s", context.env)
            pipelines.configure("upgan.pipeline_registry")
