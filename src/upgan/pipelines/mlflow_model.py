"""A cell's model bundle as an MLflow model (``pyfunc`` flavour).

Every cell's child run holds one model (MLflow's "Logged models"), named after its cell, method
first (:func:`upgan.pipelines.mlflow_compare.cell_model_name`, e.g. ``upgan-n29-s2021-pet_to_ct``)
and registered as ``upgan-<task>-<method>`` with ``tracking.register_models: true``. It wraps
the cell's bundle (``artifacts/model.safetensors``)::

    model = mlflow.pyfunc.load_model("runs:/<child run id>/upgan-n29-s2021-pet_to_ct")
    out = model.predict(slices)          # slices: float32 (N, C, H, W), normalised scale
    out["image"], out.get("sigma")       # (N, 1, H, W) each; sigma for the UP-GAN family

The model is logged from code (:mod:`upgan.pipelines.mlflow_model_code`): loading runs that
file, which imports this module, so it needs the ``upgan`` package importable, and unpickles
nothing. ``upgan predict`` takes the child run id, ``runs:/<run id>/<model name>`` (or
``runs:/<run id>/model``, the name models had before they were named after their cells) and
``models:/<name>/<version>`` too (:func:`download_bundle`).
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
from mlflow.models import Model, ModelSignature
from mlflow.pyfunc import PythonModel, PythonModelContext
from mlflow.types import ParamSchema, ParamSpec, Schema, TensorSpec

from upgan.io.bundle import ModelBundle, load_bundle, save_bundle
from upgan.methods import predict_bundle
from upgan.pipelines.mlflow_compare import cell_model_name, model_step

logger = logging.getLogger(__name__)

LEGACY_MODEL_NAME = "model"
"""What every cell's model was named before models were named after their cells."""
BUNDLE = "model.safetensors"
"""The bundle's file name inside the MLflow model's ``artifacts/``."""


class CellModel(PythonModel):
    """A trained cell: translate slices with :func:`upgan.methods.predict_bundle`."""

    def load_context(self, context: PythonModelContext) -> None:
        """Read the bundle the model was logged with."""
        self.bundle = load_bundle(context.artifacts["bundle"])

    def predict(self, context: PythonModelContext, model_input: np.ndarray,
                params: dict[str, Any] | None = None) -> dict[str, np.ndarray]:
        """Translate ``model_input``, float32 slices ``(N, C, H, W)`` on the normalised scale
        (what the cell was trained on; H and W divisible by 2^depth of its U-Nets).

        Args:
            context: MLflow's model context (unused after loading).
            model_input: the input slices.
            params: ``device`` (``auto``: CUDA when present, ``cpu``, ``cuda:1`` ...) and
                ``batch_size`` (slices per forward pass).

        Returns:
            ``image``: the translated slices ``(N, 1, H, W)``, unclipped, and, for methods with
            an uncertainty (the UP-GAN family), ``sigma``: its σ map ``(N, 1, H, W)``.
        """
        params = params or {}
        prediction = predict_bundle(self.bundle, np.asarray(model_input, dtype=np.float32),
                                    device=str(params.get("device", "auto")),
                                    batch_size=int(params.get("batch_size", 16)))
        out = {"image": prediction.image}
        if prediction.sigma is not None:
            out["sigma"] = prediction.sigma
        return out


def input_channels(bundle: ModelBundle) -> int:
    """The number of input channels of the bundle's (first) generator, from its config."""
    from upgan.methods import get

    return get(str(bundle.config.get("method", ""))).plugin.input_channels(bundle.config)


def signature(bundle: ModelBundle) -> ModelSignature:
    """Input ``(N, C, H, W)`` float32, outputs ``image`` (and ``sigma``) ``(N, 1, H, W)``,
    parameters ``device`` and ``batch_size``."""
    outputs = [TensorSpec(np.dtype(np.float32), (-1, 1, -1, -1), "image")]
    from upgan.methods import get

    if get(str(bundle.config.get("method", ""))).plugin.has_sigma:
        outputs.append(TensorSpec(np.dtype(np.float32), (-1, 1, -1, -1), "sigma"))
    return ModelSignature(
        inputs=Schema([TensorSpec(np.dtype(np.float32), (-1, input_channels(bundle), -1, -1))]),
        outputs=Schema(outputs),
        params=ParamSchema([ParamSpec("device", "string", "auto"), ParamSpec("batch_size", "long", 16)]),
    )


def requirements() -> list[str]:
    """The model's pip requirements (besides the ``upgan`` package): the versions in use."""
    import safetensors
    import torch

    return [f"torch=={torch.__version__.split('+')[0]}", f"safetensors=={safetensors.__version__}",
            f"numpy=={np.__version__}"]


def log_bundle(run_id: str, bundle: ModelBundle, tags: dict[str, str],
               registered_name: str | None = None) -> str:
    """Log ``bundle`` as the pyfunc model of run ``run_id``, named after its cell (``tags["cell"]``,
    :func:`~upgan.pipelines.mlflow_compare.cell_model_name`), (the run is not re-opened)
    at the step of its training curves' end (:func:`upgan.pipelines.mlflow_compare.model_step`),
    tagged with ``tags``; register it under ``registered_name`` when given. Returns the model's
    ``models:/<model id>`` URI."""
    with tempfile.TemporaryDirectory() as tmp:
        path = save_bundle(bundle, Path(tmp) / BUNDLE)
        with warnings.catch_warnings():
            # the signature is given; an input example would need a slice size the networks take
            warnings.filterwarnings("ignore", message=".*input example was not provided.*")
            info = Model.log(
                artifact_path=None, name=cell_model_name(tags["cell"]), flavor=mlflow.pyfunc, run_id=run_id,
                python_model=str(Path(__file__).with_name("mlflow_model_code.py")),
                artifacts={"bundle": str(path)}, signature=signature(bundle),
                pip_requirements=requirements(), tags=tags, step=model_step(run_id),
            )
    if registered_name:
        version = mlflow.register_model(info.model_uri, registered_name, tags=tags)
        logger.info("Registered %s as %s version %s", tags.get("cell"), registered_name, version.version)
    return info.model_uri


def download_bundle(uri: str, folder: Path, tracking_uri: str | None = None) -> Path:
    """Download the bundle of an MLflow model (``runs:/<run id>/<model name>``, ``models:/<name>/<version>``,
    ``models:/<model id>``) from the store ``tracking_uri`` (default: MLflow's current one) into
    ``folder``; returns the ``model.safetensors`` path."""
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(folder),
                                                     tracking_uri=tracking_uri, registry_uri=tracking_uri))
    found = sorted(local.rglob(BUNDLE)) if local.is_dir() else [local]
    if not found or found[0].name != BUNDLE:
        raise ValueError(f"{uri} is not an upgan cell model (it holds no {BUNDLE})")
    return found[0]
