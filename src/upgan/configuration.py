"""How the project's configuration is read: one definition shared by the Kedro settings
(:mod:`upgan.settings`) and the structural parameters (:mod:`upgan.structure`), so both read
the same environments with the same merge rules."""

from __future__ import annotations

from typing import Any

from omegaconf.resolvers import oc

CONFIG_LOADER_ARGS: dict[str, Any] = {
    "base_env": "base",
    "default_run_env": "local",
    # an env (test, paper, local) overrides only the keys it names
    "merge_strategy": {"parameters": "soft"},
    # ${oc.env:VAR,default} in any file (Kedro allows it only in credentials by default): the
    # MLflow tracking URI of mlflow.yml follows $MLFLOW_TRACKING_URI when it is set
    "custom_resolvers": {"oc.env": oc.env},
}
