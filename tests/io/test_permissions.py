"""Outputs are written with the user's umask (0644 files, 0755 folders under umask 022), not
the private modes of mkstemp/mkdtemp."""

import os
import stat

import numpy as np
import pytest
import torch

from upgan.io.bundle import ModelBundle, save_bundle
from upgan.io.cohort import SyntheticCohortSpec, write_synthetic_cohort
from upgan.io.datasets import NpzDataset
from upgan.io.layouts import PET_CT
from upgan.io.nifti import NiftiVolume, save_nifti


@pytest.fixture(autouse=True)
def _umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_model_bundle_npz_and_nifti_are_world_readable(tmp_path):
    bundle = save_bundle(ModelBundle({"g.w": torch.zeros(2)}, {"a": 1}), tmp_path / "m" / "model.safetensors")
    NpzDataset(str(tmp_path / "s" / "train.npz")).save({"x": np.zeros(3)})
    nifti = save_nifti(NiftiVolume(np.zeros((4, 4, 4), np.float32), np.eye(4)), tmp_path / "p" / "pred.nii.gz")
    for path in (bundle, tmp_path / "s" / "train.npz", nifti):
        assert _mode(path) == 0o644, path
    for folder in ("m", "s", "p"):
        assert _mode(tmp_path / folder) == 0o755


def test_generated_cohort_is_world_readable(tmp_path):
    spec = SyntheticCohortSpec(PET_CT, 1, 0, {"shape": [32, 32, 16], "spacing_mm": [7.0, 7.0, 8.0]})
    root = write_synthetic_cohort(tmp_path / "pet_ct", spec, progress=False)
    assert _mode(root) == 0o755
    for path in root.rglob("*"):
        assert _mode(path) == (0o755 if path.is_dir() else 0o644), path
