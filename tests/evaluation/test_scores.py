"""Per-subject metrics (upgan.evaluation.scores) against scikit-image and hand computation."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy import ndimage
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from upgan.evaluation import PSNR_CAP_DB, psnr_from_mse, subject_metrics
from upgan.tasks import TASKS, get_task


def _phantom(n: int, size: int = 48, seed: int = 0) -> np.ndarray:
    """Smooth, textured slices in [0.1, 0.9] (no constant regions)."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, 1, size, size))
    for k in range(n):
        field = ndimage.gaussian_filter(rng.random((size, size)), 3.0)
        field = (field - field.min()) / (field.max() - field.min())
        out[k, 0] = 0.1 + 0.8 * field
    return out


def _skimage_ssim(a: np.ndarray, b: np.ndarray) -> float:
    return structural_similarity(a, b, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False)


def test_identical_images_give_ssim_one_and_capped_psnr() -> None:
    x = _phantom(4)
    df = subject_metrics(x, x.copy(), np.array(["a", "a", "b", "b"]), "mri_recon")
    assert list(df.columns) == ["subject_id", "ssim", "psnr", "mae", "bone_dice", "out_of_range_fraction"]
    assert df["subject_id"].tolist() == ["a", "b"]
    assert df["bone_dice"].isna().all()  # an MRI task has no bone Dice
    assert (df["out_of_range_fraction"] == 0).all()
    assert np.allclose(df["ssim"], 1.0, atol=1e-12)
    assert (df["psnr"] == PSNR_CAP_DB).all()
    assert np.isfinite(df["psnr"]).all()
    assert (df["mae"] == 0).all()


def test_psnr_cap_applies_to_tiny_errors_too() -> None:
    assert psnr_from_mse(0.0) == PSNR_CAP_DB
    assert psnr_from_mse(1e-15) == PSNR_CAP_DB
    assert psnr_from_mse(0.01) == pytest.approx(20.0)


def test_ssim_is_skimage_per_slice_then_averaged_per_subject() -> None:
    target = _phantom(5, seed=1)
    rng = np.random.default_rng(2)
    pred = np.clip(ndimage.gaussian_filter(target, (0, 0, 1.2, 1.2))
                   + rng.normal(0, 0.03, target.shape), 0, 1)
    ids = np.array(["s1", "s2", "s1", "s2", "s2"])
    df = subject_metrics(pred, target, ids, "mri_motion").set_index("subject_id")
    for subject in ("s1", "s2"):
        idx = np.flatnonzero(ids == subject)
        expected = np.mean([_skimage_ssim(pred[i, 0], target[i, 0]) for i in idx])
        assert df.loc[subject, "ssim"] == pytest.approx(expected, abs=1e-9)
        # PSNR from the MSE over all of the subject's pixels (not the mean of slice PSNRs)
        expected_psnr = peak_signal_noise_ratio(target[idx], pred[idx], data_range=1.0)
        assert df.loc[subject, "psnr"] == pytest.approx(expected_psnr, abs=1e-9)
        assert df.loc[subject, "mae"] == pytest.approx(np.abs(pred[idx] - target[idx]).mean())


def test_gaussian_noise_gives_expected_psnr() -> None:
    sigma = 0.02
    target = _phantom(6, size=64, seed=3)
    noise = np.random.default_rng(4).normal(0, sigma, target.shape)
    df = subject_metrics(target + noise, target, np.array(["a"] * 6), "mri_recon")
    assert df["psnr"].iloc[0] == pytest.approx(20 * math.log10(1 / sigma), abs=0.1)


def test_ct_mae_in_hu_overall_and_in_head_mask() -> None:
    window = (-1024.0, 3071.0)
    width = 4095.0
    hu = np.full((2, 1, 16, 16), -1000.0)  # air
    hu[:, :, 4:12, 4:12] = 40.0  # brain-like tissue: 64 head pixels of 256
    target = (hu - window[0]) / width
    pred = target.copy()
    pred[:, :, 4:12, 4:12] += 100.0 / width  # +100 HU inside the head
    pred[:, :, 0, :] += 20.0 / width  # +20 HU on one background row (16 pixels)
    df = subject_metrics(pred, target, np.array(["p", "p"]), "pet_to_ct", hu_window=window)
    assert list(df.columns) == ["subject_id", "ssim", "psnr", "mae", "bone_dice", "out_of_range_fraction",
                                "mae_head", "mae_soft_tissue", "ssim_head", "psnr_head"]
    expected_overall = (64 * 100.0 + 16 * 20.0) / 256.0
    assert df["mae"].iloc[0] == pytest.approx(expected_overall, rel=1e-9)
    assert df["mae_head"].iloc[0] == pytest.approx(100.0, rel=1e-9)


