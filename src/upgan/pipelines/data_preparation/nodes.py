"""Nodes of the data_preparation pipeline: adapters between the catalog and the core.

The prepared data of a task (``split.csv``, ``volumes.csv``, the train / val / test slices) are
one set: each records the fingerprint of the settings and cohort that made it
(:func:`preparation_fingerprint`), and slices load only beside manifests that record the same
(:class:`upgan.io.datasets.SliceSetDataset`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from upgan.io.cohort import (
    COHORT_FORMAT,
    SyntheticCohortSpec,
    discover_cohort,
    write_synthetic_cohort,
)
from upgan.io.datasets import FINGERPRINT, PreparedSlices
from upgan.io.slices import SliceSet, concat_slice_sets
from upgan.parallel import map_jobs
from upgan.preparation import PreparationConfig, prepare_subject, split_subjects
from upgan.reporting.figures import data_preview
from upgan.schema import unknown_keys_message
from upgan.tasks import get_task

logger = logging.getLogger(__name__)


def _cohort_of(task_name: str, cohorts: dict[str, Any]) -> dict[str, Any]:
    layout = get_task(task_name).layout.name
    if layout not in cohorts:
        raise ValueError(f"task {task_name} needs parameters cohorts.{layout}; found: {sorted(cohorts)}")
    return cohorts[layout]


def _cohort_folder(task_name: str, cohorts: dict[str, Any]) -> str:
    """The folder the task's cohort is read from (``synthetic_dir`` for the synthetic source)."""
    cohort = _cohort_of(task_name, cohorts)
    source = cohort.get("source", "synthetic")
    return str(cohort.get("synthetic_dir")) if source == "synthetic" else str(Path(source).expanduser())


def index_cohort(task_name: str, cohorts: dict[str, Any], preparation: dict[str, Any]) -> pd.DataFrame:
    """Find the task's raw volumes, generating the synthetic cohort first when that is the source.

    Args:
        task_name: the task (decides the cohort layout, e.g. ``pet_ct`` or ``ixi_t1``).
        cohorts: per layout: ``source`` (``synthetic`` or a folder in the task's layout), and for the
            synthetic source ``synthetic_dir``, ``n_subjects``, ``seed``, ``n_workers`` and
            ``simulation`` settings.
        preparation: preparation settings (``resample_ct_to_pet`` relaxes the PET/CT grid check).

    Returns:
        One row per volume (``subject_id, modality, path, shape, affine, axcodes``).
    """
    layout = get_task(task_name).layout
    cohort = _cohort_of(task_name, cohorts)
    source = cohort.get("source", "synthetic")
    if source == "synthetic":
        spec = SyntheticCohortSpec(
            layout=layout,
            n_subjects=int(cohort["n_subjects"]),
            seed=int(cohort["seed"]),
            simulation=dict(cohort.get("simulation", {})),
        )
        root = write_synthetic_cohort(
            cohort["synthetic_dir"], spec, n_workers=int(cohort.get("n_workers", 1))
        )
    else:
        root = Path(source).expanduser()
        logger.info("Reading the %s cohort of task %s from %s (read-only)", layout.name, task_name, root)
    index = discover_cohort(root, layout, bool(preparation.get("resample_ct_to_pet", False)))
    logger.info("%s: %d subjects in %s", task_name, index["subject_id"].nunique(), root)
    return index


