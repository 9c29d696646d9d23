"""data_preparation end to end on the test env, through a KedroSession."""

import json

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from upgan.io.datasets import SliceSetDataset
from upgan.preparation import HUWindow
from upgan.tasks import task_names

TASKS = tuple(task_names())


@pytest.fixture(scope="module")
def prepared(kedro_project):
    """``kedro run --env test --pipeline data_preparation`` (every task)."""
    data_root, _ = kedro_project(pipeline_names=["data_preparation"])
    return data_root


@pytest.mark.parametrize("task", TASKS)
def test_outputs_exist_with_consistent_shapes(prepared, task):
    folder = prepared / "05_model_input" / task
    sets = {s: SliceSetDataset(str(folder / f"{s}.npz")).load() for s in ("train", "val", "test")}
    for s in sets.values():
        assert len(s) > 0
        assert s.inputs.shape == s.targets.shape
        assert s.inputs.shape[1:] == (1, 32, 32)
        assert np.isfinite(s.inputs).all() and np.isfinite(s.targets).all()
        assert 0.0 <= s.targets.min() and s.targets.max() <= 1.0
        assert len(s.subject_ids) == len(s.slice_index) == len(s)
    assert (prepared / "08_reporting" / "figures" / f"data_{task}.png").stat().st_size > 10_000


@pytest.mark.parametrize("task", TASKS)
def test_splits_are_disjoint_by_subject(prepared, task):
    folder = prepared / "05_model_input" / task
    split = pd.read_csv(folder / "split.csv")
    subjects = {
        s: set(SliceSetDataset(str(folder / f"{s}.npz")).load().subject_ids) for s in ("train", "val", "test")
    }
    assert not subjects["train"] & subjects["val"]
    assert not subjects["train"] & subjects["test"]
    assert not subjects["val"] & subjects["test"]
    expected = {s: set(split.loc[split.split == s, "subject_id"]) for s in ("train", "val", "test")}
    assert subjects == expected
    assert (split.split.value_counts()[["train", "val", "test"]] == [4, 1, 3]).all()


def test_generated_cohort_uses_the_user_layout(prepared):
    pet_ct = prepared / "01_raw" / "synthetic" / "pet_ct"
    pet = nib.load(pet_ct / "sub-000" / "pet.nii.gz")
    ct = nib.load(pet_ct / "sub-000" / "ct.nii.gz")
    assert pet.shape == ct.shape == (32, 32, 16)
    np.testing.assert_allclose(pet.affine, ct.affine)
    t1 = nib.load(next((prepared / "01_raw" / "synthetic" / "ixi_t1").glob("IXI*-T1.nii.gz")))
    assert nib.aff2axcodes(t1.affine) == ("P", "I", "R")


def test_manifest_geometry_maps_slices_to_world(prepared):
    manifest = pd.read_csv(prepared / "05_model_input" / "mri_recon" / "volumes.csv")
    row = manifest.iloc[0]
    affine = np.asarray(json.loads(row["prepared_affine"]))
    assert nib.aff2axcodes(affine) == ("R", "A", "S")
    assert row["n_kept"] <= row["n_slices"]


def test_ct_is_in_hu_after_inversion(prepared):
    test = SliceSetDataset(str(prepared / "05_model_input" / "pet_to_ct" / "test.npz")).load()
    hu = HUWindow().inverse(test.targets)
    assert hu.min() < -900  # air around the head
    assert hu.max() > 700  # bone
