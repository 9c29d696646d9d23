"""The methods compared in the project, one module each, resolved through one registry.

``from upgan.methods import get, names`` gives the registered methods (see
:mod:`upgan.methods.registry`); :func:`predict_bundle` predicts with any trained method's model
bundle through its plug-in.
"""

from upgan.methods.cascade import CascadeMethod, cascade_from_bundle, cascade_from_states
from upgan.methods.prediction import Prediction, predict_bundle
from upgan.methods.registry import (
    CellJob,
    CellStep,
    MethodPlugin,
    MethodSpec,
    SingleGeneratorMethod,
    StepResult,
    TrainedSingle,
    get,
    labels,
    names,
    proposed,
    register,
    specs,
)


def check_method(name: str) -> str:
    """Return ``name`` if it is a registered method, else fail with the list of known ones."""
    return get(name).name


__all__ = [
    "CascadeMethod", "CellJob", "CellStep", "MethodPlugin", "MethodSpec", "Prediction",
    "SingleGeneratorMethod", "StepResult", "TrainedSingle", "cascade_from_bundle", "cascade_from_states",
    "check_method", "get", "labels", "names", "predict_bundle", "proposed", "register", "specs",
]
