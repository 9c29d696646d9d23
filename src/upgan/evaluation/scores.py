"""Per-subject image metrics of predicted slices: SSIM, PSNR, MAE, bone Dice and the fraction
of clipped pixels (conventions in :mod:`upgan.evaluation`), and the slice figures show."""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
import torch

from upgan import metrics as torch_metrics
from upgan.preparation.normalisation import DEFAULT_HU_WINDOW, VALID_RANGE, HUWindow
from upgan.tasks import get_task

logger = logging.getLogger(__name__)

PSNR_CAP_DB = 100.0
"""PSNR reported for identical images (and the upper bound of every reported PSNR), in dB."""

HEAD_MASK_HU = -500.0
"""CT head mask threshold: a pixel belongs to the head when its target exceeds this (HU)."""

BONE_HU = 300.0
"""CT bone threshold of :func:`bone_dice` (HU)."""

SOFT_TISSUE_HU: tuple[float, float] = (-100.0, 200.0)
"""The soft-tissue window of ``mae_soft_tissue`` (HU): prediction and target clipped to it."""

T1_HEAD_MASK = 0.1
"""Head mask of the tasks not scored in HU (T1 on the normalised scale): target above this."""

READER_COLUMNS: tuple[str, ...] = ("mae_head", "mae_soft_tissue", "ssim_head", "psnr_head")
"""Extra per-subject columns of the tasks scored in HU (what a radiologist reads; see
:func:`subject_metrics`)."""


def head_mask(task: str, target: np.ndarray, hu_window: tuple[float, float] = DEFAULT_HU_WINDOW) -> np.ndarray:
    """Pixels inside the head: target CT > :data:`HEAD_MASK_HU` for a task scored in HU, target
    > :data:`T1_HEAD_MASK` on the normalised scale otherwise. Same shape as ``target``."""
    t = np.asarray(target, dtype=np.float64)
    if get_task(task).scores_in_hu:
        return HUWindow(*hu_window).inverse(t) > HEAD_MASK_HU
    return t > T1_HEAD_MASK


def _ssim_in_mask(p: np.ndarray, t: np.ndarray, mask: np.ndarray) -> float:
    """Mean of the SSIM map (the project's SSIM settings) over ``mask``'s pixels where the
    window fits (the 5-pixel border excluded). ``p, t, mask``: ``(N, 1, H, W)``."""
    pt, tt = torch.from_numpy(p), torch.from_numpy(t)
    maps = torch.cat([torch_metrics.ssim_map(pt[i:i + 256], tt[i:i + 256], data_range=1.0)
                      for i in range(0, p.shape[0], 256)]).numpy()
    r = (mask.shape[-1] - maps.shape[-1]) // 2
    inner = mask[..., r:mask.shape[-2] - r, r:mask.shape[-1] - r]
    return float(maps[inner].mean()) if inner.any() else math.nan


def _as_nchw(name: str, x: np.ndarray) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 4 or arr.shape[1] != 1:
        raise ValueError(f"{name} must be (N, 1, H, W), got {arr.shape}")
    return arr


