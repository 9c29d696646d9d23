import json

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from upgan.io.nifti import NiftiVolume, VolumeError
from upgan.preparation import (
    HUWindow,
    KSpaceUndersampling,
    NormalisedTarget,
    PercentileScale,
    PreparationConfig,
    axial_slices,
    from_axial_slices,
    prepare_subject,
    split_subjects,
)
from upgan.preparation.geometry import prepared_affine, to_canonical
from upgan.tasks import get_task


def test_hu_window_is_invertible_inside_the_window():
    window = HUWindow(-1024.0, 3071.0)
    hu = np.array([-1024.0, -1000.0, 0.0, 40.0, 1000.0, 3071.0], dtype=np.float32)
    x = window.forward(hu)
    assert x.min() == 0.0 and x.max() == 1.0
    np.testing.assert_allclose(window.inverse(x), hu, atol=1e-3)
    assert window.forward(np.array([5000.0]))[0] == 1.0
    with pytest.raises(ValueError, match="hu_max"):
        HUWindow(10.0, 0.0)


def test_percentile_scale_round_trip(rng):
    data = rng.gamma(2.0, size=(20, 20, 5)).astype(np.float32)
    scaler = PercentileScale(99.5, clip_max=10.0)
    scale = scaler.scale_of(data)
    assert scale == pytest.approx(np.percentile(data[data > 0], 99.5))
    np.testing.assert_allclose(scaler.inverse(scaler.forward(data, scale), scale), data, rtol=1e-5)


def test_axial_slices_and_back(rng):
    vol = rng.normal(size=(30, 24, 5)).astype(np.float32)
    slices = axial_slices(vol, 16)
    assert slices.shape == (5, 16, 16)
    # corners are kept exactly (grid_mode=False)
    np.testing.assert_allclose(slices[:, 0, 0], vol[0, 0, :], atol=1e-5)
    np.testing.assert_allclose(slices[:, -1, -1], vol[-1, -1, :], atol=1e-5)
    smooth = np.fromfunction(lambda x, y, z: x + 2 * y + z, (30, 24, 5)).astype(np.float32)
    back = from_axial_slices(axial_slices(smooth, 16), (30, 24, 5))
    np.testing.assert_allclose(back, smooth, atol=1e-3)  # linear data survive linear resampling


def test_prepared_affine_maps_corners_to_the_same_world_points():
    affine = np.array([[0.0, 0.0, 1.2, -90.0], [-0.94, 0.0, 0.0, 120.0], [0.0, -0.94, 0.0, 110.0], [0, 0, 0, 1]])
    shape, size = (150, 256, 256), 64
    new = prepared_affine(affine, shape, size)
    for old_ijk, new_ijk in [((0, 0, 3), (0, 0, 3)), ((149, 255, 7), (63, 63, 7))]:
        np.testing.assert_allclose(affine @ [*old_ijk, 1], new @ [*new_ijk, 1], atol=1e-6)


def test_to_canonical_reorders_axes():
    data = np.zeros((4, 5, 6), np.float32)
    data[1, 2, 3] = 1.0
    lps = np.diag([-1.0, -1.0, 1.0, 1.0])
    canon = to_canonical(NiftiVolume(data, lps))
    assert canon.axcodes == ("R", "A", "S")
    world = lps @ [1, 2, 3, 1]
    ijk = np.linalg.solve(canon.affine, world)[:3].round().astype(int)
    assert canon.data[tuple(ijk)] == 1.0


def test_split_is_seeded_disjoint_and_complete():
    ids = [f"s{i:02d}" for i in range(49)]
    a = split_subjects(ids, 29, 5, 15, seed=7)
    b = split_subjects(list(reversed(ids)), 29, 5, 15, seed=7)
    pd.testing.assert_frame_equal(a, b)
    counts = a["split"].value_counts().to_dict()
    assert counts == {"train": 29, "val": 5, "test": 15}
    assert a["subject_id"].is_unique
    c = split_subjects(ids, 29, 5, 15, seed=8)
    assert set(c[c.split == "test"].subject_id) != set(a[a.split == "test"].subject_id)


