"""Nodes of the training pipeline: adapters between the catalog and the training core."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
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
from upgan.preparation.normalisation import VALID_RANGE
from upgan.reporting.figures import phase_figure
from upgan.tasks import get_task
from upgan.training import SlicePairs, StageConfig, TrainingHistory, fine_tune, train_phase
from upgan.training.engine import CHECKPOINT_FORMAT
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


def residual_learning(task: str, training: Mapping[str, Any]) -> bool:
    """Whether the cell's generators learn a correction of their input (global residual): on
    when ``training.residual_learning`` is true and the task's input is on the target's scale
    (the MRI tasks), for every method alike."""
    flag = training.get("residual_learning", False)
    if not isinstance(flag, bool):
        raise ValueError(f"training.residual_learning must be true or false, got {flag!r}")
    return flag and get_task(task).input_is_reference


def cascade_config(method: str, upgan: Mapping[str, Any], in_channels: int = 1,
                   residual: bool = False) -> CascadeConfig:
    """The cascade of ``method`` (``upgan`` or the ``upgan_no_guidance`` ablation) from
    parameters; ``residual``: every phase adds its image head to ``a``'s first channel."""
    if method not in GUIDANCE:
        raise ValueError(f"unknown UP-GAN method {method!r}; known: {', '.join(GUIDANCE)}")
    unet = {"in_channels": in_channels, **dict(upgan.get("generator", {}))}
    if residual:
        unet["residual_from"] = 0
    return cascade_config_from_dict({
        "n_phases": int(upgan["n_phases"]),
        "guidance": GUIDANCE[method],
        "unet": unet,
        "discriminator": dict(upgan.get("discriminator", {})),
    })


STAGE_KEYS = ("batch_size", "lr_generator", "lr_discriminator", "betas", "cosine")
"""Optimiser keys of a stage block (``upgan.phase``, ``upgan.fine_tune``, ``baselines.optimiser``)."""


