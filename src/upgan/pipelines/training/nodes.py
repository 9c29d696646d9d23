"""Nodes of the training pipeline: adapters between the catalog and the training core."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from upgan.evaluation import example_slice
from upgan.inference import predict_phases
from upgan.io.bundle import ModelBundle
from upgan.losses import UPGANLossWeights
from upgan.methods import CASCADES, cascade_from_bundle, cascade_from_states
from upgan.models import CascadeConfig, cascade_config_from_dict
from upgan.pipelines import tracking
from upgan.preparation import SliceSet
from upgan.reporting.figures import phase_figure
from upgan.training import SlicePairs, StageConfig, fine_tune, train_phase
from upgan.uncertainty import phase_summary

logger = logging.getLogger(__name__)

GUIDANCE = CASCADES


def select_training_subjects(split_manifest: pd.DataFrame, n_train_patients: int) -> list[str]:
    """The first ``n_train_patients`` training subjects in the split's seeded order (so smaller
    subsets are nested in larger ones)."""
    train = split_manifest[split_manifest["split"] == "train"].sort_values("order")
    if not 1 <= n_train_patients <= len(train):
        raise ValueError(
            f"n_train_patients={n_train_patients} but the training split has {len(train)} subjects"
        )
    return train["subject_id"].head(n_train_patients).tolist()


def _pairs(slices: SliceSet, subjects: list[str] | None = None) -> SlicePairs:
    chosen = slices.subset(subjects) if subjects is not None else slices
    return SlicePairs(torch.from_numpy(chosen.inputs), torch.from_numpy(chosen.targets))


def cascade_config(method: str, upgan: Mapping[str, Any], in_channels: int = 1) -> CascadeConfig:
    """The cascade of ``method`` (``upgan`` or the ``upgan_no_guidance`` ablation) from parameters."""
    if method not in GUIDANCE:
        raise ValueError(f"unknown UP-GAN method {method!r}; known: {', '.join(GUIDANCE)}")
    return cascade_config_from_dict({
        "n_phases": int(upgan["n_phases"]),
        "guidance": GUIDANCE[method],
        "unet": {"in_channels": in_channels, **dict(upgan.get("generator", {}))},
        "discriminator": dict(upgan.get("discriminator", {})),
    })


def _stage(name: str, stage: Mapping[str, Any], training: Mapping[str, Any], seed_offset: int) -> StageConfig:
    values = dict(stage)
    if "betas" in values:
        values["betas"] = tuple(values["betas"])
    return StageConfig(
        name=name,
        seed=int(training["seed"]) + seed_offset,
        device=str(training.get("device", "auto")),
        bf16=bool(training.get("bf16", False)),
        channels_last=bool(training.get("channels_last", False)),
        compile=bool(training.get("compile", False)),
        log_every_n_steps=int(training.get("log_every_n_steps", 50)),
        max_steps_per_epoch=training.get("max_steps_per_epoch"),
        **values,
    )


def _weights(upgan: Mapping[str, Any]) -> UPGANLossWeights:
    loss = dict(upgan.get("loss", {}))
    return UPGANLossWeights(**loss)


def validate_upgan_parameters(upgan: Mapping[str, Any], training: Mapping[str, Any]) -> None:
    """Build every config a cell will need, so bad values fail before any training starts."""
    for method in GUIDANCE:
        cascade_config(method, upgan)
    _weights(upgan)
    for key in ("phase", "fine_tune"):
        if key not in upgan:
            raise ValueError(f"parameters upgan.{key} are missing")
        _stage(f"upgan.{key}", upgan[key], training, seed_offset=0)


def _checkpoint(training: Mapping[str, Any], cell: str, stage: str) -> Path | None:
    root = training.get("checkpoint_dir")
    return None if root is None else Path(root) / cell.replace(".", "/") / f"{stage}.pt"


def _record(task: str, method: str, n_train_patients: int, prefix: str, params: Mapping[str, Any],
            history) -> pd.DataFrame:
    """The stage's per-epoch history as a table, also logged (with its parameters) under
    ``prefix`` in the cell's MLflow child run."""
    frame = pd.DataFrame(list(history))
    with tracking.cell_run(task, method, n_train_patients):
        tracking.log_params(params, prefix)
        tracking.log_history(frame.to_dict("records"), prefix)
    return frame