def slice_ssim(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """SSIM of each slice, ``(N,)``, identical to skimage's ``structural_similarity`` with the
    project's settings (see :mod:`upgan.evaluation`). ``pred``, ``target``: ``(N, 1, H, W)``."""
    p = torch.from_numpy(_as_nchw("pred", pred))
    t = torch.from_numpy(_as_nchw("target", target))
    out = [torch_metrics.ssim(p[i:i + 256], t[i:i + 256], data_range=1.0)
           for i in range(0, p.shape[0], 256)]
    return torch.cat(out).numpy() if out else np.zeros(0)


def psnr_from_mse(mse: float) -> float:
    """``10 log10(1 / MSE)`` for data range 1, capped at :data:`PSNR_CAP_DB` (MSE 0 -> the cap)."""
    if mse <= 0.0:
        return PSNR_CAP_DB
    return float(min(10.0 * math.log10(1.0 / mse), PSNR_CAP_DB))


def bone_dice(pred_hu: np.ndarray, target_hu: np.ndarray, bone_hu: float = BONE_HU,
              head_hu: float = HEAD_MASK_HU) -> float:
    """Dice overlap of bone (``>= bone_hu``) between prediction and target, inside the head
    mask (target ``> head_hu``). Arrays in HU, any equal shape. 1.0 when neither has bone."""
    pred_hu, target_hu = np.asarray(pred_hu), np.asarray(target_hu)
    if pred_hu.shape != target_hu.shape:
        raise ValueError(f"bone_dice: prediction {pred_hu.shape} and target {target_hu.shape} differ")
    head = target_hu > head_hu
    a = (pred_hu >= bone_hu) & head
    b = (target_hu >= bone_hu) & head
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else float(2 * int((a & b).sum()) / total)


def subject_metrics(
    pred: np.ndarray,
    target: np.ndarray,
    subject_ids: np.ndarray,
    task: str,
    hu_window: tuple[float, float] = DEFAULT_HU_WINDOW,
    valid_range: tuple[float, float] | None = VALID_RANGE,
) -> pd.DataFrame:
    """Per-subject SSIM, PSNR, MAE, bone Dice and out-of-range fraction of predicted slices
    (conventions in :mod:`upgan.evaluation`).

    Args:
        pred, target: ``(N, 1, H, W)`` slices on the normalised [0, 1] scale; ``pred`` raw (it is
            clipped to ``valid_range`` here, after counting what lies outside).
        subject_ids: ``(N,)`` subject of each slice.
        task: task name; a task whose spec ``scores_in_hu`` (PET->CT) reports MAE in HU and adds
            ``mae_head`` and bone Dice.
        hu_window: the CT window used for normalisation (HU of 0 and 1).
        valid_range: clip range (``None``: score raw values).

    Returns:
        One row per subject (in order of first appearance) with columns ``subject_id, ssim,
        psnr, mae, bone_dice, out_of_range_fraction`` and, for a task scored in HU, the
        :data:`READER_COLUMNS` inside the head mask (target > -500 HU; ``nan`` for a subject
        without head pixels): ``mae_head`` (HU), ``mae_soft_tissue`` (HU, prediction and target
        clipped to the soft-tissue window :data:`SOFT_TISSUE_HU`), ``ssim_head`` (the SSIM map
        averaged over the head pixels, border excluded) and ``psnr_head`` (dB, the MSE over the
        head pixels on the normalised scale, data range 1).
    """
    in_hu = get_task(task).scores_in_hu
    p = _as_nchw("pred", pred)
    t = _as_nchw("target", target)
    if p.shape != t.shape:
        raise ValueError(f"pred {p.shape} and target {t.shape} differ in shape")
    ids = np.asarray(subject_ids).astype(str)
    if ids.shape != (p.shape[0],):
        raise ValueError(f"subject_ids must be ({p.shape[0]},), got {ids.shape}")
    if not np.isfinite(p).all():
        raise ValueError("pred contains non-finite values")
    if valid_range is not None:
        lo, hi = valid_range
        outside = (p < lo) | (p > hi)
        p = np.clip(p, lo, hi)
    else:
        outside = np.zeros(p.shape, dtype=bool)
    window = HUWindow(*hu_window)
    ssim_all = slice_ssim(p, t)
    rows = []
    for subject in dict.fromkeys(ids.tolist()):
        idx = np.flatnonzero(ids == subject)
        diff = p[idx] - t[idx]
        abs_err = np.abs(diff)
        row: dict[str, object] = {
            "subject_id": subject,
            "ssim": float(ssim_all[idx].mean()),
            "psnr": psnr_from_mse(float(np.mean(diff**2))),
        }
        if in_hu:
            row["mae"] = float(abs_err.mean() * window.width)
            pred_hu, target_hu = window.inverse(p[idx]), window.inverse(t[idx])
            head = target_hu > HEAD_MASK_HU
            row["mae_head"] = float(abs_err[head].mean() * window.width) if head.any() else math.nan
            lo, hi = SOFT_TISSUE_HU
            soft = np.abs(np.clip(pred_hu, lo, hi) - np.clip(target_hu, lo, hi))
            row["mae_soft_tissue"] = float(soft[head].mean()) if head.any() else math.nan
            row["ssim_head"] = _ssim_in_mask(p[idx], t[idx], head)
            row["psnr_head"] = psnr_from_mse(float(np.mean(diff[head] ** 2))) if head.any() else math.nan
            row["bone_dice"] = bone_dice(pred_hu, target_hu)
        else:
            row["mae"] = float(abs_err.mean())
            row["bone_dice"] = math.nan
        row["out_of_range_fraction"] = float(outside[idx].mean())
        rows.append(row)
    columns = ["subject_id", "ssim", "psnr", "mae", "bone_dice", "out_of_range_fraction"]
    columns += list(READER_COLUMNS) if in_hu else []
    logger.info("%s: metrics of %d subjects from %d slices", task, len(rows), p.shape[0])
    return pd.DataFrame(rows, columns=columns)


def example_slice(targets: np.ndarray, subject_ids: np.ndarray) -> int:
    """Index of the slice shown in figures: the fullest slice (largest mean target) of the middle
    test subject in sorted order, so every method and figure of a cell shows the same slice.

    Args:
        targets: ``(N, 1, H, W)`` target slices.
        subject_ids: ``(N,)`` subject of each slice.
    """
    ids = np.asarray(subject_ids).astype(str)
    if ids.size == 0:
        raise ValueError("example_slice needs at least one slice")
    subjects = sorted(set(ids.tolist()))
    idx = np.flatnonzero(ids == subjects[len(subjects) // 2])
    return int(idx[np.argmax(np.asarray(targets)[idx].mean(axis=(1, 2, 3)))])