def _steps(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{key} must be an int >= 1 (generator updates), got {value!r}")
    return value


def _stage(name: str, stage: Mapping[str, Any], training: Mapping[str, Any], steps: int,
           seed_offset: int, where: str, extra_keys: tuple[str, ...] = (),
           keep_initial: bool = False) -> StageConfig:
    """A :class:`StageConfig` from a stage block (``where`` names it in errors), the shared
    ``training`` block and the stage's budget in generator updates."""
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
        _steps(val_every, "training.val_every")
    try:
        return StageConfig(
            name=name,
            steps=steps,
            seed=int(training["seed"]) + seed_offset,
            device=str(training.get("device", "auto")),
            bf16=bool(training.get("bf16", False)),
            channels_last=bool(training.get("channels_last", False)),
            compile=bool(training.get("compile", False)),
            log_every_n_steps=int(training.get("log_every_n_steps", 50)),
            val_every=val_every,
            keep_initial=keep_initial,
            **values,
        )
    except ValueError as err:
        raise ValueError(str(err).replace("StageConfig.", f"{where}.")) from err


def phase_steps(training: Mapping[str, Any]) -> int:
    """The shared budget: generator updates of every baseline generator and every UP-GAN phase
    (``training.steps``)."""
    return _steps(training.get("steps"), "training.steps")


def fine_tune_steps(upgan: Mapping[str, Any]) -> int:
    """UP-GAN's end-to-end fine-tuning, on top of the shared budget (``upgan.fine_tune.steps``)."""
    return _steps(dict(upgan.get("fine_tune", {})).get("steps"), "upgan.fine_tune.steps")


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
    _stage("upgan.phase", upgan["phase"], training, phase_steps(training), 0, "upgan.phase")
    _stage("upgan.fine_tune", upgan["fine_tune"], training, fine_tune_steps(upgan), 0,
           "upgan.fine_tune", ("steps",))


def states_digest(states: Iterable[Mapping[str, torch.Tensor]]) -> str:
    """sha256 of state dicts (names, dtypes, shapes and bytes): the weights a stage starts from."""
    h = hashlib.sha256()
    for state in states:
        for name, tensor in state.items():
            t = tensor.detach().cpu().contiguous()
            h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def stage_key(stage: StageConfig, method: Mapping[str, Any], train: SlicePairs, val: SlicePairs | None) -> str:
    """Short hash of what determines a stage's result: its config fields (budget, optimiser,
    seed), the method's parameters (network, loss, the weights it starts from) and the data.

    It names the stage's checkpoint, so that a changed setting trains fresh beside the old
    checkpoints (which the engine would refuse as a fingerprint mismatch) and the old settings
    find theirs again."""
    payload = {"format": CHECKPOINT_FORMAT, "config": stage.fingerprint_fields(), "method": dict(method),
               "train": train.digest(), "val": val.digest() if val is not None else None}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _checkpoint(training: Mapping[str, Any], cell: str, stage: str, key: str) -> Path | None:
    """``<checkpoint_dir>/<task>/<method>/n<NN>/<stage>-<key>.pt`` (None: no checkpoints)."""
    root = training.get("checkpoint_dir")
    return None if root is None else Path(root) / cell.replace(".", "/") / f"{stage}-{key}.pt"


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
    with tracking.cell_run(task, method, n_train_patients):
        tracking.log_params({**params, "selected_step": history.selected_step}, network)
        tracking.log_history(list(history), network)
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
    cfg = cascade_config(method, upgan, in_channels=train_slices.inputs.shape[1],
                         residual=residual_learning(task, training))
    weights = _weights(upgan)
    stage = _stage(f"{cell} phase {phase}", upgan["phase"], training, phase_steps(training),
                   1000 * phase, "upgan.phase")
    subjects = select_training_subjects(split_manifest, n_train_patients)
    frozen = [b.state_dict("generator") for b in previous]
    train, val = _pairs(train_slices, subjects), _pairs(val_slices)
    key = stage_key(stage, {"phase": phase, "cascade": cfg.to_dict(), "loss": dataclasses.asdict(weights),
                            "frozen": states_digest(frozen)}, train, val)
    generator, discriminator, history = train_phase(
        cfg, phase, frozen, train, val, stage, weights,
        checkpoint_path=_checkpoint(training, cell, f"phase_{phase}", key),
    )
    config = {"task": task, "method": method, "n_train_patients": n_train_patients,
              "phase": phase, "cascade": cfg.to_dict(), "train_subjects": subjects}
    frame = _record(task, method, n_train_patients, f"phase_{phase}",
                    {**stage.fingerprint_fields(), **weights.__dict__}, history, int(training["seed"]))
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
    cfg = cascade_config(method, upgan, in_channels=train_slices.inputs.shape[1],
                         residual=residual_learning(task, training))
    weights = _weights(upgan)
    stage = _stage(f"{cell} fine-tune", upgan["fine_tune"], training, fine_tune_steps(upgan),
                   1000 * cfg.n_phases, "upgan.fine_tune", ("steps",), keep_initial=True)
    subjects = select_training_subjects(split_manifest, n_train_patients)
    initial_g = [b.state_dict("generator") for b in phases]
    initial_d = [b.state_dict("discriminator") for b in phases]
    train, val = _pairs(train_slices, subjects), _pairs(val_slices)
    key = stage_key(stage, {"cascade": cfg.to_dict(), "loss": dataclasses.asdict(weights),
                            "initial": states_digest([*initial_g, *initial_d])}, train, val)
    generators, discriminators, history = fine_tune(
        cfg, initial_g, initial_d, train, val, stage, weights,
        checkpoint_path=_checkpoint(training, cell, "fine_tune", key),
    )
    states = {f"generator_{m}": g for m, g in enumerate(generators)}
    states.update({f"discriminator_{m}": d for m, d in enumerate(discriminators)})
    config = {"task": task, "method": method, "n_train_patients": n_train_patients,
              "cascade": cfg.to_dict(), "preparation": dict(preparation), "train_subjects": subjects}
    frame = _record(task, method, n_train_patients, "fine_tune", stage.fingerprint_fields(), history,
                    int(training["seed"]))
    return ModelBundle.pack(states, config), frame


def baseline_optimiser(baselines: Mapping[str, Any], method: str) -> tuple[dict[str, Any], str]:
    """The optimiser block of a baseline (shared ``baselines.optimiser`` updated by the method's
    own ``baselines.<method>.optimiser``) and the name to use in errors."""
    own = dict((baselines.get(method) or {}).get("optimiser") or {})
    where = f"baselines.{method}.optimiser" if own else "baselines.optimiser"
    return {**dict(baselines.get("optimiser") or {}), **own}, where


def method_params(baselines: Mapping[str, Any], method: str) -> dict[str, Any]:
    """A baseline's network and loss parameters (its block without ``optimiser``)."""
    return {k: v for k, v in dict(baselines.get(method) or {}).items() if k != "optimiser"}


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
    """Train a baseline (pix2pix, PAN or MedGAN) for the shared budget of generator updates
    (:func:`phase_steps`) with its optimiser settings: ``baselines.optimiser``, overridden key by
    key by the method's own ``baselines.<method>.optimiser`` block when it has one.

    Returns:
        The cell's model bundle (``generator``, ``discriminator``, MedGAN's
        ``feature_extractor``; config with the network settings) and the per-epoch history.
    """
    from upgan.training.baselines import train_baseline

    cell = tracking.cell_name(task, method, n_train_patients)
    if method not in baselines:
        raise ValueError(f"parameters baselines.{method} are missing")
    optimiser, where = baseline_optimiser(baselines, method)
    stage = _stage(f"{cell} train", optimiser, training, phase_steps(training), 0, where)
    subjects = select_training_subjects(split_manifest, n_train_patients)
    params = {**method_params(baselines, method), "input_residual": residual_learning(task, training)}
    train, val = _pairs(train_slices, subjects), _pairs(val_slices)
    key = stage_key(stage, {"method": method, "params": params}, train, val)
    states, network, history = train_baseline(
        method, params, train, val, stage, checkpoint_path=_checkpoint(training, cell, "train", key),
    )
    config = {"task": task, "method": method, "n_train_patients": n_train_patients, "network": network,
              "preparation": dict(preparation), "train_subjects": subjects}
    seed = int(training["seed"])
    frame = _record(task, method, n_train_patients, "generator", stage.fingerprint_fields(), history, seed)
    if "feature_extractor_updates" in network:
        updates = int(network["feature_extractor_updates"])
        extractor = pd.DataFrame([{"task": task, "method": method, "n_train_patients": int(n_train_patients),
                                   "seed": seed, "network": "feature_extractor", "updates": updates,
                                   "selected_step": updates, "step": updates,
                                   "g_loss": network.get("feature_extractor_final_l1")}])
        frame = pd.concat([extractor, frame], ignore_index=True)
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
    table = phase_summary([np.clip(o["image"], *VALID_RANGE) for o in outs], [o["sigma"] for o in outs],
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