def test_ct_hu_scaling_follows_the_window() -> None:
    rng = np.random.default_rng(5)
    target = 0.98 * rng.random((2, 1, 16, 16))  # + 0.01 stays inside the valid range [0, 1]
    pred = target + 0.01
    df = subject_metrics(pred, target, np.array(["p", "p"]), "pet_to_ct", hu_window=(-1000.0, 1000.0))
    assert df["mae"].iloc[0] == pytest.approx(0.01 * 2000.0, rel=1e-6)
    mri = subject_metrics(pred, target, np.array(["p", "p"]), "mri_recon")
    assert mri["mae"].iloc[0] == pytest.approx(0.01, rel=1e-6)


def test_bad_inputs_fail_clearly() -> None:
    x = _phantom(2, size=16)
    with pytest.raises(ValueError, match="unknown task"):
        subject_metrics(x, x, np.array(["a", "a"]), "ct_to_pet")
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        subject_metrics(x[:, 0], x[:, 0], np.array(["a", "a"]), "mri_recon")
    with pytest.raises(ValueError, match="subject_ids"):
        subject_metrics(x, x, np.array(["a"]), "mri_recon")


def test_example_slice_is_the_fullest_slice_of_the_middle_subject():
    """Subjects sorted c, a, b -> a, b, c; the middle one is b; its fullest slice wins, whatever
    the order the slices come in."""
    from upgan.evaluation import example_slice

    means = [0.9, 0.2, 0.5, 0.3, 0.95, 0.1]
    ids = np.array(["c", "b", "b", "b", "a", "c"])
    targets = np.stack([np.full((1, 4, 4), m) for m in means])
    assert example_slice(targets, ids) == 2
    with pytest.raises(ValueError, match="at least one slice"):
        example_slice(targets[:0], ids[:0])


# ---- bone Dice ------------------------------------------------------------------------------------
# A 3 x 4 patch in HU. Head = target > -500 HU (8 pixels: columns 1-3 of rows 0-1, columns 2-3
# of row 2); bone = >= 300 HU.
BONE_TARGET = np.array([[-1000.0, 400.0, 400.0, 40.0],
                        [-1000.0, 800.0, 40.0, 40.0],
                        [-1000.0, -1000.0, 300.0, 299.0]])
BONE_PRED = np.array([[1000.0, 350.0, 100.0, 500.0],
                      [2000.0, 900.0, 300.0, 40.0],
                      [1500.0, 40.0, 1200.0, 300.0]])
# Counted by hand: target bone in the head {(0,1), (0,2), (1,1), (2,2)} = 4 pixels;
# predicted bone in the head {(0,1), (0,3), (1,1), (1,2), (2,2), (2,3)} = 6 (its bone at
# (0,0), (1,0), (2,0) lies outside the head and does not count); overlap {(0,1), (1,1), (2,2)}.
BONE_DICE = 2 * 3 / (6 + 4)


def test_bone_dice_hand_computed() -> None:
    from upgan.evaluation import bone_dice

    assert bone_dice(BONE_PRED, BONE_TARGET) == pytest.approx(BONE_DICE)
    assert BONE_DICE != pytest.approx(2 * 3 / (9 + 4))  # what counting outside the head would give
    assert bone_dice(BONE_TARGET, BONE_TARGET) == 1.0
    assert bone_dice(BONE_PRED[None, None], BONE_TARGET[None, None]) == pytest.approx(BONE_DICE)
    # symmetric in the bone sets, but the head always comes from the target
    assert bone_dice(BONE_TARGET, BONE_PRED) != pytest.approx(BONE_DICE)


def test_bone_dice_without_bone() -> None:
    from upgan.evaluation import bone_dice

    soft = np.full((4, 4), 40.0)
    assert bone_dice(soft, soft) == 1.0  # neither has bone
    air_with_bone = soft.copy()
    target = soft.copy()
    target[0, :] = -1000.0
    air_with_bone[0, :] = 1500.0  # "bone" predicted in the air only: outside the head
    assert bone_dice(air_with_bone, target) == 1.0
    only_pred = soft.copy()
    only_pred[1, 1] = 700.0
    assert bone_dice(only_pred, soft) == 0.0  # bone on one side only
    assert bone_dice(soft, only_pred) == 0.0
    with pytest.raises(ValueError, match="differ"):
        bone_dice(soft, soft[:3])


def _hu_to_unit(hu: np.ndarray, window=(-1024.0, 3071.0)) -> np.ndarray:
    return (hu - window[0]) / (window[1] - window[0])


