"""Kedro project settings: configuration loader, environments and hooks."""

from kedro.config import OmegaConfigLoader

from upgan.configuration import CONFIG_LOADER_ARGS
from upgan.hooks import (
    MlflowStoreHooks,
    NodeTimingHooks,
    ProjectStructureHooks,
    RunGuardHooks,
    RuntimeHooks,
    TrackingHooks,
)

# RunGuardHooks before RuntimeHooks: among first-called hooks, the later registered runs first,
# so the parameters are checked before any lock is taken
HOOKS = (ProjectStructureHooks(), MlflowStoreHooks(), RunGuardHooks(), RuntimeHooks(), TrackingHooks(),
         NodeTimingHooks())

CONFIG_LOADER_CLASS = OmegaConfigLoader
__all__ = ["CONFIG_LOADER_ARGS", "CONFIG_LOADER_CLASS", "HOOKS"]

# Known, harmless warnings of the pinned stack (see docs/troubleshooting.md).
import warnings  # noqa: E402

warnings.filterwarnings("ignore", message=r".*register_new_resolver\(\) is deprecated.*")
# The reporting nodes read every cell's outputs by their namespaced names on purpose.
warnings.filterwarnings("ignore", message=r".*dataset names contain '\.' characters.*")
