"""Evaluation core: per-subject image metrics, paired significance tests, uncertainty
calibration, the results-contract schemas and a claim-by-claim report (claims C1-C5).

Metric conventions (these are the ones every table and CSV of the project uses):

* Images are compared on the networks' normalised ``[0, 1]`` scale (CT through the fixed,
  invertible Hounsfield window of :class:`upgan.preparation.normalisation.HUWindow`; PET and T1
  divided by a robust per-volume maximum). ``data_range`` is 1.0 everywhere.
* **SSIM** is computed per 2D slice exactly as ``skimage.metrics.structural_similarity(pred,
  target, data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``
  (Gaussian window of 11 taps, K1 = 0.01, K2 = 0.03, the 5-pixel border excluded; computed with
  the equivalent float64 torch implementation :func:`upgan.metrics.ssim`) and averaged over the
  subject's slices.
* **PSNR** is computed per subject from the mean squared error over *all* pixels of *all* its
  slices: ``10 log10(1 / MSE)``. Identical images (MSE = 0) would give ``+inf``; the value is
  capped at :data:`PSNR_CAP_DB` = 100 dB so that the CSVs never contain ``inf``.
* **MAE** per subject, over all pixels of all its slices. For CT (``pet_to_ct``) it is reported in
  Hounsfield units: the normalised absolute error times the window width (4095 HU for the
  default window [-1024, 3071]); ``mae`` is over all pixels, ``mae_head`` only over the head
  mask (target > -500 HU). For MRI it stays on the normalised scale (no physical unit).
* **Bone Dice** (PET->CT only): Dice overlap of bone (CT >= :data:`BONE_HU` = 300 HU) between
  prediction and target inside the head mask, over all of a subject's slices; what attenuation
  correction needs from a synthetic CT. ``nan`` for the MRI tasks (and 1.0 when neither image
  has bone).
* **Clipped scoring**: every prediction is clipped to the valid range of the normalised scale,
  ``[0, 1]`` (the CT window; the T1 scale), before any metric, as a reader sees the image;
  ``out_of_range_fraction`` records per subject the fraction of pixels that had to be clipped.
* **The do-nothing reference** ``input``: for tasks whose input is on the target's scale (the
  MRI tasks) the corrupted input itself is scored as a prediction, with the same rules.
* **No background masking** is applied to SSIM or PSNR (nor to the overall MAE): the background
  of every slice counts, so values are higher than masked, body-only metrics would be.
* Subjects are summarised by mean and sample standard deviation (``ddof=1``) over the test
  subjects of a cell (task, method, n_train_patients).
* Paired tests compare two methods on the same test subjects (paired by ``subject_id``):
  Wilcoxon signed-rank (``scipy.stats.wilcoxon``, two-sided, zero differences dropped) and the
  paired t-test (``scipy.stats.ttest_rel``). When every difference is exactly zero both tests
  report ``statistic = 0`` and ``p = 1.0`` (no evidence of a difference) instead of failing.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from scipy import stats

from upgan import metrics as torch_metrics
from upgan.preparation.normalisation import VALID_RANGE, HUWindow
from upgan.tasks import TASKS, get_task
from upgan.uncertainty import phase_summary, sparsification_curve

logger = logging.getLogger(__name__)

PSNR_CAP_DB = 100.0
"""PSNR reported for identical images (and the upper bound of every reported PSNR), in dB."""

HEAD_MASK_HU = -500.0
"""CT head mask threshold: a pixel belongs to the head when its target exceeds this (HU)."""

BONE_HU = 300.0
"""CT bone threshold of :func:`bone_dice` (HU)."""


INPUT = "input"
"""Method name of the do-nothing reference: the corrupted input scored as the prediction."""

METRICS: tuple[str, ...] = ("ssim", "psnr", "mae")
"""Metrics summarised and tested, in table order."""

HIGHER_IS_BETTER: dict[str, bool] = {"ssim": True, "psnr": True, "mae": False}

TESTS: tuple[str, ...] = ("wilcoxon", "paired_t")

BASELINES: tuple[str, ...] = ("pix2pix", "pan", "medgan")
"""The competing methods of claim C1 (configuration names)."""

REFERENCE = "upgan"
ABLATION = "upgan_no_guidance"

CONTRACT_COLUMNS: dict[str, list[str]] = {
    "metrics_per_subject": ["task", "method", "n_train_patients", "subject_id", "ssim", "psnr", "mae",
                            "bone_dice", "out_of_range_fraction"],
    "summary": ["task", "method", "n_train_patients", "n_subjects", "ssim_mean", "ssim_std",
                "psnr_mean", "psnr_std", "mae_mean", "mae_std", "bone_dice_mean", "bone_dice_std"],
    "significance": ["task", "n_train_patients", "method_a", "method_b", "metric", "test",
                     "statistic", "p_value"],
    "uncertainty": ["task", "method", "n_train_patients", "phase", "mean_abs_error", "mean_sigma",
                    "spearman_sigma_abs_error"],
}
"""Exact columns (and order) of the result tables written under ``data/08_reporting/``."""

CLAIMS_COLUMNS: list[str] = ["claim", "task", "n_train_patients", "method_a", "method_b",
                             "metric", "value_a", "value_b", "p_value", "verdict", "detail"]
"""Columns of :func:`claims_report` (one row per elementary check)."""

HELD, NOT_HELD, NOT_TESTABLE = "held", "not held", "not testable"

CLAIM_TEXT: dict[str, str] = {
    "C0": "every trained method beats doing nothing (its own input) on SSIM, PSNR and MAE",
    "C1": "UP-GAN beats pix2pix, PAN and MedGAN on SSIM, PSNR and MAE in each task",
    "C2": "removing the uncertainty guidance makes UP-GAN worse",
    "C3": "residual and uncertainty fall from phase to phase",
    "C4": "uncertainty is correlated with the error (Spearman > 0)",
    "C5": "UP-GAN's lead widens as the number of training patients falls",
}


# --------------------------------------------------------------------------------------------
# schema
# --------------------------------------------------------------------------------------------
def check_contract(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """Check that ``df`` has exactly the columns (and order) of result table ``name``.

    Returns ``df`` unchanged so it can be used inline; raises ``KeyError`` for an unknown table
    name and ``ValueError`` naming the missing, unexpected or misordered columns otherwise.
    """
    if name not in CONTRACT_COLUMNS:
        raise KeyError(f"unknown result table {name!r}; known: {', '.join(CONTRACT_COLUMNS)}")
    expected = CONTRACT_COLUMNS[name]
    got = [str(c) for c in df.columns]
    if got != expected:
        missing = [c for c in expected if c not in got]
        extra = [c for c in got if c not in expected]
        parts = []
        if missing:
            parts.append(f"missing {missing}")
        if extra:
            parts.append(f"unexpected {extra}")
        if not parts:
            parts.append("columns in the wrong order")
        raise ValueError(f"{name}: columns {got} break the results contract ({'; '.join(parts)}); "
                         f"expected exactly {expected}")
    return df


# --------------------------------------------------------------------------------------------
# per-subject metrics
# --------------------------------------------------------------------------------------------
def _as_nchw(name: str, x: np.ndarray) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 4 or arr.shape[1] != 1:
        raise ValueError(f"{name} must be (N, 1, H, W), got {arr.shape}")
    return arr


def slice_ssim(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """SSIM of each slice, ``(N,)``, identical to skimage's ``structural_similarity`` with the
    project's settings (see the module docstring). ``pred``, ``target``: ``(N, 1, H, W)``."""
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
    hu_window: tuple[float, float] = (-1024.0, 3071.0),
    valid_range: tuple[float, float] | None = VALID_RANGE,
) -> pd.DataFrame:
    """Per-subject SSIM, PSNR, MAE, bone Dice and out-of-range fraction of predicted slices
    (conventions in the module docstring).

    Args:
        pred, target: ``(N, 1, H, W)`` slices on the normalised [0, 1] scale; ``pred`` raw (it is
            clipped to ``valid_range`` here, after counting what lies outside).
        subject_ids: ``(N,)`` subject of each slice.
        task: task name (``pet_to_ct`` reports MAE in HU and adds ``mae_head`` and bone Dice).
        hu_window: the CT window used for normalisation (HU of 0 and 1).
        valid_range: clip range (``None``: score raw values).

    Returns:
        One row per subject (in order of first appearance) with columns ``subject_id, ssim,
        psnr, mae, bone_dice, out_of_range_fraction`` and, for ``pet_to_ct``, ``mae_head`` (HU,
        inside target > -500 HU; ``nan`` for a subject without head pixels).
    """
    spec = get_task(task)
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
    is_ct = spec.target_modality == "ct"
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
        if is_ct:
            row["mae"] = float(abs_err.mean() * window.width)
            pred_hu, target_hu = window.inverse(p[idx]), window.inverse(t[idx])
            head = target_hu > HEAD_MASK_HU
            row["mae_head"] = float(abs_err[head].mean() * window.width) if head.any() else math.nan
            row["bone_dice"] = bone_dice(pred_hu, target_hu)
        else:
            row["mae"] = float(abs_err.mean())
            row["bone_dice"] = math.nan
        row["out_of_range_fraction"] = float(outside[idx].mean())
        rows.append(row)
    columns = ["subject_id", "ssim", "psnr", "mae", "bone_dice", "out_of_range_fraction"]
    columns += ["mae_head"] if is_ct else []
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


