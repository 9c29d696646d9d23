"""Kedro project settings: configuration loader, environments and hooks."""

from kedro.config import OmegaConfigLoader

from upgan.hooks import NodeTimingHooks, ProjectStructureHooks, RuntimeHooks

HOOKS = (ProjectStructureHooks(), RuntimeHooks(), NodeTimingHooks())

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # an env (test, paper, local) overrides only the keys it names
    "merge_strategy": {"parameters": "soft"},
}

# Known, harmless warnings of the pinned stack (see docs/troubleshooting.md).
import warnings  # noqa: E402

warnings.filterwarnings("ignore", message=r".*register_new_resolver\(\) is deprecated.*")
warnings.filterwarnings("ignore", message=r".*type hints to the `predict` method.*")
# The reporting nodes read every cell's outputs by their namespaced names on purpose.
warnings.filterwarnings("ignore", message=r".*dataset names contain '\.' characters.*")
