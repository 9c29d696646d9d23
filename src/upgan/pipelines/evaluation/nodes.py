"""Nodes of the evaluation pipeline: predict the test subjects, score them, write NIfTI."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from upgan import evaluation
from upgan.io.bundle import ModelBundle
from upgan.io.nifti import NiftiVolume
from upgan.io.slices import SliceSet
from upgan.methods import predict_bundle
from upgan.pipelines import mlflow_compare, tracking
from upgan.preparation import PreparationConfig
from upgan.preparation.prepare import prepared_volume
from upgan.tasks import get_task

logger = logging.getLogger(__name__)


def _to_units(task: str, row: pd.Series, image: np.ndarray, sigma: bool) -> np.ndarray:
    """Normalised scale -> the target's units (HU for CT; the T1 volume's own scale for MRI), by the
    task's target normalisation and the subject's manifest record."""
    record = json.loads(row["target_normalisation"])
    return get_task(task).target_normalisation.to_units(image, record, sigma=sigma)


def _volume_writer(row: pd.Series, slices: np.ndarray, index: np.ndarray) -> Callable[[], NiftiVolume]:
    def write() -> NiftiVolume:
        return prepared_volume(row, slices, index)

    return write


def evaluate_cell(
    task: str,
    method: str,
    n_train_patients: int,
    seed: int,
    test_slices: SliceSet,
    volume_manifest: pd.DataFrame,
    model: ModelBundle,
    preparation: dict[str, Any],
    training: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, Callable[[], NiftiVolume]], dict[str, np.ndarray]]:
    """Predict every test slice, score each test subject, and keep what the report needs.

    Predictions are clipped to the valid range before scoring and writing (the fraction clipped
    is the ``out_of_range_fraction`` column); σ is not clipped.

    Returns:
        Per-subject metrics (contract columns, plus the reader columns inside the head for
        PET->CT), uncertainty rows per subject and phase inside the head mask (UP-GAN family;
        empty otherwise), the σ calibration table of the final phase inside the head mask,
        the predicted volumes (and σ) as lazily written NIfTI files on the prepared grid with
        the source's world geometry, and the example slice for the figures.
    """
    cell = tracking.cell_name(task, method, n_train_patients, seed)
    prediction = predict_bundle(model, test_slices.inputs, device=str(training.get("device", "auto")))
    hu_window = PreparationConfig.from_params(preparation).hu_window
    per_subject = evaluation.subject_metrics(prediction.image, test_slices.targets, test_slices.subject_ids,
                                             task, hu_window=hu_window)
    metrics = evaluation.label_cell(per_subject, task, method, n_train_patients, seed, keep_extra=True)
    prediction.image = np.clip(prediction.image, *evaluation.VALID_RANGE)  # scored and written clipped
    uncertainty = pd.DataFrame(columns=evaluation.CONTRACT_COLUMNS["uncertainty"])
    calibration = pd.DataFrame(columns=["kind"])  # a method without σ: none (a readable empty table)
    if prediction.phases is not None:
        labels = [str(m) for m in range(len(prediction.phases))] + ["final"]
        phases = [*prediction.phases, prediction.phases[-1]]
        head = evaluation.head_mask(task, test_slices.targets, hu_window)
        uncertainty = evaluation.uncertainty_rows(
            task, method, n_train_patients, [np.clip(p["image"], *evaluation.VALID_RANGE) for p in phases],
            [p["sigma"] for p in phases],
            test_slices.targets, labels, seed=seed, subject_ids=test_slices.subject_ids, head_mask=head,
            phase_alphas=[p["alpha"] for p in phases], phase_betas=[p["beta"] for p in phases],
        )
        abs_error = np.abs(prediction.image - test_slices.targets)[head]
        calibration = evaluation.calibration_table(prediction.sigma[head], abs_error)
        sparsification = evaluation.sparsification(prediction.sigma[head], abs_error)
        calibration = pd.concat([calibration.assign(kind="calibration"),
                                 sparsification.assign(kind="sparsification")], ignore_index=True)
    volumes: dict[str, Callable[[], NiftiVolume]] = {}
    manifest = volume_manifest.set_index("subject_id")
    for subject in sorted(set(test_slices.subject_ids.tolist())):
        keep = test_slices.subject_ids == subject
        row = manifest.loc[subject]
        index = test_slices.slice_index[keep]
        image = _to_units(task, row, prediction.image[keep, 0], False)
        volumes[f"{subject}_prediction"] = _volume_writer(row, image, index)
        if prediction.sigma is not None:
            sigma = _to_units(task, row, prediction.sigma[keep, 0], True)
            volumes[f"{subject}_sigma"] = _volume_writer(row, sigma, index)
    k = evaluation.example_slice(test_slices.targets, test_slices.subject_ids)
    example = {
        "input": test_slices.inputs[k, 0], "target": test_slices.targets[k, 0],
        "prediction": prediction.image[k, 0],
        "subject_id": np.asarray(test_slices.subject_ids[k]), "slice_index": np.asarray(test_slices.slice_index[k]),
    }
    if prediction.sigma is not None:
        example["sigma"] = prediction.sigma[k, 0]
    summary = evaluation.summarise(metrics[evaluation.CONTRACT_COLUMNS["metrics_per_subject"]])
    with tracking.cell_run(task, method, n_train_patients, seed) as run:
        row = summary.iloc[0]
        mlflow_compare.log_test_scores(run, row)
        tracking.log_metrics({f"test_{c}": float(row[c]) for c in summary.columns
                              if c.endswith(("_mean", "_std")) or c == "n_subjects"})
        if not uncertainty.empty:
            per_phase = uncertainty.groupby("phase", sort=False)[evaluation.UNCERTAINTY_MEASURES].mean()
            for phase, r in per_phase.iterrows():
                tracking.log_metrics({f"test_phase_{phase}/{k}": float(r[k])
                                      for k in evaluation.UNCERTAINTY_MEASURES if not np.isnan(r[k])})
    logger.info("%s on %d test subjects:\n%s", cell, len(metrics), summary.to_string(index=False))
    return metrics, uncertainty, calibration, volumes, example


def evaluate_input(
    task: str, n_train_patients: int, test_slices: SliceSet, preparation: dict[str, Any]
) -> pd.DataFrame:
    """The do-nothing reference ``input``: the corrupted input (first channel) of every test
    slice scored as if it were the prediction, with the same (clipped) rules as every method.

    Only for tasks whose input is on the target's scale (the MRI tasks).
    """
    spec = get_task(task)
    if not spec.input_is_reference:
        raise ValueError(f"task {task}: its input ({spec.input_modality}) is not on the target's "
                         f"scale ({spec.target_modality}); it has no 'input' reference")
    hu_window = PreparationConfig.from_params(preparation).hu_window
    per_subject = evaluation.subject_metrics(test_slices.inputs[:, :1], test_slices.targets,
                                             test_slices.subject_ids, task, hu_window=hu_window)
    metrics = evaluation.label_cell(per_subject, task, evaluation.INPUT, n_train_patients, keep_extra=True)
    logger.info("%s: the input scored as the prediction:\n%s", task,
                evaluation.summarise(metrics[evaluation.CONTRACT_COLUMNS["metrics_per_subject"]])
                .to_string(index=False))
    return metrics
