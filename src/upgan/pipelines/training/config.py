"""From parameter blocks to the training core's configs: stages, cascades, budgets, the
training subjects of a cell and the checkpoint path of a stage."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from upgan.io.slices import SliceSet
from upgan.methods import CascadeMethod, get, names, specs
from upgan.methods.cascade import check_steps
from upgan.methods.single import method_params, single_optimiser
from upgan.models import CascadeConfig
from upgan.tasks import get_task
from upgan.training import SlicePairs, StageConfig
from upgan.training.checkpoint import CHECKPOINT_FORMAT

__all__ = [
    "STAGE_KEYS", "cascade_config", "check_steps", "checkpoint_path", "fine_tune_steps", "method_params",
    "phase_steps", "residual_learning", "select_training_subjects", "single_optimiser", "slice_pairs",
    "stage_config", "stage_key", "validate_method_parameters",
]

STAGE_KEYS = ("batch_size", "lr_generator", "lr_discriminator", "betas", "cosine")
"""Optimiser keys of a stage block (``upgan.phase``, ``upgan.fine_tune``, ``baselines.optimiser``)."""


def select_training_subjects(split_manifest: pd.DataFrame, n_train_patients: int) -> list[str]:
    """The first ``n_train_patients`` training subjects in the split's seeded order (so smaller
    subsets are nested in larger ones)."""
    train = split_manifest[split_manifest["split"] == "train"].sort_values("order")
    if not 1 <= n_train_patients <= len(train):
        raise ValueError(
            f"n_train_patients={n_train_patients} but the training split has {len(train)} subjects"
        )
    return train["subject_id"].head(n_train_patients).tolist()


def slice_pairs(slices: SliceSet, subjects: list[str] | None = None) -> SlicePairs:
    """The (input, target) tensors of ``slices`` (only ``subjects``' when given)."""
    chosen = slices.subset(subjects) if subjects is not None else slices
    return SlicePairs(torch.from_numpy(chosen.inputs), torch.from_numpy(chosen.targets))


def residual_learning(task: str, training: Mapping[str, Any]) -> bool:
    """Whether the cell's generators learn a correction of their input (global residual): on
    when ``training.residual_learning`` is true and the task's input is on the target's scale
    (the MRI tasks), for every method alike."""
    flag = training.get("residual_learning", False)
    if not isinstance(flag, bool):
        raise ValueError(f"training.residual_learning must be true or false, got {flag!r}")
    return flag and get_task(task).input_is_reference


def cascade_config(method: str, upgan: Mapping[str, Any], n_phases: int | None = None,
                   in_channels: int = 1, residual: bool = False) -> CascadeConfig:
    """The cascade of a cascade method (``upgan``, its ablation or a variant) from the ``upgan``
    block (:meth:`upgan.methods.CascadeMethod.cascade_config`)."""
    plugin = get(method).plugin
    if not isinstance(plugin, CascadeMethod):
        raise ValueError(f"{method!r} is not a cascade method; cascades: {', '.join(names(kind='cascade'))}")
    return plugin.cascade_config(upgan, n_phases, in_channels, residual)


def stage_config(name: str, stage: Mapping[str, Any], training: Mapping[str, Any], steps: int,
                 seed: int, where: str, extra_keys: tuple[str, ...] = (),
                 keep_initial: bool = False) -> StageConfig:
    """A :class:`StageConfig` from a stage block (``where`` names it in errors), the shared
    ``training`` block, the stage's budget in generator updates and its seed (initialisation
    and shuffling)."""
    values = dict(stage)
    unknown = sorted(set(values) - set(STAGE_KEYS) - set(extra_keys))
    if unknown:
        raise ValueError(f"unknown parameter(s) {[f'{where}.{k}' for k in unknown]}; known: "
                         f"{', '.join(f'{where}.{k}' for k in (*STAGE_KEYS, *extra_keys))}")
    for key in extra_keys:
        values.pop(key, None)
    if "betas" in values:
        values["betas"] = tuple(values["betas"])
    val_every = training.get("val_every")
    if val_every is not None:
        check_steps(val_every, "training.val_every")
    try:
        return StageConfig(
            name=name,
            steps=steps,
            seed=int(seed),
            device=str(training.get("device", "auto")),
            bf16=bool(training.get("bf16", False)),
            channels_last=bool(training.get("channels_last", False)),
            compile=bool(training.get("compile", False)),
            device_data_budget_gb=training.get("device_data_budget_gb"),
            log_every_n_steps=int(training.get("log_every_n_steps", 50)),
            val_every=val_every,
            keep_initial=keep_initial,
            **values,
        )
    except ValueError as err:
        raise ValueError(str(err).replace("StageConfig.", f"{where}.")) from err


def phase_steps(training: Mapping[str, Any]) -> int:
    """The shared budget: generator updates of every single-generator method and every UP-GAN
    phase (``training.steps``)."""
    return check_steps(training.get("steps"), "training.steps")


def fine_tune_steps(upgan: Mapping[str, Any]) -> int:
    """UP-GAN's end-to-end fine-tuning, on top of the shared budget (``upgan.fine_tune.steps``;
    0: none)."""
    return check_steps(dict(upgan.get("fine_tune", {})).get("steps"), "upgan.fine_tune.steps", minimum=0)


def validate_method_parameters(parameters: Mapping[str, Any]) -> None:
    """Ask every registered method whether the run's parameters configure it, so bad values fail
    before any training (:meth:`upgan.methods.MethodPlugin.check_parameters`)."""
    for spec in specs():
        spec.plugin.check_parameters(parameters)
    upgan, training = dict(parameters.get("upgan") or {}), dict(parameters.get("training") or {})
    for key in ("phase", "fine_tune"):
        if key not in upgan:
            raise ValueError(f"parameters upgan.{key} are missing")
    stage_config("upgan.phase", upgan["phase"], training, phase_steps(training), 0, "upgan.phase")
    if fine_tune_steps(upgan):
        stage_config("upgan.fine_tune", upgan["fine_tune"], training, fine_tune_steps(upgan), 0,
                     "upgan.fine_tune", ("steps",))


def stage_key(stage: StageConfig, method: Mapping[str, Any], train: SlicePairs, val: SlicePairs | None) -> str:
    """Short hash of what determines a stage's result: its config fields (budget, optimiser,
    seed), the method's parameters (network, loss, the weights it starts from) and the data.

    It names the stage's checkpoint, so that a changed setting trains fresh beside the old
    checkpoints (which the engine would refuse as a fingerprint mismatch) and the old settings
    find theirs again."""
    payload = {"format": CHECKPOINT_FORMAT, "config": stage.fingerprint_fields(), "method": dict(method),
               "train": train.digest(), "val": val.digest() if val is not None else None}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:12]


def checkpoint_path(training: Mapping[str, Any], cell: str, stage: str, key: str) -> Path | None:
    """``<checkpoint_dir>/<task>/<method>/n<NN>/<stage>-<key>.pt`` (None: no checkpoints)."""
    root = training.get("checkpoint_dir")
    return None if root is None else Path(root) / cell.replace(".", "/") / f"{stage}-{key}.pt"
