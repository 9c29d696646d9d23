import json

import nibabel as nib
import numpy as np
import pytest

from upgan.io.cohort import CohortError, discover_cohort, ixi_orient, ras_affine
from upgan.io.nifti import VolumeError


def _vol(path, shape=(6, 6, 4), affine=None, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.random.default_rng(seed).normal(size=shape).astype(np.float32)
    nib.save(nib.Nifti1Image(data, np.eye(4) if affine is None else affine), str(path))


def test_pet_ct_layout_is_indexed(tmp_path):
    for s in ("sub-b", "sub-a"):
        _vol(tmp_path / s / "pet.nii.gz")
        _vol(tmp_path / s / "ct.nii.gz")
    index = discover_cohort(tmp_path, "pet_ct")
    assert index["subject_id"].tolist() == ["sub-a", "sub-a", "sub-b", "sub-b"]
    assert set(index["modality"]) == {"pet", "ct"}
    assert json.loads(index["shape"][0]) == [6, 6, 4]


def test_ixi_layout_uses_ixi_names(tmp_path):
    _vol(tmp_path / "IXI002-Guys-0828-T1.nii.gz")
    _vol(tmp_path / "IXI012-HH-1211-T1.nii.gz")
    (tmp_path / "IXI002-Guys-0828-T2.nii.gz").write_text("ignored")
    index = discover_cohort(tmp_path, "ixi_t1")
    assert index["subject_id"].tolist() == ["IXI002-Guys-0828", "IXI012-HH-1211"]


def test_cohort_errors(tmp_path):
    with pytest.raises(CohortError, match="does not exist"):
        discover_cohort(tmp_path / "missing", "pet_ct")
    with pytest.raises(CohortError, match="no volumes found"):
        discover_cohort(tmp_path, "ixi_t1")
    with pytest.raises(CohortError, match="unknown cohort layout"):
        discover_cohort(tmp_path, "dicom")
    _vol(tmp_path / "s1" / "pet.nii.gz")
    with pytest.raises(CohortError, match="without ct"):
        discover_cohort(tmp_path, "pet_ct")


def test_pet_ct_pairs_must_share_a_grid(tmp_path):
    _vol(tmp_path / "s1" / "pet.nii.gz", shape=(6, 6, 4))
    _vol(tmp_path / "s1" / "ct.nii.gz", shape=(6, 6, 5))
    with pytest.raises(CohortError, match="shape"):
        discover_cohort(tmp_path, "pet_ct")
    assert len(discover_cohort(tmp_path, "pet_ct", resample_ct_to_pet=True)) == 2
    shifted = np.eye(4)
    shifted[0, 3] = 5.0
    _vol(tmp_path / "s1" / "ct.nii.gz", shape=(6, 6, 4), affine=shifted)
    with pytest.raises(CohortError, match="affines differ"):
        discover_cohort(tmp_path, "pet_ct")


def test_4d_header_is_rejected_before_loading(tmp_path):
    _vol(tmp_path / "IXI001-X-1-T1.nii.gz", shape=(4, 4, 4, 2))
    with pytest.raises(VolumeError, match="3D"):
        discover_cohort(tmp_path, "ixi_t1")


def test_ixi_orientation_maps_to_the_same_world_points():
    shape, spacing = (5, 6, 7), (1.0, 2.0, 3.0)
    data = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    affine = ras_affine(shape, spacing)
    stored, stored_affine = ixi_orient(data, affine)
    assert nib.aff2axcodes(stored_affine) == ("P", "I", "R")
    assert stored.shape == (6, 7, 5)
    # every voxel keeps its world position: check a few voxels by value
    for ijk in [(0, 0, 0), (4, 5, 6), (2, 1, 3)]:
        world = affine @ np.array([*ijk, 1.0])
        back = np.linalg.solve(stored_affine, world)[:3].round().astype(int)
        assert stored[tuple(back)] == data[ijk]