def train_upgan_phase(
    task: str,
    method: str,
    n_train_patients: int,
    phase: int,
    train_slices: SliceSet,
    val_slices: SliceSet,
    split_manifest: pd.DataFrame,
    upgan: dict[str, Any],
    training: dict[str, Any],
    *previous: ModelBundle,
) -> tuple[ModelBundle, pd.DataFrame]:
    """Initialise phase ``phase``: train G_phase and D_phase with the earlier generators frozen.

    Returns:
        The phase bundle (``generator`` and ``discriminator`` weights + config) and the
        per-epoch history.
    """
    cell = tracking.cell_name(task, method, n_train_patients)
    cfg = cascade_config(method, upgan, in_channels=train_slices.inputs.shape[1])
    weights = _weights(upgan)
    stage = _stage(f"{cell} phase {phase}", upgan["phase"], training, seed_offset=1000 * phase)
    subjects = select_training_subjects(split_manifest, n_train_patients)
    generator, discriminator, history = train_phase(
        cfg, phase, [b.state_dict("generator") for b in previous],
        _pairs(train_slices, subjects), _pairs(val_slices), stage, weights,
        checkpoint_path=_checkpoint(training, cell, f"phase_{phase}"),
    )
    config = {"task": task, "method": method, "n_train_patients": n_train_patients,
              "phase": phase, "cascade": cfg.to_dict(), "train_subjects": subjects}
    frame = _record(task, method, n_train_patients, f"phase_{phase}",
                    {**stage.fingerprint_fields(), **weights.__dict__}, history)
    logger.info("%s phase %d: final %s", cell, phase, frame.iloc[-1].to_dict())
    return ModelBundle.pack({"generator": generator, "discriminator": discriminator}, config), frame


def fine_tune_upgan(
    task: str,
    method: str,
    n_train_patients: int,
    train_slices: SliceSet,
    val_slices: SliceSet,
    split_manifest: pd.DataFrame,
    upgan: dict[str, Any],
    training: dict[str, Any],
    preparation: dict[str, Any],
    *phases: ModelBundle,
) -> tuple[ModelBundle, pd.DataFrame]:
    """Fine-tune every generator (and discriminator) end to end on the sum of the phase losses.

    Returns:
        The cell's model bundle (``generator_<m>`` and ``discriminator_<m>`` for every phase,
        and the config ``upgan predict`` needs: task, cascade, preparation) and the history.
    """
    cell = tracking.cell_name(task, method, n_train_patients)
    cfg = cascade_config(method, upgan, in_channels=train_slices.inputs.shape[1])
    weights = _weights(upgan)
    stage = _stage(f"{cell} fine-tune", upgan["fine_tune"], training, seed_offset=1000 * cfg.n_phases)
    subjects = select_training_subjects(split_manifest, n_train_patients)
    generators, discriminators, history = fine_tune(
        cfg, [b.state_dict("generator") for b in phases], [b.state_dict("discriminator") for b in phases],
        _pairs(train_slices, subjects), _pairs(val_slices), stage, weights,
        checkpoint_path=_checkpoint(training, cell, "fine_tune"),
    )
    states = {f"generator_{m}": g for m, g in enumerate(generators)}
    states.update({f"discriminator_{m}": d for m, d in enumerate(discriminators)})
    config = {"task": task, "method": method, "n_train_patients": n_train_patients,
              "cascade": cfg.to_dict(), "preparation": dict(preparation), "train_subjects": subjects}
    frame = _record(task, method, n_train_patients, "fine_tune", stage.fingerprint_fields(), history)
    return ModelBundle.pack(states, config), frame


def budget_epochs(upgan: Mapping[str, Any]) -> int:
    """The shared training budget, in passes over the training data: what UP-GAN spends on its
    M initialisation phases and its fine-tuning together. Every baseline trains this long."""
    return int(upgan["n_phases"]) * int(upgan["phase"]["epochs"]) + int(upgan["fine_tune"]["epochs"])


