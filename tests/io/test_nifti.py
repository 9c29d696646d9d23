import gzip

import nibabel as nib
import numpy as np
import pytest

from upgan.io.nifti import NiftiVolume, VolumeError, load_nifti, save_nifti


def _oblique_affine() -> np.ndarray:
    theta = 0.3
    rot = np.array([[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0], [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = rot @ np.diag([0.94, 0.94, 1.2])
    affine[:3, 3] = [-120.0, 95.5, -60.25]
    return affine


def test_round_trip_keeps_affine_and_data(tmp_path, rng):
    data = rng.normal(size=(7, 6, 5)).astype(np.float32)
    path = save_nifti(NiftiVolume(data, _oblique_affine()), tmp_path / "v.nii.gz")
    back = load_nifti(path)
    np.testing.assert_array_equal(back.data, data)
    np.testing.assert_allclose(back.affine, _oblique_affine(), atol=1e-5)
    # a plain nibabel reader (any viewer) sees the same geometry in sform and qform
    image = nib.load(path)
    np.testing.assert_allclose(image.get_sform(), _oblique_affine(), atol=1e-5)
    np.testing.assert_allclose(image.get_qform(), _oblique_affine(), atol=1e-4)
    assert back.spacing_mm == pytest.approx((0.94, 0.94, 1.2), abs=1e-5)


def test_save_leaves_no_temporary_files(tmp_path, rng):
    save_nifti(NiftiVolume(rng.normal(size=(4, 4, 4)).astype(np.float32), np.eye(4)), tmp_path / "a.nii")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.nii"]


def _write(path, data, affine=None):
    nib.save(nib.Nifti1Image(data, np.eye(4) if affine is None else affine), str(path))
    return path


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (np.ones((5, 5), np.float32) * np.arange(5), "3D"),
        (np.random.default_rng(0).normal(size=(4, 4, 4, 3)).astype(np.float32), "3D"),
        (np.full((4, 4, 4), 7.0, np.float32), "constant"),
        (np.where(np.eye(4)[..., None] > 0, np.nan, 1.0).repeat(4, axis=2).astype(np.float32), "NaN"),
        (np.where(np.eye(4)[..., None] > 0, np.inf, 1.0).repeat(4, axis=2).astype(np.float32), "NaN or infinite"),
    ],
)
def test_bad_volumes_are_rejected_with_the_file_name(tmp_path, data, message):
    path = _write(tmp_path / "bad.nii.gz", data)
    with pytest.raises(VolumeError, match=message) as err:
        load_nifti(path)
    assert "bad.nii.gz" in str(err.value)


def test_trailing_singleton_axis_is_accepted(tmp_path, rng):
    data = rng.normal(size=(4, 5, 6, 1)).astype(np.float32)
    assert load_nifti(_write(tmp_path / "v.nii.gz", data)).data.shape == (4, 5, 6)


def test_missing_not_nifti_and_corrupt_files(tmp_path, rng):
    with pytest.raises(VolumeError, match="not found"):
        load_nifti(tmp_path / "nope.nii.gz")
    text = tmp_path / "scan.txt"
    text.write_text("hello")
    with pytest.raises(VolumeError, match="not a NIfTI"):
        load_nifti(text)
    garbage = tmp_path / "garbage.nii.gz"
    garbage.write_bytes(gzip.compress(b"this is not a nifti header" * 20))
    with pytest.raises(VolumeError, match="garbage.nii.gz"):
        load_nifti(garbage)
    # a valid header whose data were cut off
    good = _write(tmp_path / "cut.nii", rng.normal(size=(20, 20, 20)).astype(np.float32))
    good.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(VolumeError, match="cut.nii"):
        load_nifti(good)
