"""The methods compared in the project, one module each, resolved through one registry.

``from upgan.methods import get, names`` gives the registered methods (see
:mod:`upgan.methods.registry`); :func:`predict_bundle` predicts with any trained method's model
bundle.
"""

from upgan.methods.prediction import (
    Prediction,
    cascade_from_bundle,
    cascade_from_states,
    predict_bundle,
)
from upgan.methods.registry import (
    MethodSpec,
    SingleGeneratorMethod,
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


def is_cascade(name: str) -> bool:
    """True for the UP-GAN family (phases with uncertainty)."""
    return get(name).cascade


__all__ = [
    "MethodSpec", "Prediction", "SingleGeneratorMethod", "TrainedSingle", "cascade_from_bundle",
    "cascade_from_states", "check_method", "get", "is_cascade", "labels", "names", "predict_bundle",
    "proposed", "register", "specs",
]
