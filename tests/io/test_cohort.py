import json
import os
import socket
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest

from upgan.io.cohort import (
    COHORT_FORMAT,
    CohortError,
    SyntheticCohortSpec,
    discover_cohort,
    ras_affine,
    write_synthetic_cohort,
)
from upgan.io.layouts import IXI_T1, PET_CT, ixi_orient
from upgan.io.nifti import VolumeError


def _vol(path, shape=(6, 6, 4), affine=None, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.random.default_rng(seed).normal(size=shape).astype(np.float32)
    nib.save(nib.Nifti1Image(data, np.eye(4) if affine is None else affine), str(path))


def test_pet_ct_layout_is_indexed(tmp_path):
    for s in ("sub-b", "sub-a"):
        _vol(tmp_path / s / "pet.nii.gz")
        _vol(tmp_path / s / "ct.nii.gz")
    index = discover_cohort(tmp_path, PET_CT)
    assert index["subject_id"].tolist() == ["sub-a", "sub-a", "sub-b", "sub-b"]
    assert set(index["modality"]) == {"pet", "ct"}
    assert json.loads(index["shape"][0]) == [6, 6, 4]


def test_ixi_layout_uses_ixi_names(tmp_path):
    _vol(tmp_path / "IXI002-Guys-0828-T1.nii.gz")
    _vol(tmp_path / "IXI012-HH-1211-T1.nii.gz")
    (tmp_path / "IXI002-Guys-0828-T2.nii.gz").write_text("ignored")
    index = discover_cohort(tmp_path, IXI_T1)
    assert index["subject_id"].tolist() == ["IXI002-Guys-0828", "IXI012-HH-1211"]


def test_cohort_errors(tmp_path):
    with pytest.raises(CohortError, match="does not exist"):
        discover_cohort(tmp_path / "missing", PET_CT)
    with pytest.raises(CohortError, match="no volumes found"):
        discover_cohort(tmp_path, IXI_T1)
    with pytest.raises(TypeError, match="CohortLayout"):
        discover_cohort(tmp_path, "pet_ct")  # a layout is an object, not its name
    with pytest.raises(TypeError, match="CohortLayout"):
        SyntheticCohortSpec("pet_ct", 1, 0, {})
    _vol(tmp_path / "s1" / "pet.nii.gz")
    with pytest.raises(CohortError, match="without ct"):
        discover_cohort(tmp_path, PET_CT)


def test_pet_ct_pairs_must_share_a_grid(tmp_path):
    _vol(tmp_path / "s1" / "pet.nii.gz", shape=(6, 6, 4))
    _vol(tmp_path / "s1" / "ct.nii.gz", shape=(6, 6, 5))
    with pytest.raises(CohortError, match="shape"):
        discover_cohort(tmp_path, PET_CT)
    assert len(discover_cohort(tmp_path, PET_CT, resample_ct_to_pet=True)) == 2
    shifted = np.eye(4)
    shifted[0, 3] = 5.0
    _vol(tmp_path / "s1" / "ct.nii.gz", shape=(6, 6, 4), affine=shifted)
    with pytest.raises(CohortError, match="affines differ"):
        discover_cohort(tmp_path, PET_CT)


def test_4d_header_is_rejected_before_loading(tmp_path):
    _vol(tmp_path / "IXI001-X-1-T1.nii.gz", shape=(4, 4, 4, 2))
    with pytest.raises(VolumeError, match="3D"):
        discover_cohort(tmp_path, IXI_T1)


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


def test_file_names_match_case_insensitively(tmp_path):
    _vol(tmp_path / "petct" / "s1" / "PET.nii.gz")
    _vol(tmp_path / "petct" / "s1" / "CT.NII.GZ")
    index = discover_cohort(tmp_path / "petct", PET_CT)
    assert sorted(index["modality"]) == ["ct", "pet"]
    _vol(tmp_path / "ixi" / "IXI002-Guys-0828-t1.nii.gz")
    _vol(tmp_path / "ixi" / "IXI012-HH-1211-T1.NII")
    index = discover_cohort(tmp_path / "ixi", IXI_T1)
    assert index["subject_id"].tolist() == ["IXI002-Guys-0828", "IXI012-HH-1211"]


@pytest.mark.parametrize(
    ("layout", "names"),
    [
        (PET_CT, ["s1/pet.nii", "s1/pet.nii.gz", "s1/ct.nii.gz"]),
        (IXI_T1, ["IXI002-Guys-0828-T1.nii", "IXI002-Guys-0828-T1.nii.gz"]),
    ],
)
def test_the_same_volume_twice_is_refused_naming_both_files(tmp_path, layout, names):
    for name in names:
        _vol(tmp_path / name)
    with pytest.raises(CohortError) as error:
        discover_cohort(tmp_path, layout)
    message = str(error.value)
    assert names[0].split("/")[-1] in message and names[1].split("/")[-1] in message
    assert "\n" not in message


def test_hidden_files_are_skipped_and_counted(tmp_path, caplog):
    _vol(tmp_path / "ixi" / "IXI002-Guys-0828-T1.nii.gz")
    (tmp_path / "ixi" / "._IXI002-Guys-0828-T1.nii.gz").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    _vol(tmp_path / "petct" / "s1" / "pet.nii.gz")
    _vol(tmp_path / "petct" / "s1" / "ct.nii.gz")
    (tmp_path / "petct" / "s1" / "._pet.nii.gz").write_bytes(b"\x00\x05\x16\x07")
    (tmp_path / "petct" / ".DS_Store").write_bytes(b"\x00")
    with caplog.at_level("INFO", logger="upgan.io.cohort"):
        assert discover_cohort(tmp_path / "ixi", IXI_T1)["subject_id"].tolist() == ["IXI002-Guys-0828"]
        assert len(discover_cohort(tmp_path / "petct", PET_CT)) == 2
    skipped = [r.getMessage() for r in caplog.records if "hidden" in r.getMessage()]
    assert len(skipped) == 2 and "1 hidden" in skipped[0] and "2 hidden" in skipped[1]


def test_stale_staging_folders_of_a_killed_generation_are_removed(tmp_path, caplog):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    killed = tmp_path / ".pet_ct-k1ll3d_0"  # a generation whose process is gone
    (killed / "sub-000").mkdir(parents=True)
    (killed / ".upgan-staging.json").write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname()}))
    legacy = tmp_path / ".pet_ct-abcd1234"  # left by an older upgan (no owner file), long ago
    (legacy / "sub-003").mkdir(parents=True)
    os.utime(legacy, (1e9, 1e9))
    running = tmp_path / ".pet_ct-runn1ng_"  # a generation still running in this process
    running.mkdir()
    (running / ".upgan-staging.json").write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    others = [tmp_path / ".pet_ct-backup", tmp_path / ".ixi_t1-abcd1234", tmp_path / "pet_ct-abcd1234"]
    for folder in others:
        folder.mkdir()
    spec = SyntheticCohortSpec(PET_CT, 1, 0, {"shape": [32, 32, 16], "spacing_mm": [7.0, 7.0, 8.0]})
    with caplog.at_level("INFO", logger="upgan.io.cohort"):
        write_synthetic_cohort(tmp_path / "pet_ct", spec, progress=False)
    assert not killed.exists() and not legacy.exists()
    assert running.exists() and all(folder.exists() for folder in others)
    removed = [r.getMessage() for r in caplog.records if "Removed" in r.getMessage()]
    assert len(removed) == 2 and any(str(killed) in m for m in removed) and any(str(legacy) in m for m in removed)
    assert not (tmp_path / "pet_ct" / ".upgan-staging.json").exists()


def test_the_stamp_names_the_layout_as_cohorts_written_before_did():
    simulation = {"shape": [32, 32, 16], "spacing_mm": [7.2, 7.2, 10.0]}
    assert SyntheticCohortSpec(IXI_T1, 2, 5, simulation).fingerprint() == {
        "format": COHORT_FORMAT, "layout": "ixi_t1", "n_subjects": 2, "seed": 5, "simulation": simulation}
    assert [PET_CT.subject_id(3), IXI_T1.subject_id(3)] == ["sub-003", "IXI003-SYN-0003"]
