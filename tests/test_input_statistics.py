"""Task mismatch from the bundle's record of its training inputs: another kind of image is
refused whatever its file name; odd voxel sizes, shapes and intensity scales are warned about;
bundles from before the record give a warning, not a crash."""

import shutil

import nibabel as nib
import numpy as np
import pytest

from upgan.input_statistics import (
    EDGES,
    KEY,
    InputStatistics,
    compare,
    distance,
    histogram,
    record_input_statistics,
)
from upgan.io.nifti import NiftiVolume
from upgan.predict import TaskMismatchError, predict_files


def test_histogram_and_distance_hand_worked():
    # robust maximum of 100 voxels at 1.0 (the rest 0.5): 1.0; 0 is background
    data = np.concatenate([np.zeros(50), np.full(30, 0.5), np.full(20, 1.0)]).reshape(5, 5, 4)
    shares, scale = histogram(data, 99.5)
    assert scale == pytest.approx(1.0)
    assert shares.sum() == pytest.approx(1.0)
    assert shares[np.searchsorted(EDGES, 0.5, side="right") - 1] == pytest.approx(0.6)
    assert shares[np.searchsorted(EDGES, 1.0, side="right") - 1] == pytest.approx(0.4)
    assert distance(shares, shares) == 0.0
    other = np.zeros_like(shares)
    other[0] = 1.0
    assert distance(shares, other) == pytest.approx(1.0)


def test_record_round_trips_and_flags_geometry():
    rng = np.random.default_rng(0)
    volumes = [NiftiVolume(rng.random((20, 20, 10), dtype=np.float32), np.diag([2.0, 2.0, 3.0, 1.0]))
               for _ in range(3)]
    stats = record_input_statistics(volumes, 99.5)
    assert InputStatistics.from_dict(stats.to_dict()) == stats
    assert stats.spacing_range == [(2.0, 2.0), (2.0, 2.0), (3.0, 3.0)] and stats.shape_range[0] == (10, 10)
    same = NiftiVolume(rng.random((20, 20, 10), dtype=np.float32), np.diag([2.0, 2.0, 3.0, 1.0]))
    assert compare(stats, same, 99.5) == (None, [])
    coarse = NiftiVolume(same.data * 1000, np.diag([9.0, 9.0, 9.0, 1.0]))
    refusal, warnings = compare(stats, coarse, 99.5)
    assert refusal is None
    assert [w.split(" (")[0].split(" ")[1] for w in warnings] == ["intensities", "voxel", "shape"][:2]


@pytest.fixture(scope="module")
def models(default_run):
    return default_run / "06_models"


def _as_scan(source, folder):
    """``source`` copied as ``scan.nii.gz``: a name that says nothing of its modality."""
    folder.mkdir()
    shutil.copy(source, folder / "scan.nii.gz")
    return folder / "scan.nii.gz"


def test_another_kind_of_image_is_refused_whatever_its_name(default_run, models, tmp_path):
    raw = default_run / "01_raw" / "synthetic"
    pet = _as_scan(raw / "pet_ct" / "sub-001" / "pet.nii.gz", tmp_path / "pet")
    t1 = _as_scan(next((raw / "ixi_t1").glob("*-T1.nii.gz")), tmp_path / "t1")
    with pytest.raises(TaskMismatchError, match=r"scan.nii.gz: its intensity histogram is 0\.\d\d away .*mri_recon"):
        predict_files(models / "mri_recon" / "upgan" / "n04" / "s2021", pet, tmp_path / "o1", progress=False)
    with pytest.raises(TaskMismatchError, match=r"intensity histogram .* trained for pet_to_ct"):
        predict_files(models / "pet_to_ct" / "pix2pix" / "n04" / "s2021", t1, tmp_path / "o2", progress=False)
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()
    # the right kind passes, and --skip-input-check translates the wrong one with a warning
    assert predict_files(models / "pet_to_ct" / "upgan" / "n04" / "s2021", pet, tmp_path / "o3", progress=False)
    assert predict_files(models / "pet_to_ct" / "pix2pix" / "n04" / "s2021", t1, tmp_path / "o4", progress=False,
                         check_inputs=False)


def test_odd_voxel_size_is_a_warning(default_run, models, tmp_path, caplog):
    image = nib.load(default_run / "01_raw" / "synthetic" / "pet_ct" / "sub-002" / "pet.nii.gz")
    affine = image.affine.copy()
    affine[:3, :3] *= 4.0
    path = tmp_path / "coarse.nii.gz"
    nib.save(nib.Nifti1Image(np.asarray(image.dataobj, np.float32), affine), path)
    predict_files(models / "pet_to_ct" / "upgan" / "n04" / "s2021", path, tmp_path / "out", progress=False)
    assert "its voxel size" in caplog.text and "differs strongly from the training inputs'" in caplog.text


def test_a_bundle_without_the_record_warns_and_translates(default_run, models, tmp_path, caplog):
    from upgan.io.bundle import ModelBundle, load_bundle, save_bundle

    bundle = load_bundle(models / "pet_to_ct" / "upgan" / "n04" / "s2021" / "model.safetensors")
    assert KEY in bundle.config and bundle.config[KEY]["n_volumes"] == 4
    old = save_bundle(ModelBundle(bundle.tensors, {k: v for k, v in bundle.config.items() if k != KEY}),
                      tmp_path / "old.safetensors")
    pet = default_run / "01_raw" / "synthetic" / "pet_ct" / "sub-002" / "pet.nii.gz"
    assert predict_files(old, pet, tmp_path / "out", progress=False)
    assert "records no statistics of its training inputs" in caplog.text
