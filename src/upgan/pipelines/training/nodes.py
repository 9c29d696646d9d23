"""Nodes of the training pipeline: one adapter between the catalog and every method's plug-in."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pandas as pd

from upgan.input_statistics import KEY as INPUT_STATISTICS
from upgan.input_statistics import statistics_of_subjects
from upgan.io.bundle import ModelBundle
from upgan.methods import get
from upgan.methods.registry import CellJob, CellStep, LoggedHistory, step_inputs
from upgan.pipelines import tracking
from upgan.pipelines.training.config import (
    checkpoint_path,
    phase_steps,
    residual_learning,
    select_training_subjects,
    slice_pairs,
    stage_config,
    stage_key,
)
from upgan.training import TrainingHistory

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


def _history_table(job: CellJob, logged: LoggedHistory) -> pd.DataFrame:
    """A step's history as its table (:func:`_record`), with a row per pretrained network."""
    frame = _record(job.task, job.method, job.n_train_patients, logged.network, logged.params, logged.history,
                    job.seed)
    pretrained = [{"task": job.task, "method": job.method, "n_train_patients": int(job.n_train_patients),
                   "seed": job.seed, "network": network, "updates": updates, "selected_step": updates,
                   "step": updates, "g_loss": final_loss}
                  for network, (updates, final_loss) in logged.pretraining.items()]
    if pretrained:
        frame = pd.concat([pd.DataFrame(pretrained), frame], ignore_index=True)
    return frame


def cell_job(task: str, method: str, n_train_patients: int, seed: int, inputs: dict[str, Any]) -> CellJob:
    """What a step of the cell sees: its inputs by name and the pipeline's stage helpers."""
    cell = tracking.cell_name(task, method, n_train_patients, seed)
    training = dict(inputs.get("training") or {})

    def stage(label: str, block: Mapping[str, Any], steps: int, stage_seed: int, where: str,
              extra_keys: tuple[str, ...] = (), keep_initial: bool = False):
        return stage_config(f"{cell} {label}", block, training, steps, stage_seed, where, extra_keys, keep_initial)

    def checkpoint(label: str, config, payload: Mapping[str, Any], train, val):
        return checkpoint_path(training, cell, label, stage_key(config, payload, train, val))

    job = CellJob(task, method, n_train_patients, seed, cell, inputs, stage, checkpoint,
                  residual=residual_learning(task, training))
    if "train_slices" in inputs:
        job.steps = phase_steps(training)
    if inputs.get("split_manifest") is not None:
        job.subjects = select_training_subjects(inputs["split_manifest"], n_train_patients)
    if inputs.get("train_slices") is not None:
        job.train = slice_pairs(inputs["train_slices"], job.subjects)
    if inputs.get("val_slices") is not None:
        job.val = slice_pairs(inputs["val_slices"])
    return job


def run_cell_step(task: str, method: str, n_train_patients: int, seed: int, step: CellStep,
                  *inputs: Any) -> tuple[Any, ...]:
    """Run one step of a cell through its method's plug-in (:meth:`MethodPlugin.run_step`);
    histories become tables logged (with their parameters) in the cell's MLflow child run, as
    are the step's test metrics and figures.

    Returns:
        The step's outputs in the order of ``step.outputs``.
    """
    job = cell_job(task, method, n_train_patients, seed, dict(zip(step_inputs(step), inputs, strict=True)))
    result = get(method).plugin.run_step(step.name, job)
    missing = [name for name in step.outputs if name not in result.outputs]
    if missing:
        raise RuntimeError(f"{method} step {step.name} did not return {missing}")
    outputs = [_history_table(job, result.outputs[name]) if isinstance(result.outputs[name], LoggedHistory)
               else result.outputs[name] for name in step.outputs]
    if result.metrics or result.figures:
        with tracking.cell_run(task, method, n_train_patients, seed):
            if result.metrics:
                tracking.log_metrics(result.metrics)
            for name, figure in result.figures.items():
                tracking.log_figure(figure, name)
    return tuple(outputs)


def run_model_step(task: str, method: str, n_train_patients: int, seed: int, step: CellStep,
                   *inputs: Any) -> tuple[Any, ...]:
    """:func:`run_cell_step` for the step that writes the cell's ``model``, whose last input is the
    task's ``volume_manifest``: the bundle's config also records the training inputs' statistics
    (:mod:`upgan.input_statistics`), which ``upgan predict`` checks new inputs against."""
    *step_values, volume_manifest = inputs
    outputs = list(run_cell_step(task, method, n_train_patients, seed, step, *step_values))
    at = list(step.outputs).index("model")
    bundle: ModelBundle = outputs[at]
    named = dict(zip(step_inputs(step), step_values, strict=True))
    subjects = bundle.config.get("train_subjects") or select_training_subjects(named["split_manifest"],
                                                                               n_train_patients)
    preparation = named.get("preparation") or {}
    statistics = statistics_of_subjects(volume_manifest, subjects, preparation)
    outputs[at] = ModelBundle(bundle.tensors, {**bundle.config, INPUT_STATISTICS: statistics.to_dict()})
    return tuple(outputs)


def run_cell(task: str, method: str, n_train_patients: int, seed: int, data: Mapping[str, Any],
             parameters: Mapping[str, Any], skip_missing: bool = False) -> dict[str, Any]:
    """Run a cell's steps in order outside Kedro (scripts, notebooks), as the pipeline would.

    Args:
        data: the task's datasets by name (``train_slices``, ``val_slices``, ``split_manifest``,
            ``test_slices``, ...).
        parameters: the run's parameter groups (``upgan``, ``training``, ``baselines``, ...;
            the task's ``preparation`` block as ``preparation``).
        skip_missing: skip steps whose inputs are missing (e.g. the cascade's test-set summary
            without ``test_slices``) instead of failing.

    Returns:
        Every dataset the steps read or wrote, by name (``model``, ``history_<stage>``, ...).
    """
    values: dict[str, Any] = {**data, **{f"params:{k}": v for k, v in parameters.items()}}
    for step in get(method).plugin.cell_steps(parameters):
        missing = [name for name in step.inputs if name not in values]
        if missing:
            if skip_missing:
                continue
            raise ValueError(f"{method} step {step.name} needs {missing}")
        out = run_cell_step(task, method, n_train_patients, seed, step, *[values[n] for n in step.inputs])
        values.update(zip(step.outputs, out, strict=True))
    return {k.removeprefix("params:"): v for k, v in values.items()}
