"""A task registered from outside the core (here, from this test) runs through data preparation,
training, evaluation and reporting with no change to the core: a toy denoising task on the IXI
T1 cohort."""

from __future__ import annotations

import json
from dataclasses import dataclass

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from upgan.io.datasets import SliceSetDataset
from upgan.io.layouts import IXI_T1
from upgan.preparation import (
    Corruption,
    NormalisedTarget,
    PreparationConfig,
    VolumeScaleNormalisation,
)
from upgan.tasks import TaskSpec, register_task, task_names, unregister_task

NOISE_SD = 0.05


@dataclass(frozen=True)
class GaussianNoise(Corruption):
    """Input = normalised T1 + seeded white Gaussian noise (not clipped)."""

    sd: float = NOISE_SD
    label: str = "noisy"

    def apply(self, target: NormalisedTarget, config: PreparationConfig, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return (target.slices + rng.normal(0.0, self.sd, target.slices.shape)).astype(np.float32)


DENOISE = TaskSpec(
    name="mri_denoise", layout=IXI_T1, input_modality="t1", target_modality="t1",
    target_normalisation=VolumeScaleNormalisation(units="normalised T1"),
    description="T1 MRI with white Gaussian noise -> clean T1", corruption=GaussianNoise(),
)
SPLIT = {"train": 4, "val": 1, "test": 3, "seed": 7}
METHODS = ["pix2pix", "unet_l1", "upgan"]


@pytest.fixture(scope="module")
def denoise(kedro_project, tmp_path_factory):
    """``kedro run --env test`` (the whole default pipeline) with ``tasks: [mri_denoise]``."""
    register_task(DENOISE)
    try:
        data_root, _ = kedro_project(
            runtime_params={"data_root": str(tmp_path_factory.mktemp("denoise")), "tasks": ["mri_denoise"],
                            "methods": METHODS,
                            "mri_denoise": {"split": SPLIT, "preparation": {"slice_size": 32}}},
        )
    finally:
        unregister_task("mri_denoise")
    assert "mri_denoise" not in task_names()
    return data_root


def _sets(root):
    folder = root / "05_model_input" / "mri_denoise"
    return {s: SliceSetDataset(str(folder / f"{s}.npz")).load() for s in ("train", "val", "test")}


def test_every_output_of_the_new_task_is_written(denoise):
    sets = _sets(denoise)
    split = pd.read_csv(denoise / "05_model_input" / "mri_denoise" / "split.csv")
    assert split.split.value_counts()[["train", "val", "test"]].tolist() == [4, 1, 3]
    for name, slices in sets.items():
        assert len(slices) > 0 and slices.inputs.shape[1:] == (1, 32, 32)
        assert set(slices.subject_ids) == set(split.loc[split.split == name, "subject_id"])
    assert (denoise / "08_reporting" / "figures" / "data_mri_denoise.png").stat().st_size > 10_000
    # the other tasks are not prepared: only the listed task has a namespace
    assert sorted(p.name for p in (denoise / "05_model_input").iterdir()) == ["mri_denoise"]


def test_input_is_the_target_plus_seeded_noise(denoise):
    sets = _sets(denoise)
    noise = np.concatenate([(s.inputs - s.targets).ravel() for s in sets.values()]).astype(np.float64)
    assert abs(noise.mean()) < 0.002
    assert noise.std() == pytest.approx(NOISE_SD, rel=0.03)
    # seeded per subject: two subjects do not share their noise
    test = sets["test"]
    a, b = sorted(set(test.subject_ids))[:2]
    first = (test.inputs - test.targets)[test.subject_ids == a][0]
    second = (test.inputs - test.targets)[test.subject_ids == b][0]
    assert not np.allclose(first, second)


def test_targets_are_each_t1_over_its_robust_maximum(denoise):
    manifest = pd.read_csv(denoise / "05_model_input" / "mri_denoise" / "volumes.csv")
    for row in manifest.itertuples():
        data = np.asarray(nib.load(row.target_path).dataobj, dtype=np.float64)
        record = json.loads(row.target_normalisation)
        assert record["kind"] == "percentile"
        assert record["scale"] == pytest.approx(np.percentile(data[data > 0], 99.5), rel=1e-5)
        assert row.input_path == row.target_path
    targets = np.concatenate([s.targets.ravel() for s in _sets(denoise).values()])
    assert targets.min() >= 0.0 and targets.max() <= 1.0 and targets.max() > 0.9


@pytest.fixture
def test_params():
    from kedro.config import OmegaConfigLoader

    from upgan.configuration import CONFIG_LOADER_ARGS
    from upgan.structure import PROJECT_ROOT

    loader = OmegaConfigLoader(conf_source=str(PROJECT_ROOT / "conf"), env="test", **CONFIG_LOADER_ARGS)
    return dict(loader["parameters"])


def test_parameter_checks_and_default_task_list_follow_the_registry(test_params):
    from upgan import structure
    from upgan.pipelines.parameters import validate_parameters

    params = {**test_params, "tasks": ["mri_denoise"],
              "mri_denoise": {"split": SPLIT, "preparation": {"slice_size": 32}}}
    with pytest.raises(ValueError, match="unknown parameter mri_denoise; known: "):
        validate_parameters(params)
    saved = structure.parameters()
    register_task(DENOISE)
    try:
        validate_parameters(params)
        typo = {**params, "mri_denoise": {"split": SPLIT, "preparation": {"slice_sise": 32}}}
        with pytest.raises(ValueError, match="unknown parameter mri_denoise.preparation.slice_sise"):
            validate_parameters(typo)
        with pytest.raises(ValueError, match="missing parameter mri_denoise.split"):
            validate_parameters({**params, "mri_denoise": {"preparation": {}}})
        structure.activate("test", {k: v for k, v in test_params.items() if k != "tasks"})
        assert structure.tasks() == ["pet_to_ct", "mri_recon", "mri_motion", "mri_denoise"]
    finally:
        unregister_task("mri_denoise")
        structure.activate("test", saved)


def test_the_new_task_is_trained_evaluated_and_reported(denoise):
    reporting = denoise / "08_reporting"
    summary = pd.read_csv(reporting / "summary.csv")
    assert set(summary.task) == {"mri_denoise"}
    # every method, and the do-nothing input (the task's input is on the target's scale)
    assert set(summary.method) == {*METHODS, "input"}
    assert summary.n_subjects.eq(SPLIT["test"]).all()
    assert summary.bone_dice_mean.isna().all()  # not a CT task
    table1 = (reporting / "table1.md").read_text()
    assert "mri_denoise" in table1 or DENOISE.label in table1
    predictions = denoise / "07_model_output" / "mri_denoise" / "upgan" / "n04" / "s2021"
    assert len(list(predictions.glob("*_prediction.nii.gz"))) == SPLIT["test"]
