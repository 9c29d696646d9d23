"""Nodes of the training pipeline: adapters between the catalog and the training core."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from upgan.evaluation import example_slice
from upgan.inference import predict_phases
from upgan.input_statistics import KEY as INPUT_STATISTICS
from upgan.input_statistics import statistics_of_subjects
from upgan.io.bundle import ModelBundle
from upgan.io.slices import SliceSet
from upgan.methods import cascade_from_bundle, cascade_from_states
from upgan.methods.single import train_single
from upgan.models import cascade_config_from_dict
from upgan.pipelines import tracking
from upgan.pipelines.training.config import (
    cascade_config,
    checkpoint_path,
    fine_tune_steps,
    loss_weights,
    method_params,
    phase_steps,
    residual_learning,
    select_training_subjects,
    single_optimiser,
    slice_pairs,
    stage_config,
    stage_key,
    states_digest,
)
from upgan.preparation.normalisation import VALID_RANGE
from upgan.reporting.figures import phase_figure
from upgan.training import TrainingHistory, fine_tune, train_phase
from upgan.uncertainty import phase_summary

logger = logging.getLogger(__name__)

HISTORY_KEYS = ["task", "method", "n_train_patients", "seed", "network", "updates", "selected_step"]
"""Leading columns of every history table (then the engine's record columns, ``step`` first)."""


def history_frame(task: str, method: str, n_train_patients: int, seed: int, network: str,
                  history: TrainingHistory) -> pd.DataFrame:
    """A stage's validation records as a table, each row labelled with its cell, the network,
    the updates made and the step whose weights were kept."""
    frame = pd.DataFrame(list(history))
    labels = {"task": task, "method": method, "n_train_patients": int(n_train_patients), "seed": int(seed),
              "network": network, "updates": int(history.updates), "selected_step": int(history.selected_step)}
    for i, (key, value) in enumerate(labels.items()):
        frame.insert(i, key, value)
    return frame


def _record(task: str, method: str, n_train_patients: int, network: str, params: Mapping[str, Any],
            history: TrainingHistory, seed: int) -> pd.DataFrame:
    """The stage's history as a table (:func:`history_frame`), also logged (with its
    parameters) under ``network`` in the cell's MLflow child run."""
    frame = history_frame(task, method, n_train_patients, seed, network, history)
    with tracking.cell_run(task, method, n_train_patients, seed):
        tracking.log_params({**params, "selected_step": history.selected_step}, network)
        tracking.log_history(list(history), network)
    return frame


def train_upgan_phase(
    task: str,
    method: str,
    n_train_patients: int,
    seed: int,
    n_phases: int,
    phase: int,
    train_slices: SliceSet,
    val_slices: SliceSet,
    split_manifest: pd.DataFrame,
    upgan: dict[str, Any],
    training: dict[str, Any],
    *previous: ModelBundle,
) -> tuple[ModelBundle, pd.DataFrame]:
    """Initialise phase ``phase`` of an ``n_phases`` cascade: train G_phase and D_phase with the
    earlier generators frozen.

    Returns:
        The phase bundle (``generator`` and ``discriminator`` weights + config) and the
        stage's validation history.
    """
    cell = tracking.cell_name(task, method, n_train_patients, seed)
    cfg = cascade_config(method, upgan, n_phases, in_channels=train_slices.inputs.shape[1],
                         residual=residual_learning(task, training))
    weights = loss_weights(upgan)
    stage = stage_config(f"{cell} phase {phase}", upgan["phase"], training, phase_steps(training),
                         seed + 1000 * phase, "upgan.phase")
    subjects = select_training_subjects(split_manifest, n_train_patients)
    frozen = [b.state_dict("generator") for b in previous]
    train, val = slice_pairs(train_slices, subjects), slice_pairs(val_slices)
    key = stage_key(stage, {"phase": phase, "cascade": cfg.to_dict(), "loss": dataclasses.asdict(weights),
                            "frozen": states_digest(frozen)}, train, val)
    generator, discriminator, history = train_phase(
        cfg, phase, frozen, train, val, stage, weights,
        checkpoint_path=checkpoint_path(training, cell, f"phase_{phase}", key),
    )
    config = {"task": task, "method": method, "n_train_patients": n_train_patients,
              "phase": phase, "cascade": cfg.to_dict(), "train_subjects": subjects}
    frame = _record(task, method, n_train_patients, f"phase_{phase}",
                    {**stage.fingerprint_fields(), **weights.__dict__}, history, seed)
    return ModelBundle.pack({"generator": generator, "discriminator": discriminator}, config), frame


def fine_tune_upgan(
    task: str,
    method: str,
    n_train_patients: int,
    seed: int,
    n_phases: int,
    train_slices: SliceSet,
    val_slices: SliceSet,
    split_manifest: pd.DataFrame,
    upgan: dict[str, Any],
    training: dict[str, Any],
    preparation: dict[str, Any],
    volume_manifest: pd.DataFrame,
    *phases: ModelBundle,
) -> tuple[ModelBundle, pd.DataFrame]:
    """Fine-tune every generator (and discriminator) end to end on the sum of the phase losses.

    Returns:
        The cell's model bundle (``generator_<m>`` and ``discriminator_<m>`` for every phase,
        and the config ``upgan predict`` needs: task, cascade, preparation, the training inputs'
        statistics, :mod:`upgan.input_statistics`) and the history.
    """
    cell = tracking.cell_name(task, method, n_train_patients, seed)
    cfg = cascade_config(method, upgan, n_phases, in_channels=train_slices.inputs.shape[1],
                         residual=residual_learning(task, training))
    weights = loss_weights(upgan)
    stage = stage_config(f"{cell} fine-tune", upgan["fine_tune"], training, fine_tune_steps(upgan),
                         seed + 1000 * cfg.n_phases, "upgan.fine_tune", ("steps",), keep_initial=True)
    subjects = select_training_subjects(split_manifest, n_train_patients)
    initial_g = [b.state_dict("generator") for b in phases]
    initial_d = [b.state_dict("discriminator") for b in phases]
    train, val = slice_pairs(train_slices, subjects), slice_pairs(val_slices)
    key = stage_key(stage, {"cascade": cfg.to_dict(), "loss": dataclasses.asdict(weights),
                            "initial": states_digest([*initial_g, *initial_d])}, train, val)
    generators, discriminators, history = fine_tune(
        cfg, initial_g, initial_d, train, val, stage, weights,
        checkpoint_path=checkpoint_path(training, cell, "fine_tune", key),
    )
    states = {f"generator_{m}": g for m, g in enumerate(generators)}
    states.update({f"discriminator_{m}": d for m, d in enumerate(discriminators)})
    config = {"task": task, "method": method, "n_train_patients": n_train_patients,
              "cascade": cfg.to_dict(), "preparation": dict(preparation), "train_subjects": subjects,
              INPUT_STATISTICS: statistics_of_subjects(volume_manifest, subjects, preparation).to_dict()}
    frame = _record(task, method, n_train_patients, "fine_tune", stage.fingerprint_fields(), history, seed)
    return ModelBundle.pack(states, config), frame


def train_single_cell(
    task: str,
    method: str,
    n_train_patients: int,
    seed: int,
    train_slices: SliceSet,
    val_slices: SliceSet,
    split_manifest: pd.DataFrame,
    baselines: dict[str, Any],
    upgan: dict[str, Any],
    training: dict[str, Any],
    preparation: dict[str, Any],
    volume_manifest: pd.DataFrame | None = None,
) -> tuple[ModelBundle, pd.DataFrame]:
    """Train a single-generator method (a baseline or a control) for the shared budget of
    generator updates (:func:`phase_steps`) with its optimiser settings: ``baselines.optimiser``,
    overridden key by key by the method's own ``baselines.<method>.optimiser`` block.

    Returns:
        The cell's model bundle (``generator`` and the method's other networks; config with the
        network settings) and the validation history (with a row per pretrained network).
    """
    cell = tracking.cell_name(task, method, n_train_patients, seed)
    if method not in baselines:
        raise ValueError(f"parameters baselines.{method} are missing")
    optimiser, where = single_optimiser(baselines, method)
    stage = stage_config(f"{cell} train", optimiser, training, phase_steps(training), seed, where)
    subjects = select_training_subjects(split_manifest, n_train_patients)
    params = {**method_params(baselines, method), "input_residual": residual_learning(task, training)}
    train, val = slice_pairs(train_slices, subjects), slice_pairs(val_slices)
    key = stage_key(stage, {"method": method, "params": params}, train, val)
    trained = train_single(method, params, train, val, stage, checkpoint_path(training, cell, "train", key),
                           context={"upgan": upgan})
    config = {"task": task, "method": method, "n_train_patients": n_train_patients, "network": trained.config,
              "preparation": dict(preparation), "train_subjects": subjects}
    if volume_manifest is not None:  # what the inputs looked like (upgan predict checks new ones)
        config[INPUT_STATISTICS] = statistics_of_subjects(volume_manifest, subjects, preparation).to_dict()
    frame = _record(task, method, n_train_patients, "generator", stage.fingerprint_fields(), trained.history, seed)
    pretrained = [{"task": task, "method": method, "n_train_patients": int(n_train_patients), "seed": seed,
                   "network": network, "updates": updates, "selected_step": updates, "step": updates,
                   "g_loss": final_loss} for network, (updates, final_loss) in trained.pretraining.items()]
    if pretrained:
        frame = pd.concat([pd.DataFrame(pretrained), frame], ignore_index=True)
    return ModelBundle.pack(trained.states, config), frame


def _outputs_to_numpy(outputs) -> list[dict[str, np.ndarray]]:
    return [{k: getattr(o, k).numpy() for k in ("image", "alpha", "beta", "sigma")} for o in outputs]


def summarise_phases(
    task: str,
    method: str,
    n_train_patients: int,
    seed: int,
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
    table = phase_summary([np.clip(o["image"], *VALID_RANGE) for o in outs], [o["sigma"] for o in outs],
                          test_slices.targets, labels)
    table.insert(0, "stage", ["initialisation"] * cfg.n_phases + ["fine_tuned"] * cfg.n_phases)
    final = table.iloc[[-1]].assign(stage="fine_tuned", phase="final")
    table = pd.concat([table, final], ignore_index=True)
    k = example_slice(test_slices.targets, test_slices.subject_ids)  # the slice of Figure 3 too
    shown = [{key: v[k, 0] for key, v in o.items()} for o in outs]
    cell = tracking.cell_name(task, method, n_train_patients, seed)
    figure = phase_figure(
        test_slices.inputs[k, 0], test_slices.targets[k, 0], shown,
        [f"init phase {m}" for m in range(cfg.n_phases)] + [f"fine-tuned phase {m}" for m in range(cfg.n_phases)],
        summary_rows=table.iloc[:-1].to_dict("records"),
        title=f"{cell}: phases on test subject {test_slices.subject_ids[k]}, slice {test_slices.slice_index[k]}",
    )
    with tracking.cell_run(task, method, n_train_patients, seed):
        # the fine-tuned phases' test metrics are logged by evaluation (test_phase_<m>/...)
        for row in table[table["stage"] == "initialisation"].to_dict("records"):
            tag = f"test/initialisation_{row['phase']}"
            tracking.log_metrics({f"{tag}/{k}": float(row[k]) for k in
                                  ("mean_abs_error", "mean_sigma", "spearman_sigma_abs_error")})
        tracking.log_figure(figure, f"phases_{cell}.png")
    logger.info("%s phases on the test set:\n%s", cell, table.to_string(index=False))
    return table, figure