def label_cell(
    per_subject: pd.DataFrame, task: str, method: str, n_train_patients: int,
    keep_extra: bool = False,
) -> pd.DataFrame:
    """Prefix :func:`subject_metrics` output with its cell, giving ``metrics_per_subject`` rows.

    With ``keep_extra`` the non-contract columns (``mae_head``) are kept after the contract
    ones; by default the result has exactly the contract columns.
    """
    df = per_subject.copy()
    df.insert(0, "n_train_patients", int(n_train_patients))
    df.insert(0, "method", method)
    df.insert(0, "task", task)
    cols = CONTRACT_COLUMNS["metrics_per_subject"]
    extra = [c for c in df.columns if c not in cols] if keep_extra else []
    return df[cols + extra].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# summary and significance
# --------------------------------------------------------------------------------------------
def _require(df: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {missing}; got {list(df.columns)}")


def summarise(metrics_per_subject: pd.DataFrame) -> pd.DataFrame:
    """Mean and sample std (ddof=1) of each metric per cell, with the number of subjects.

    Returns exactly the ``summary`` contract columns, sorted by task, n_train_patients, method.
    A cell of one subject has ``nan`` std; ``bone_dice_*`` are ``nan`` for the MRI tasks.
    """
    _require(metrics_per_subject, CONTRACT_COLUMNS["metrics_per_subject"], "summarise")
    keys = ["task", "method", "n_train_patients"]
    rows = []
    for (task, method, n), group in metrics_per_subject.groupby(keys, sort=False):
        row: dict[str, object] = {"task": task, "method": method, "n_train_patients": int(n),
                                  "n_subjects": int(group["subject_id"].nunique())}
        for m in (*METRICS, "bone_dice"):
            values = group[m].astype(float).dropna()
            row[f"{m}_mean"] = float(values.mean()) if len(values) else math.nan
            row[f"{m}_std"] = float(values.std(ddof=1)) if len(values) > 1 else math.nan
        rows.append(row)
    out = pd.DataFrame(rows, columns=CONTRACT_COLUMNS["summary"])
    out = out.sort_values(["task", "n_train_patients", "method"], kind="stable")
    return out.reset_index(drop=True)


def paired_test(a: np.ndarray, b: np.ndarray, test: str) -> tuple[float, float]:
    """``(statistic, p_value)`` of a two-sided paired test of ``a`` against ``b``.

    ``test`` is ``wilcoxon`` or ``paired_t``. All-zero differences give ``(0.0, 1.0)``. Otherwise
    scipy's answer is returned as is (its precision warnings silenced): e.g. a constant non-zero
    difference gives the t-test ``(±inf, 0.0)``, a single pair gives it ``(nan, nan)``.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired samples must be 1-D of one length, got {a.shape} and {b.shape}")
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r}; known: {', '.join(TESTS)}")
    d = a - b
    if d.size == 0 or np.all(d == 0):
        return 0.0, 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if test == "wilcoxon":
            res = stats.wilcoxon(a, b, alternative="two-sided")
        else:
            res = stats.ttest_rel(a, b, alternative="two-sided")
    return float(res.statistic), float(res.pvalue)


def _test_pair(task: str, n: int, a: str, b: str, per_method: dict[str, pd.DataFrame]) -> list[dict]:
    ref, other = per_method[a], per_method[b]
    if set(ref.index) != set(other.index):
        only_a = sorted(set(ref.index) - set(other.index))
        only_b = sorted(set(other.index) - set(ref.index))
        raise ValueError(
            f"{task} n={n}: {a} and {b} were evaluated on different subjects "
            f"(only {a}: {only_a}; only {b}: {only_b})"
        )
    other = other.loc[ref.index]
    rows = []
    for metric in METRICS:
        for test in TESTS:
            stat, p = paired_test(ref[metric].to_numpy(), other[metric].to_numpy(), test)
            rows.append({"task": task, "n_train_patients": int(n), "method_a": a, "method_b": b,
                         "metric": metric, "test": test, "statistic": stat, "p_value": p})
    return rows


def paired_tests(metrics_per_subject: pd.DataFrame, reference: str = REFERENCE) -> pd.DataFrame:
    """Paired tests of ``reference`` (method_a) against every other method (method_b), and of
    every other trained method (method_a) against the do-nothing :data:`INPUT` (method_b).

    For each (task, n_train_patients), methods are paired by ``subject_id`` and tested on ssim,
    psnr and mae with ``wilcoxon`` and ``paired_t``; the statistic is that of ``a - b``. Cells
    without the reference get only the tests against ``input`` (logged).

    Raises:
        ValueError: when two methods of a cell were evaluated on different subjects, or a
            method has duplicated subject rows.
    """
    _require(metrics_per_subject, CONTRACT_COLUMNS["metrics_per_subject"], "paired_tests")
    rows = []
    for (task, n), cell in metrics_per_subject.groupby(["task", "n_train_patients"], sort=True):
        methods = list(dict.fromkeys(cell["method"].tolist()))
        per_method = {}
        for method in methods:
            sub = cell[cell["method"] == method]
            if sub["subject_id"].duplicated().any():
                raise ValueError(f"{task} n={n} {method}: duplicated subject rows")
            per_method[method] = sub.set_index(sub["subject_id"].astype(str))
        if reference in methods:
            for method in sorted(m for m in methods if m != reference):
                rows += _test_pair(task, n, reference, method, per_method)
        else:
            logger.warning("paired_tests: %s n=%s has no %r rows", task, n, reference)
        if INPUT in methods:
            for method in sorted(m for m in methods if m not in (reference, INPUT)):
                rows += _test_pair(task, n, method, INPUT, per_method)
    return pd.DataFrame(rows, columns=CONTRACT_COLUMNS["significance"])


# --------------------------------------------------------------------------------------------
# uncertainty
# --------------------------------------------------------------------------------------------
def uncertainty_rows(
    task: str,
    method: str,
    n_train_patients: int,
    phase_images: Sequence[np.ndarray],
    phase_sigmas: Sequence[np.ndarray],
    target: np.ndarray,
    labels: Sequence[str],
) -> pd.DataFrame:
    """Per phase mean |error|, mean σ and Spearman ρ(σ, |error|) of one cell (normalised scale).

    Args:
        phase_images, phase_sigmas: per phase, ``(N, 1, H, W)`` prediction and σ.
        target: ``(N, 1, H, W)``.
        labels: phase label of each entry (``"0"`` .. ``"M-1"``, ``"final"``).

    Returns:
        Exactly the ``uncertainty`` contract columns, one row per phase.
    """
    if not (len(phase_images) == len(phase_sigmas) == len(labels)):
        raise ValueError(f"{len(phase_images)} images, {len(phase_sigmas)} sigmas and "
                         f"{len(labels)} labels: one of each per phase expected")
    for image, sigma in zip(phase_images, phase_sigmas, strict=True):
        if np.shape(image) != np.shape(target) or np.shape(sigma) != np.shape(target):
            raise ValueError(f"phase image {np.shape(image)} / sigma {np.shape(sigma)} must match "
                             f"target {np.shape(target)}")
    df = phase_summary(phase_images, phase_sigmas, target, [str(x) for x in labels])
    df.insert(0, "n_train_patients", int(n_train_patients))
    df.insert(0, "method", method)
    df.insert(0, "task", task)
    return df[CONTRACT_COLUMNS["uncertainty"]]


def _subsample(sigma: np.ndarray, abs_error: np.ndarray, max_pixels: int | None,
               seed: int) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(sigma, dtype=np.float64).ravel()
    e = np.asarray(abs_error, dtype=np.float64).ravel()
    if s.shape != e.shape:
        raise ValueError(f"sigma ({s.size} values) and abs_error ({e.size}) differ in size")
    if s.size == 0:
        raise ValueError("no pixels to calibrate")
    if max_pixels is not None and s.size > max_pixels:
        pick = np.random.default_rng(seed).choice(s.size, max_pixels, replace=False)
        s, e = s[pick], e[pick]
    return s, e


def calibration_table(
    sigma: np.ndarray, abs_error: np.ndarray, n_bins: int = 10,
    max_pixels: int | None = 2_000_000, seed: int = 0,
) -> pd.DataFrame:
    """Binned reliability of σ: pixels sorted by σ and cut into ``n_bins`` equal-count bins
    (σ quantiles; equal counts stay well defined when σ has ties), then per bin the mean σ and
    the mean |error|. A calibrated σ of a zero-mean residual puts mean |error| near mean σ
    times ``E|ε|/σ`` (0.80 for a Gaussian, 1/√2 ≈ 0.71 for a Laplacian).

    Returns:
        Columns ``bin, sigma_low, sigma_high, n_pixels, mean_sigma, mean_abs_error``.
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    s, e = _subsample(sigma, abs_error, max_pixels, seed)
    order = np.argsort(s, kind="stable")
    rows = []
    for k, chunk in enumerate(np.array_split(order, min(n_bins, s.size))):
        rows.append({"bin": k, "sigma_low": float(s[chunk].min()), "sigma_high": float(s[chunk].max()),
                     "n_pixels": int(chunk.size), "mean_sigma": float(s[chunk].mean()),
                     "mean_abs_error": float(e[chunk].mean())})
    return pd.DataFrame(rows)


def sparsification(
    sigma: np.ndarray, abs_error: np.ndarray, max_pixels: int | None = 2_000_000, seed: int = 0,
) -> pd.DataFrame:
    """Sparsification curve (mean |error| after removing the most uncertain fraction, and the
    oracle that removes the largest errors); see :func:`upgan.uncertainty.sparsification_curve`."""
    s, e = _subsample(sigma, abs_error, max_pixels, seed)
    return sparsification_curve(s, e)


# --------------------------------------------------------------------------------------------
# claims
# --------------------------------------------------------------------------------------------
def _better(metric: str, a: float, b: float) -> bool:
    return a > b if HIGHER_IS_BETTER[metric] else a < b


def _row(claim: str, task: object = "", n: object = None, method_a: str = "", method_b: str = "",
         metric: str = "", value_a: float = math.nan, value_b: float = math.nan,
         p_value: float = math.nan, verdict: str = NOT_TESTABLE, detail: str = "") -> dict:
    return {"claim": claim, "task": task, "n_train_patients": n, "method_a": method_a,
            "method_b": method_b, "metric": metric, "value_a": value_a, "value_b": value_b,
            "p_value": p_value, "verdict": verdict, "detail": detail}


def _mean(summary: pd.DataFrame, task: str, method: str, n: int, metric: str) -> float:
    hit = summary[(summary["task"] == task) & (summary["method"] == method)
                  & (summary["n_train_patients"] == n)]
    return float(hit[f"{metric}_mean"].iloc[0]) if len(hit) else math.nan


def _wilcoxon_p(significance: pd.DataFrame, task: str, n: int, a: str, b: str, metric: str) -> float:
    if significance is None or significance.empty:
        return math.nan
    hit = significance[(significance["task"] == task) & (significance["n_train_patients"] == n)
                       & (significance["metric"] == metric) & (significance["test"] == "wilcoxon")
                       & (((significance["method_a"] == a) & (significance["method_b"] == b))
                          | ((significance["method_a"] == b) & (significance["method_b"] == a)))]
    return float(hit["p_value"].iloc[0]) if len(hit) else math.nan


def _beats(claim: str, summary: pd.DataFrame, significance: pd.DataFrame, task: str, n: int,
           winner: str, loser: str, metric: str, alpha: float) -> dict:
    """Does ``winner`` beat ``loser``: better mean AND Wilcoxon p < alpha."""
    va = _mean(summary, task, winner, n, metric)
    vb = _mean(summary, task, loser, n, metric)
    p = _wilcoxon_p(significance, task, n, winner, loser, metric)
    if math.isnan(va) or math.isnan(vb):
        absent = winner if math.isnan(va) else loser
        return _row(claim, task, n, winner, loser, metric, va, vb, p, NOT_TESTABLE,
                    f"no {absent} results")
    if math.isnan(p):
        return _row(claim, task, n, winner, loser, metric, va, vb, p, NOT_TESTABLE,
                    "no Wilcoxon test")
    better = _better(metric, va, vb)
    held = better and p < alpha
    word = "higher" if HIGHER_IS_BETTER[metric] else "lower"
    detail = (f"{winner} {va:.4g} vs {loser} {vb:.4g} ({word} is better; "
              f"{'better' if better else 'not better'}), Wilcoxon p = {p:.3g} "
              f"({'<' if p < alpha else '>='} {alpha})")
    return _row(claim, task, n, winner, loser, metric, va, vb, p, HELD if held else NOT_HELD, detail)


def _phase_key(label: object) -> tuple[int, float, str]:
    s = str(label)
    try:
        return (0, float(s), s)
    except ValueError:
        return (1, 0.0, s)


def claims_report(
    summary: pd.DataFrame,
    significance: pd.DataFrame,
    uncertainty: pd.DataFrame | None,
    alpha: float = 0.05,
    reference: str = REFERENCE,
    baselines: Sequence[str] = BASELINES,
    ablation: str = ABLATION,
) -> pd.DataFrame:
    """Test claims C1-C5 on the result tables; one row per elementary check.

    * C0: per task with an ``input`` row (at its largest ``n_train_patients``), per trained
      method and metric: the method's mean is better than the input's AND the Wilcoxon p <
      ``alpha`` (has the method learned the task at all?).
    * C1: per task (at its largest ``n_train_patients``), per baseline and metric: UP-GAN's
      mean is better AND the Wilcoxon p < ``alpha``.
    * C2: the same test with the ablation in place of the baseline.
    * C3: per task, cell of the reference method: mean |error| and mean σ strictly decrease
      over the numeric phases 0..M-1 (the ``final`` row is listed in the detail, not tested).
    * C4: per phase row of the reference method: Spearman ρ(σ, |error|) > 0.
    * C5: per task with several patient counts, per baseline and metric: the lead of UP-GAN
      (its mean minus the baseline's, sign-flipped for MAE) at the smallest count exceeds the
      lead at the largest count; all leads are listed in the detail.

    Every check is ``held``, ``not held`` or ``not testable`` (missing method, test or rows).
    Nothing is tuned; the verdicts just read the tables. Columns: :data:`CLAIMS_COLUMNS`.
    Use :func:`claim_verdicts` for one verdict per claim.
    """
    _require(summary, CONTRACT_COLUMNS["summary"], "claims_report summary")
    rows: list[dict] = []
    present = list(dict.fromkeys(summary["task"].tolist()))
    tasks = [t for t in TASKS if t in present] + [t for t in present if t not in TASKS]
    for task in tasks:
        ns = sorted(int(x) for x in summary.loc[summary["task"] == task, "n_train_patients"].unique())
        n_full = ns[-1]
        cell = summary[(summary["task"] == task) & (summary["n_train_patients"] == n_full)]
        if INPUT in set(cell["method"]):
            for method in [m for m in dict.fromkeys(cell["method"]) if m != INPUT]:
                for metric in METRICS:
                    rows.append(_beats("C0", summary, significance, task, n_full, method, INPUT,
                                       metric, alpha))
        for baseline in baselines:
            for metric in METRICS:
                rows.append(_beats("C1", summary, significance, task, n_full, reference, baseline,
                                   metric, alpha))
        for metric in METRICS:
            rows.append(_beats("C2", summary, significance, task, n_full, reference, ablation,
                               metric, alpha))
        # C5
        if len(ns) < 2:
            rows.append(_row("C5", task, None, reference, "", "", verdict=NOT_TESTABLE,
                             detail=f"only one patient count ({n_full})"))
        else:
            for baseline in baselines:
                for metric in METRICS:
                    sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
                    leads = {n: sign * (_mean(summary, task, reference, n, metric)
                                        - _mean(summary, task, baseline, n, metric)) for n in ns}
                    known = {n: v for n, v in leads.items() if not math.isnan(v)}
                    listing = ", ".join(f"n={n}: {v:+.4g}" for n, v in known.items())
                    if len(known) < 2:
                        rows.append(_row("C5", task, None, reference, baseline, metric,
                                         verdict=NOT_TESTABLE,
                                         detail=f"fewer than two patient counts with both methods ({listing})"))
                        continue
                    n_lo, n_hi = min(known), max(known)
                    held = known[n_lo] > known[n_hi]
                    seq = [known[n] for n in sorted(known)]
                    monotone = all(x >= y for x, y in zip(seq, seq[1:], strict=False))
                    rows.append(_row(
                        "C5", task, n_lo, reference, baseline, metric, known[n_lo], known[n_hi],
                        math.nan, HELD if held else NOT_HELD,
                        f"lead of {reference} over {baseline} (positive = {reference} better): "
                        f"{listing}; n={n_lo} vs n={n_hi}: {known[n_lo]:+.4g} vs {known[n_hi]:+.4g}"
                        f"{' (monotone)' if monotone else ' (not monotone)'}"))
    # C3, C4
    if uncertainty is None or len(uncertainty) == 0:
        for claim in ("C3", "C4"):
            rows.append(_row(claim, "", None, reference, verdict=NOT_TESTABLE,
                             detail="no uncertainty rows"))
    else:
        _require(uncertainty, CONTRACT_COLUMNS["uncertainty"], "claims_report uncertainty")
        ref_rows = uncertainty[uncertainty["method"] == reference]
        if ref_rows.empty:
            for claim in ("C3", "C4"):
                rows.append(_row(claim, "", None, reference, verdict=NOT_TESTABLE,
                                 detail=f"no uncertainty rows of {reference}"))
        for (task, n), cell in ref_rows.groupby(["task", "n_train_patients"], sort=True):
            cell = cell.iloc[sorted(range(len(cell)), key=lambda i: _phase_key(cell["phase"].iloc[i]))]
            numeric = cell[[(_phase_key(p)[0] == 0) for p in cell["phase"]]]
            final = cell[[(_phase_key(p)[0] == 1) for p in cell["phase"]]]
            listing = "; ".join(f"phase {r.phase}: |err| {r.mean_abs_error:.4g}, "
                                f"σ {r.mean_sigma:.4g}" for r in cell.itertuples())
            for metric in ("mean_abs_error", "mean_sigma"):
                values = numeric[metric].to_numpy(dtype=float)
                if values.size < 2:
                    rows.append(_row("C3", task, int(n), reference, "", metric, verdict=NOT_TESTABLE,
                                     detail=f"fewer than two numeric phases ({listing})"))
                    continue
                held = bool(np.all(np.diff(values) < 0))
                rows.append(_row("C3", task, int(n), reference, "", metric, float(values[0]),
                                 float(values[-1]), math.nan, HELD if held else NOT_HELD,
                                 f"phases {', '.join(map(str, numeric['phase']))} "
                                 f"{'strictly decrease' if held else 'do not strictly decrease'}: "
                                 f"{listing}" + ("" if final.empty else " (final: not tested)")))
            for r in cell.itertuples():
                rho = float(r.spearman_sigma_abs_error)
                verdict = NOT_TESTABLE if math.isnan(rho) else (HELD if rho > 0 else NOT_HELD)
                rows.append(_row("C4", task, int(n), reference, "", f"phase {r.phase}", rho,
                                 math.nan, math.nan, verdict, f"Spearman ρ(σ, |error|) = {rho:.3f}"))
    out = pd.DataFrame(rows, columns=CLAIMS_COLUMNS)
    logger.info("claims: %s", claim_verdicts(out).set_index("claim")["verdict"].to_dict())
    return out


def claim_verdicts(report: pd.DataFrame) -> pd.DataFrame:
    """One verdict per claim from :func:`claims_report` rows: ``not held`` if any check is not
    held, ``not testable`` if no check could be made, else ``held``.

    Returns columns ``claim, statement, verdict, n_held, n_not_held, n_not_testable``.
    """
    rows = []
    for claim, statement in CLAIM_TEXT.items():
        sub = report[report["claim"] == claim]
        counts = {v: int((sub["verdict"] == v).sum()) for v in (HELD, NOT_HELD, NOT_TESTABLE)}
        if counts[NOT_HELD]:
            verdict = NOT_HELD
        elif counts[HELD]:
            verdict = HELD
        else:
            verdict = NOT_TESTABLE
        rows.append({"claim": claim, "statement": statement, "verdict": verdict,
                     "n_held": counts[HELD], "n_not_held": counts[NOT_HELD],
                     "n_not_testable": counts[NOT_TESTABLE]})
    return pd.DataFrame(rows)


def claims_markdown(report: pd.DataFrame,
                    claims: Sequence[str] = ("C0", "C1", "C2", "C4", "C3", "C5")) -> str:
    """The claims as markdown: per claim its verdict, the count of checks, then every check."""
    verdicts = claim_verdicts(report).set_index("claim")
    lines: list[str] = []
    for claim in claims:
        v = verdicts.loc[claim]
        lines.append(f"- **{claim}** ({v['statement']}): **{v['verdict']}** "
                     f"({v['n_held']} held, {v['n_not_held']} not held, "
                     f"{v['n_not_testable']} not testable)")
        for r in report[report["claim"] == claim].itertuples():
            n = "" if pd.isna(r.n_train_patients) else f"n={int(r.n_train_patients)}"
            where = " ".join(str(x) for x in (r.task, n, r.method_b, r.metric) if x)
            lines.append(f"  - {where}: {r.verdict} -- {r.detail}")
    return "\n".join(lines) + "\n"


__all__ = [
    "ABLATION", "BASELINES", "BONE_HU", "CLAIMS_COLUMNS", "CLAIM_TEXT", "CONTRACT_COLUMNS",
    "HEAD_MASK_HU", "INPUT", "METRICS", "PSNR_CAP_DB", "REFERENCE", "VALID_RANGE", "bone_dice",
    "calibration_table", "check_contract", "claim_verdicts",
    "claims_markdown", "claims_report", "label_cell", "paired_test", "paired_tests",
    "psnr_from_mse", "slice_ssim", "sparsification", "subject_metrics", "summarise",
    "uncertainty_rows",
]