def test_subject_metrics_bone_dice_per_subject_over_all_its_slices() -> None:
    """Subject a: the hand-computed patch on slice 0 and two false bone pixels on slice 1 (no
    bone in its target): pooled over the subject, Dice = 2 * 3 / (8 + 4) = 0.5 (the mean of the
    slice values would be 0.3). Subject b has no bone at all: 1.0. MRI tasks: nan."""
    size = 16
    # avoid the exact 300 HU threshold (HU -> [0, 1] -> HU is not exact in floating point)
    target_patch = np.where(BONE_TARGET == 300.0, 310.0, np.where(BONE_TARGET == 299.0, 290.0, BONE_TARGET))
    pred_patch = np.where(BONE_PRED == 300.0, 310.0, BONE_PRED)
    target = np.full((3, 1, size, size), -1000.0)
    pred = np.full((3, 1, size, size), -1000.0)
    target[0, 0, 5:8, 5:9], pred[0, 0, 5:8, 5:9] = target_patch, pred_patch
    target[1, 0, 2:10, 2:10], pred[1, 0, 2:10, 2:10] = 40.0, 40.0
    pred[1, 0, 3, 3] = pred[1, 0, 4, 7] = 900.0
    target[2, 0, 4:12, 4:12], pred[2, 0, 4:12, 4:12] = 40.0, 60.0
    from upgan.evaluation import bone_dice

    assert bone_dice(pred_patch, target_patch) == pytest.approx(BONE_DICE)
    ids = np.array(["a", "a", "b"])
    df = subject_metrics(_hu_to_unit(pred), _hu_to_unit(target), ids, "pet_to_ct").set_index("subject_id")
    assert df.loc["a", "bone_dice"] == pytest.approx(2 * 3 / (8 + 4))
    assert df.loc["b", "bone_dice"] == 1.0
    for subject in ("a", "b"):
        idx = np.flatnonzero(ids == subject)
        assert df.loc[subject, "bone_dice"] == pytest.approx(bone_dice(pred[idx], target[idx]))
    mri = subject_metrics(_hu_to_unit(pred), _hu_to_unit(target), ids, "mri_recon")
    assert mri["bone_dice"].isna().all()