def train_baseline_cell(
    task: str,
    method: str,
    n_train_patients: int,
    train_slices: SliceSet,
    val_slices: SliceSet,
    split_manifest: pd.DataFrame,
    baselines: dict[str, Any],
    upgan: dict[str, Any],
    training: dict[str, Any],
    preparation: dict[str, Any],
) -> tuple[ModelBundle, pd.DataFrame]:
    """Train a baseline (pix2pix, PAN or MedGAN) under the shared budget (:func:`budget_epochs`)
    with its own optimiser settings (``baselines.optimiser``, the papers' Adam 2e-4, β1 0.5).

    Returns:
        The cell's model bundle (``generator``, ``discriminator``, MedGAN's
        ``feature_extractor``; config with the network settings) and the per-epoch history.
    """
    from upgan.training.baselines import train_baseline

    cell = tracking.cell_name(task, method, n_train_patients)
    if method not in baselines:
        raise ValueError(f"parameters baselines.{method} are missing")
    optimiser = dict(baselines.get("optimiser", {}))
    stage = _stage(f"{cell} train", {**optimiser, "epochs": budget_epochs(upgan)}, training, seed_offset=0)
    subjects = select_training_subjects(split_manifest, n_train_patients)
    states, network, history = train_baseline(
        method, baselines[method], _pairs(train_slices, subjects), _pairs(val_slices), stage,
        checkpoint_path=_checkpoint(training, cell, "train"),
    )
    config = {"task": task, "method": method, "n_train_patients": n_train_patients, "network": network,
              "preparation": dict(preparation), "train_subjects": subjects}
    frame = _record(task, method, n_train_patients, "train", stage.fingerprint_fields(), history)
    return ModelBundle.pack(states, config), frame


def _outputs_to_numpy(outputs) -> list[dict[str, np.ndarray]]:
    return [{k: getattr(o, k).numpy() for k in ("image", "alpha", "beta", "sigma")} for o in outputs]


def summarise_phases(
    task: str,
    method: str,
    n_train_patients: int,
    test_slices: SliceSet,
    training: dict[str, Any],
    model: ModelBundle,
    *phases: ModelBundle,
) -> tuple[pd.DataFrame, Figure]:
    """Test-set error and uncertainty after each initialisation phase and after fine-tuning.

    Rows ``init_<m>`` use the phase-by-phase weights (cascade up to phase m), rows ``<m>`` the
    fine-tuned cascade's phase m; ``final`` is the last phase of the fine-tuned cascade.

    Returns:
        The table (``stage, phase, mean_abs_error, mean_sigma, spearman_sigma_abs_error``) and
        the Figure 2 analogue for one test slice.
    """
    cfg = cascade_config_from_dict(model.config["cascade"])
    inputs = torch.from_numpy(test_slices.inputs)
    device = str(training.get("device", "auto"))
    init = cascade_from_states(cfg, [b.state_dict("generator") for b in phases])
    tuned = cascade_from_bundle(model)
    init_out = _outputs_to_numpy(predict_phases(init, inputs, device=device))
    tuned_out = _outputs_to_numpy(predict_phases(tuned, inputs, device=device))
    labels = [f"init_{m}" for m in range(cfg.n_phases)] + [str(m) for m in range(cfg.n_phases)]
    outs = init_out + tuned_out
    table = phase_summary([o["image"] for o in outs], [o["sigma"] for o in outs],
                          test_slices.targets, labels)
    table.insert(0, "stage", ["initialisation"] * cfg.n_phases + ["fine_tuned"] * cfg.n_phases)
    final = table.iloc[[-1]].assign(stage="fine_tuned", phase="final")
    table = pd.concat([table, final], ignore_index=True)
    k = example_slice(test_slices.targets, test_slices.subject_ids)  # the slice of Figure 3 too
    shown = [{key: v[k, 0] for key, v in o.items()} for o in outs]
    cell = tracking.cell_name(task, method, n_train_patients)
    figure = phase_figure(
        test_slices.inputs[k, 0], test_slices.targets[k, 0], shown,
        [f"init phase {m}" for m in range(cfg.n_phases)] + [f"fine-tuned phase {m}" for m in range(cfg.n_phases)],
        summary_rows=table.iloc[:-1].to_dict("records"),
        title=f"{cell}: phases on test subject {test_slices.subject_ids[k]}, slice {test_slices.slice_index[k]}",
    )
    with tracking.cell_run(task, method, n_train_patients):
        for row in table.to_dict("records"):
            tag = f"test/{row['stage']}_{row['phase']}"
            tracking.mlflow.log_metrics({f"{tag}/mean_abs_error": row["mean_abs_error"],
                                         f"{tag}/mean_sigma": row["mean_sigma"],
                                         f"{tag}/spearman_sigma_abs_error": row["spearman_sigma_abs_error"]})
        tracking.log_figure(figure, f"phases_{cell}.png")
    logger.info("%s phases on the test set:\n%s", cell, table.to_string(index=False))
    return table, figure
