"""One check of every parameter group before any node runs (:class:`upgan.hooks.RuntimeHooks`).

Every key must be known: a typo'd key (``upgan.phse.steps``) would otherwise be ignored and its
default used. Every value must build the object that consumes it (stage, cascade, baseline,
preparation and simulation configs). Errors are one line naming the parameter's dotted name,
e.g. ``unknown parameter upgan.phse; known: upgan.n_phases, upgan.generator, ...``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from upgan.losses import UPGANLossWeights
from upgan.methods import get, names
from upgan.methods.single import resolve_params
from upgan.models import DiscriminatorConfig, UNetConfig
from upgan.pipelines.limits import check_limits
from upgan.pipelines.training.config import (
    STAGE_KEYS,
    method_params,
    phase_steps,
    residual_learning,
    single_optimiser,
    stage_config,
    validate_method_parameters,
)
from upgan.preparation import PreparationConfig
from upgan.runtime import check_cpu_threads
from upgan.schema import Schema, check_keys
from upgan.structure import check_seeds
from upgan.tasks import cohort_layouts, get_layout, get_task, task_names


def _fields(cls: type, drop: Iterable[str] = ()) -> dict[str, None]:
    return {name: None for name in cls.__dataclass_fields__ if name not in set(drop)}


def _single_schema(name: str) -> dict[str, Any]:
    """``baselines.<name>``: the method's own keys (blocks with theirs) and its ``optimiser``."""
    single = get(name).single
    assert single is not None
    # input_residual is set per task by the pipeline (training.residual_learning)
    keys: dict[str, Any] = {k: None for k in single.defaults if k != "input_residual"}
    keys.update({k: dict.fromkeys(block) for k, block in single.nested.items()})
    keys["optimiser"] = dict.fromkeys(STAGE_KEYS)  # overrides baselines.optimiser for this method
    return keys


STAGE: Schema = dict.fromkeys(STAGE_KEYS)
SCHEMA: Schema = {
    "data_root": None,
    "tasks": None,
    "methods": None,
    "seeds": None,
    "runtime": {"cpu_threads": None},
    "upgan": {
        "n_phases": None,
        # in_channels and residual_from are set by the pipeline (data, training.residual_learning)
        "generator": _fields(UNetConfig, ("in_channels", "residual_from")),
        "discriminator": _fields(DiscriminatorConfig),
        "loss": _fields(UPGANLossWeights),
        "guidance": {"input": None},
        "residual_to": None,
        "phase": STAGE,
        "fine_tune": {**STAGE, "steps": None},
    },
    "training": dict.fromkeys(("device", "bf16", "channels_last", "compile", "log_every_n_steps",
                               "steps", "val_every", "residual_learning", "checkpoint_dir",
                               "device_data_budget_gb")),
    "baselines": {"optimiser": STAGE, **{name: _single_schema(name) for name in names(kind="single")}},
    "weak_supervision": dict.fromkeys(("tasks", "counts", "methods")),
    "tracking": {"register_models": None},
}
"""The parameter groups that do not depend on the registered tasks (``None``: a value)."""


def simulations() -> dict[str, type]:
    """The ``simulation`` parameters' dataclass of each registered cohort layout, by layout name."""
    return {name: layout.simulation_type() for name, layout in cohort_layouts().items()}


def schema() -> Schema:
    """Every parameter the project reads, by group: :data:`SCHEMA`, ``cohorts.<layout>`` of every
    registered layout and ``<task>`` of every registered task (read from the registry now, so a
    task registered after import is known)."""
    cohort = {"source": None, "synthetic_dir": None, "n_subjects": None, "seed": None, "n_workers": None}
    task_block = {
        "split": dict.fromkeys(("train", "val", "test", "seed")),
        "preparation": {
            **_fields(PreparationConfig),
            "undersampling": dict.fromkeys(("mode", "fraction", "upgan_af", "phase_encode_axis")),
            "motion": dict.fromkeys(("degrees", "translation_mm", "num_transforms")),
        },
    }
    return {
        **SCHEMA,
        "cohorts": {name: {**cohort, "simulation": _fields(config)} for name, config in simulations().items()},
        **dict.fromkeys(task_names(), task_block),
    }

_CONFIG_NAMES = {"UNetConfig.": "upgan.generator.", "DiscriminatorConfig.": "upgan.discriminator.",
                 "CascadeConfig.n_phases (M)": "upgan.n_phases", "CascadeConfig.": "upgan."}


def _renamed(error: Exception, names: Mapping[str, str]) -> ValueError:
    """``error`` as a ValueError whose config class names are replaced by parameter names."""
    text = str(error)
    for old, new in names.items():
        text = text.replace(old, new)
    return ValueError(text)


def _int(value: Any, where: str, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"parameter {where} must be an int >= {minimum}, got {value!r}")


def _require(block: Mapping[str, Any], keys: Iterable[str], where: str) -> None:
    missing = [f"{where}.{k}" for k in keys if k not in block]
    if missing:
        raise ValueError(f"missing parameter{'s' if len(missing) > 1 else ''} {', '.join(missing)}")