def preparation_fingerprint(task_name: str, cohort_index: pd.DataFrame, split: Mapping[str, Any],
                            preparation: Mapping[str, Any] | None, cohorts: dict[str, Any]) -> str:
    """sha256 of what makes a task's prepared data: its split and preparation settings (the
    latter with their defaults filled in), its cohort settings (but ``n_workers``; with the
    generator's format for a synthetic cohort) and the cohort index (every volume's path and
    geometry)."""
    cohort = {k: v for k, v in _cohort_of(task_name, cohorts).items() if k != "n_workers"}
    if cohort.get("source", "synthetic") == "synthetic":
        cohort["format"] = COHORT_FORMAT  # the generator's version: new data, new fingerprint
    index = cohort_index.astype(str).sort_values(["subject_id", "modality"]).to_csv(index=False)
    payload = {
        "task": task_name,
        "split": dict(split),
        "preparation": dataclasses.asdict(PreparationConfig.from_params(preparation or {})),
        "cohort": cohort,
        "cohort_index": hashlib.sha256(index.encode()).hexdigest(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def split_cohort(task_name: str, cohort_index: pd.DataFrame, split: dict[str, Any],
                 cohorts: dict[str, Any], preparation: dict[str, Any] | None = None) -> pd.DataFrame:
    """Seeded patient-level split (``train``, ``val``, ``test`` counts and ``seed``); errors
    name the task, its ``<task>.split`` parameters and the cohort folder. Every row records the
    :func:`preparation_fingerprint` (column ``fingerprint``)."""
    known = ["train", "val", "test", "seed"]
    unknown = sorted(set(split) - set(known))
    if unknown:
        raise ValueError(unknown_keys_message(unknown, known, f"{task_name}.split"))
    try:
        manifest = split_subjects(
            cohort_index["subject_id"].unique().tolist(),
            split["train"], split["val"], split["test"], int(split["seed"]),
        )
    except ValueError as error:
        raise ValueError(f"{error} (task {task_name}, parameters {task_name}.split, cohort folder "
                         f"{_cohort_folder(task_name, cohorts)})") from error
    manifest[FINGERPRINT] = preparation_fingerprint(task_name, cohort_index, split, preparation, cohorts)
    return manifest


def _check_split_manifest(task_name: str, split_manifest: pd.DataFrame, expected: str) -> None:
    """ValueError when the split manifest was made by other settings than this preparation's."""
    recorded = set(split_manifest[FINGERPRINT].dropna()) if FINGERPRINT in split_manifest else set()
    if recorded != {expected}:
        raise ValueError(
            f"{task_name}: the split manifest (split.csv) was made by other split, preparation or "
            "cohort settings than these; prepare the task again as a whole: "
            f"kedro run --pipeline data_preparation --namespaces {task_name}"
        )


def prepare_slices(
    task_name: str,
    cohort_index: pd.DataFrame,
    split_manifest: pd.DataFrame,
    preparation: dict[str, Any],
    cohorts: dict[str, Any],
    split: dict[str, Any],
) -> tuple[PreparedSlices, PreparedSlices, PreparedSlices, pd.DataFrame]:
    """Turn every subject of the split into normalised input/target axial slices.

    The corruption of each subject (motion, random k-space lines) is seeded from
    ``cohort.seed`` and the subject id; ``cohort.n_workers`` processes share the work. The
    split manifest must record the :func:`preparation_fingerprint` of these settings (it was
    made by them); every output records it too.

    Returns:
        Train, validation and test slices, and a per-subject manifest (split, source files,
        prepared geometry, normalisation) for putting predictions back into world space.
    """
    fingerprint = preparation_fingerprint(task_name, cohort_index, split, preparation, cohorts)
    _check_split_manifest(task_name, split_manifest, fingerprint)
    task = get_task(task_name)
    cohort = _cohort_of(task_name, cohorts)
    config = PreparationConfig.from_params(preparation)
    n_workers = int(cohort.get("n_workers", 1))
    seed = int(cohort["seed"])
    paths = cohort_index.pivot(index="subject_id", columns="modality", values="path")
    used = split_manifest[split_manifest["split"] != "unused"]
    jobs = [
        (task, sid, paths.loc[sid].dropna().to_dict(), config, seed)
        for sid in used["subject_id"]
    ]
    results: list[tuple[SliceSet, dict[str, Any]]] = []
    bar = tqdm(total=len(jobs), desc=f"prepare {task.name}")
    for result in map_jobs(prepare_subject, jobs, n_workers):  # fresh worker processes, never fork
        results.append(result)
        bar.update()
    bar.close()
    split_of = dict(zip(used["subject_id"], used["split"], strict=True))
    rows = []
    parts: dict[str, list[SliceSet]] = {"train": [], "val": [], "test": []}
    for slices, row in results:
        row["split"] = split_of[row["subject_id"]]
        if row["n_kept"] == 0:
            raise ValueError(
                f"{row['target_path']}: no axial slice passed the foreground threshold "
                f"(min_foreground={config.min_foreground}); is the volume a head scan?"
            )
        parts[row["split"]].append(slices)
        rows.append(row)
    sets = [PreparedSlices.of(concat_slice_sets(parts[s], config.slice_size), fingerprint)
            for s in ("train", "val", "test")]
    manifest = pd.DataFrame(rows)
    manifest[FINGERPRINT] = fingerprint
    front = ["subject_id", "split", "n_slices", "n_kept"]
    manifest = manifest[front + [c for c in manifest.columns if c not in front]]
    logger.info(
        "%s: %d / %d / %d train / val / test slices of %dx%d",
        task.name, len(sets[0]), len(sets[1]), len(sets[2]), config.slice_size, config.slice_size,
    )
    return sets[0], sets[1], sets[2], manifest


def plot_data_preview(task_name: str, test_slices: SliceSet, preparation: dict[str, Any]) -> Figure:
    """A look at the data: input/target pairs of a few test subjects (the target in its display
    units, e.g. HU windows for CT)."""
    task = get_task(task_name)
    style = task.data_preview
    return data_preview(
        test_slices, f"{task.name}: {task.description}", style.input_label, style.target_label,
        target_windows=style.target_windows,
        target_to_units=task.target_normalisation.display(PreparationConfig.from_params(preparation)),
        heights=style.heights, show_difference=style.show_difference,
    )