# ---- clipped scoring ------------------------------------------------------------------------------
def _out_of_range_case() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Subject a (2 slices of 24 x 24 = 1152 pixels): 5 pixels set to 1.3 and 1 to -0.2; subject
    b: nothing outside [0, 1]."""
    target = _phantom(3, size=24, seed=7)
    rng = np.random.default_rng(8)
    pred = np.clip(target + rng.normal(0, 0.03, target.shape), 0.02, 0.98)
    pred[0, 0, 0, :5] = 1.3
    pred[1, 0, 10, 3] = -0.2
    return pred, target, np.array(["a", "a", "b"])


@pytest.mark.parametrize("task", ["mri_recon", "pet_to_ct"])
def test_subject_metrics_score_the_clipped_prediction(task: str) -> None:
    pred, target, ids = _out_of_range_case()
    df = subject_metrics(pred, target, ids, task).set_index("subject_id")
    clipped = np.clip(pred, 0.0, 1.0)
    scale = 4095.0 if get_task(task).scores_in_hu else 1.0
    for subject, outside in (("a", 6 / 1152), ("b", 0.0)):
        idx = np.flatnonzero(ids == subject)
        assert df.loc[subject, "out_of_range_fraction"] == pytest.approx(outside)
        ssim = np.mean([_skimage_ssim(clipped[i, 0], target[i, 0]) for i in idx])
        assert df.loc[subject, "ssim"] == pytest.approx(ssim, abs=1e-9)
        psnr = peak_signal_noise_ratio(target[idx], clipped[idx], data_range=1.0)
        assert df.loc[subject, "psnr"] == pytest.approx(psnr, abs=1e-9)
        assert df.loc[subject, "mae"] == pytest.approx(np.abs(clipped[idx] - target[idx]).mean() * scale)
    # the clipping matters: the raw error of subject a is larger
    raw_a = np.abs(pred[:2] - target[:2]).mean() * scale
    assert df.loc["a", "mae"] < raw_a - 1e-6 * scale


def test_subject_metrics_valid_range_none_scores_raw_values() -> None:
    pred, target, ids = _out_of_range_case()
    df = subject_metrics(pred, target, ids, "mri_recon", valid_range=None).set_index("subject_id")
    idx = np.flatnonzero(ids == "a")
    assert df.loc["a", "mae"] == pytest.approx(np.abs(pred[idx] - target[idx]).mean())
    assert df.loc["a", "psnr"] == pytest.approx(
        peak_signal_noise_ratio(target[idx], pred[idx], data_range=1.0), abs=1e-9)
    ssim = np.mean([structural_similarity(pred[i, 0], target[i, 0], data_range=1.0, gaussian_weights=True,
                                          sigma=1.5, use_sample_covariance=False) for i in idx])
    assert df.loc["a", "ssim"] == pytest.approx(ssim, abs=1e-9)
    assert (df["out_of_range_fraction"] == 0).all()  # nothing was clipped
    # another range clips to it
    narrow = subject_metrics(pred, target, ids, "mri_recon", valid_range=(0.1, 0.9)).set_index("subject_id")
    inside = np.clip(pred, 0.1, 0.9)
    expected = ((pred[idx] < 0.1) | (pred[idx] > 0.9)).mean()
    assert narrow.loc["a", "out_of_range_fraction"] == pytest.approx(expected) and expected > 6 / 1152
    assert narrow.loc["a", "mae"] == pytest.approx(np.abs(inside[idx] - target[idx]).mean())


# ---- what decides HU scoring: the task spec ---------------------------------------------------------
def test_hu_scoring_follows_scores_in_hu_of_every_task() -> None:
    """``mae_head`` and bone Dice exactly for the tasks whose spec scores in HU (PET->CT)."""
    x = _phantom(2, size=16)
    pred = np.clip(x + 0.01, 0, 1)
    in_hu = {name for name, spec in TASKS.items() if spec.scores_in_hu}
    assert "pet_to_ct" in in_hu and "mri_recon" not in in_hu
    for name in TASKS:
        df = subject_metrics(pred, x, np.array(["a", "a"]), name)
        assert ("mae_head" in df.columns) == (name in in_hu)
        assert df["bone_dice"].notna().all() == (name in in_hu)


def test_hu_scoring_is_read_from_the_spec_not_the_modality(monkeypatch) -> None:
    """A CT-target task not scored in HU is scored on the normalised scale, and a T1 task flagged
    as scored in HU gets HU MAE: the flag decides, not the target modality."""
    ct = get_task("pet_to_ct")
    mri = get_task("mri_recon")
    monkeypatch.setitem(TASKS, "ct_normalised", dataclasses.replace(ct, name="ct_normalised",
                                                                    scores_in_hu=False))
    monkeypatch.setitem(TASKS, "t1_in_hu", dataclasses.replace(mri, name="t1_in_hu", scores_in_hu=True))
    rng = np.random.default_rng(9)
    target = 0.98 * rng.random((2, 1, 16, 16))
    pred = target + 0.01
    ids = np.array(["p", "p"])
    plain = subject_metrics(pred, target, ids, "ct_normalised")
    assert "mae_head" not in plain.columns and plain["bone_dice"].isna().all()
    assert plain["mae"].iloc[0] == pytest.approx(0.01, rel=1e-6)
    hu = subject_metrics(pred, target, ids, "t1_in_hu")
    assert "mae_head" in hu.columns and hu["bone_dice"].notna().all()
    assert hu["mae"].iloc[0] == pytest.approx(0.01 * 4095.0, rel=1e-6)


def test_reader_metrics_inside_the_head_against_skimage() -> None:
    """PET->CT reader columns: SSIM map of skimage (same settings) averaged over the head pixels
    where the window fits, PSNR of the head pixels, soft-tissue MAE by hand."""
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(11)
    window = (-1024.0, 3071.0)
    width = window[1] - window[0]
    target_hu = np.full((2, 1, 32, 32), -1000.0)
    target_hu[:, :, 6:26, 6:26] = rng.uniform(-50.0, 400.0, (2, 1, 20, 20))  # the head
    pred_hu = target_hu + rng.normal(0.0, 30.0, target_hu.shape)
    target, pred = (target_hu - window[0]) / width, (pred_hu - window[0]) / width
    df = subject_metrics(pred, target, np.array(["p", "p"]), "pet_to_ct", hu_window=window).iloc[0]
    head = target_hu > -500.0
    p = np.clip(pred, 0, 1)  # scored clipped, as a reader sees it
    maps = [structural_similarity(p[i, 0], target[i, 0], data_range=1.0, gaussian_weights=True, sigma=1.5,
                                  use_sample_covariance=False, full=True)[1] for i in range(2)]
    inner = np.zeros_like(head)
    inner[..., 5:-5, 5:-5] = True
    expected_ssim = np.concatenate([maps[i][(head & inner)[i, 0]] for i in range(2)]).mean()
    assert df["ssim_head"] == pytest.approx(expected_ssim, rel=1e-6)
    assert df["psnr_head"] == pytest.approx(10 * np.log10(1.0 / np.mean((p - target)[head] ** 2)), rel=1e-9)
    p_hu = p * width + window[0]
    soft = np.abs(np.clip(p_hu, -100, 200) - np.clip(target_hu, -100, 200))[head].mean()
    assert df["mae_soft_tissue"] == pytest.approx(soft, rel=1e-6)