def test_split_errors():
    with pytest.raises(ValueError, match="needs 49 subjects"):
        split_subjects([f"s{i}" for i in range(10)], 29, 5, 15, seed=0)
    with pytest.raises(ValueError, match="split.val"):
        split_subjects([f"s{i}" for i in range(10)], 5, 0, 2, seed=0)


def test_config_and_task_errors():
    with pytest.raises(ValueError, match="unknown preparation parameter"):
        PreparationConfig.from_params({"slice_sise": 64})
    with pytest.raises(ValueError, match="unknown task 'ct_to_pet'; known tasks: pet_to_ct"):
        get_task("ct_to_pet")


def _target(slices: np.ndarray) -> NormalisedTarget:
    return NormalisedTarget(np.zeros((1, 1, 1), np.float32), (1.0, 1.0, 1.0), slices)


def test_undersampling_removes_phase_encode_frequencies_outside_the_centre():
    # a cosine of 5 cycles along axis 1 over a constant: the central 8 % of 32 lines (3) keeps
    # frequencies -1..1 only, so masking axis 1 leaves the constant; masking axis 0 changes nothing
    j = np.arange(32)
    slices = np.tile(1.0 + 0.5 * np.cos(2 * np.pi * 5 * j / 32), (1, 32, 1)).astype(np.float32)
    along = KSpaceUndersampling().apply(_target(slices), PreparationConfig(), seed=0)
    np.testing.assert_allclose(along, 1.0, atol=1e-5)
    across_params = {"mode": "central", "fraction": 0.08, "phase_encode_axis": 0}
    across = KSpaceUndersampling().apply(_target(slices), PreparationConfig(undersampling=across_params), 0)
    np.testing.assert_allclose(across, slices, atol=1e-5)


def _save(path, data, affine=None):
    nib.save(nib.Nifti1Image(np.asarray(data, np.float32), np.eye(4) if affine is None else affine), str(path))
    return str(path)


def test_a_target_on_another_grid_is_refused_or_resampled_with_its_background(tmp_path):
    pet = np.ones((8, 8, 6), np.float32)
    pet[2:6, 2:6] = 5.0
    ct = np.full((8, 8, 4), -1000.0, np.float32)  # the lower 4 PET slices: air around a 40 HU head
    ct[1:7, 1:7] = 40.0
    paths = {"pet": _save(tmp_path / "pet.nii.gz", pet), "ct": _save(tmp_path / "ct.nii.gz", ct)}
    task = get_task("pet_to_ct")
    config = {"slice_size": 8, "min_foreground": 0.0}
    with pytest.raises(VolumeError, match="ct.nii.gz: CT grid differs from its PET .*pet.nii.gz"):
        prepare_subject(task, "s", paths, PreparationConfig(**config), 0)
    slices, row = prepare_subject(task, "s", paths, PreparationConfig(**config, resample_ct_to_pet=True), 0)
    hu = HUWindow().inverse(slices.targets[:, 0])
    assert slices.slice_index.tolist() == [0, 1, 2, 3, 4, 5]
    np.testing.assert_allclose(hu[:4, 1:7, 1:7], 40.0, atol=0.5)
    np.testing.assert_allclose(hu[:4, 0], -1000.0, atol=0.5)
    np.testing.assert_allclose(hu[4:], -1024.0, atol=0.5)  # outside the CT: the CT's background
    np.testing.assert_allclose(slices.inputs[0, 0, 3, 3], 1.0)  # PET over its robust maximum (5)
    assert row["input_path"] == paths["pet"] and row["input_scale"] == pytest.approx(5.0)
    assert json.loads(row["target_normalisation"]) == {"kind": "hu_window", "hu_min": -1024.0, "hu_max": 3071.0}