def _check_training(params: Mapping[str, Any]) -> None:
    upgan, training = dict(params.get("upgan") or {}), dict(params.get("training") or {})
    _require(training, ("steps",), "training")
    _require(upgan, ("n_phases", "phase", "fine_tune"), "upgan")
    for task in params.get("tasks", []):
        residual_learning(task, training)  # checks training.residual_learning
    try:
        validate_method_parameters(params)
    except (TypeError, ValueError) as error:
        raise _renamed(error, _CONFIG_NAMES) from error


def _check_baselines(params: Mapping[str, Any]) -> None:
    baselines, training = dict(params.get("baselines") or {}), dict(params.get("training") or {})
    methods = [*params.get("methods", []), *dict(params.get("weak_supervision") or {}).get("methods", [])]
    singles = names(kind="single")
    for method in methods:
        if method in singles and method not in baselines:
            raise ValueError(f"missing parameter baselines.{method} (the method {method} is trained)")
    if any(m in singles for m in methods) or "optimiser" in baselines:
        stage_config("baselines", dict(baselines.get("optimiser") or {}), training, phase_steps(training), 0,
                     "baselines.optimiser")
    context = {"upgan": dict(params.get("upgan") or {})}
    for name in singles:
        if name in baselines:
            optimiser, where = single_optimiser(baselines, name)
            if where != "baselines.optimiser":
                stage_config("baselines", optimiser, training, phase_steps(training), 0, where)
            try:  # the image size only resolves the "sized to the input" defaults
                resolve_params(name, method_params(baselines, name), (256, 256), context)
            except (TypeError, ValueError) as error:
                text = re.sub(r"parameter '([^']+)'", rf"baselines.{name}.\1", str(error))
                raise ValueError(text if f"baselines.{name}" in text else f"baselines.{name}: {text}") from error


def _check_cohorts(params: Mapping[str, Any]) -> None:
    cohorts = dict(params.get("cohorts") or {})
    for task in params.get("tasks", task_names()):
        layout = get_task(task).layout.name
        if layout not in cohorts:
            raise ValueError(f"missing parameter cohorts.{layout} (the cohort of task {task})")
    for layout, cohort in cohorts.items():
        where = f"cohorts.{layout}"
        cohort = dict(cohort or {})
        _require(cohort, ("seed",), where)
        _int(cohort["seed"], f"{where}.seed", 0)
        _int(cohort.get("n_workers", 1), f"{where}.n_workers", 1)
        source = cohort.get("source", "synthetic")
        if not isinstance(source, str) or not source:
            raise ValueError(f"parameter {where}.source must be 'synthetic' or a folder, got {source!r}")
        if source == "synthetic":
            _require(cohort, ("synthetic_dir", "n_subjects"), where)
            _int(cohort["n_subjects"], f"{where}.n_subjects", 1)
            simulation = {k: tuple(v) if isinstance(v, list) else v
                          for k, v in dict(cohort.get("simulation") or {}).items()}
            for key in ("shape", "spacing_mm"):
                value = simulation.get(key, (1, 1, 1))
                if not (isinstance(value, tuple) and len(value) == 3
                        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in value)):
                    raise ValueError(f"parameter {where}.simulation.{key} must be 3 positive numbers, got {value!r}")
            try:
                get_layout(layout).simulation_type()(**simulation)
            except (TypeError, ValueError) as error:
                raise ValueError(f"parameter {where}.simulation: {error}") from error


def _check_tasks(params: Mapping[str, Any]) -> None:
    for task in params.get("tasks", task_names()):
        _require(dict(params.get(task) or {}), ("split", "preparation"), task)
    for task in task_names():
        block = dict(params.get(task) or {})
        split = dict(block.get("split") or {})
        for key in ("train", "val", "test"):
            if key in split:
                _int(split[key], f"{task}.split.{key}", 1)
        if "seed" in split:
            _int(split["seed"], f"{task}.split.seed", 0)
        if block.get("preparation") is not None:
            try:
                PreparationConfig.from_params(block["preparation"])
            except (TypeError, ValueError) as error:
                raise _renamed(error, {"preparation.": f"{task}.preparation."}) from error


def validate_parameters(params: Mapping[str, Any]) -> None:
    """Check every group of the run's parameters (keys, then values); one-line ValueErrors."""
    check_keys(params, schema())
    check_cpu_threads(dict(params.get("runtime") or {}).get("cpu_threads"))
    check_seeds(params.get("seeds", [2021]))
    _check_cohorts(params)
    _check_tasks(params)
    _check_training(params)
    _check_baselines(params)
    check_limits(params)


def check_methods(params: Mapping[str, Any], pipeline_names: Iterable[str] | None) -> None:
    """An empty ``methods`` fails every run that trains, evaluates or reports Table 1."""
    pipelines = list(pipeline_names or ["__default__"])
    if params.get("methods", ["upgan"]) or all(n in ("data_preparation", "weak_supervision") for n in pipelines):
        return
    raise ValueError(
        f"the methods parameter is empty: list the methods to train and evaluate in `methods` "
        f"(known: {', '.join(names())}; cascades: {', '.join(names(kind='cascade'))})"
    )
