"""Evaluation figures (matplotlib, Agg backend): methods side by side (Figure 3 analogue),
uncertainty calibration and sparsification, and quality vs training patients (Figure 4 analogue).
Every function returns a :class:`matplotlib.figure.Figure`; the caller saves or logs it."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from upgan.evaluation import CONTRACT_COLUMNS, METRICS
from upgan.reporting.figures import show_image, subplots
from upgan.reporting.formatting import METRIC_LABELS, method_labels, ordered, task_labels
from upgan.tasks import get_task

logger = logging.getLogger(__name__)


def methods_figure(
    input: np.ndarray,  # noqa: A002 - the paper's word for the source image
    target: np.ndarray,
    predictions: Mapping[str, np.ndarray],
    title: str = "",
    value_range: tuple[float, float] = (0.0, 1.0),
    residual_scale: float = 1.0,
    residual_unit: str = "",
) -> Figure:
    """Figure 3 analogue: for one slice, the input and target, then per method its prediction
    (top row) and its signed residual prediction − target (bottom row), in ``residual_unit``
    (the normalised residual times ``residual_scale``: the HU window's width for CT, as the
    tables give MAE in HU).

    All predictions share the target's display range and all residuals one symmetric colour
    scale (the 99.5th percentile of |residual| over every method), so methods compare by eye.

    Args:
        input, target: ``(H, W)`` on the normalised scale.
        predictions: method name -> ``(H, W)`` prediction, shown in the paper's method order.
        title: figure title.
        value_range: display range of target and predictions.
    """
    target = np.asarray(target, dtype=np.float64)
    if target.ndim != 2:
        raise ValueError(f"target must be (H, W), got {target.shape}")
    if not predictions:
        raise ValueError("methods_figure needs at least one prediction")
    for name, pred in predictions.items():
        if np.shape(pred) != target.shape:
            raise ValueError(f"prediction of {name} is {np.shape(pred)}, target {target.shape}")
    names = method_labels()
    methods = ordered(list(predictions), names)
    residuals = {m: (np.asarray(predictions[m], dtype=np.float64) - target) * residual_scale for m in methods}
    unit = f" {residual_unit}" if residual_unit else ""
    res_max = max(float(np.percentile(np.abs(r), 99.5)) for r in residuals.values()) or 1e-6
    ncols = 1 + len(methods)
    fig, axes = subplots(2, ncols, figsize=(2.3 * ncols, 4.9), squeeze=False)
    source = np.asarray(input, dtype=np.float64)
    show_image(axes[0, 0], source, "input", vmin=0.0, vmax=max(float(np.percentile(source, 99.5)), 1e-6))
    show_image(axes[1, 0], target, "target", vmin=value_range[0], vmax=value_range[1])
    image = None
    for col, method in enumerate(methods, start=1):
        label = names.get(method, method)
        mae = float(np.abs(residuals[method]).mean())
        show_image(axes[0, col], predictions[method], label, vmin=value_range[0], vmax=value_range[1])
        show_image(axes[1, col], residuals[method], f"residual (MAE {mae:.4g}{unit})" if unit else f"residual (MAE {mae:.4f})", cmap="RdBu_r",
                   vmin=-res_max, vmax=res_max)
        image = axes[1, col].images[-1]
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.45, anchor=(0.0, 0.1),
                     label=f"prediction − target{f' ({residual_unit})' if residual_unit else ''}")
    fig.suptitle(title, fontsize=10)
    return fig


def calibration_figure(
    tables: Mapping[str, pd.DataFrame],
    sparsification: Mapping[str, pd.DataFrame] | None = None,
    title: str = "",
) -> Figure:
    """Uncertainty calibration: per label, mean |error| against mean σ of the σ-quantile bins
    of :func:`upgan.evaluation.calibration_table` with the y = x guide; and, when given, the
    sparsification curves of :func:`upgan.evaluation.sparsification` (removing pixels by σ,
    solid, against the oracle removing the largest errors, dashed).
    """
    if not tables:
        raise ValueError("calibration_figure needs at least one calibration table")
    ncols = 2 if sparsification else 1
    fig, axes = subplots(1, ncols, figsize=(4.6 * ncols, 4.2), squeeze=False)
    ax = axes[0, 0]
    colours = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    hi = 0.0
    for k, (label, table) in enumerate(tables.items()):
        ax.plot(table["mean_sigma"], table["mean_abs_error"], "o-", ms=4,
                color=colours[k % len(colours)], label=str(label))
        hi = max(hi, float(table["mean_sigma"].max()), float(table["mean_abs_error"].max()))
    hi = hi * 1.05 or 1.0
    ax.plot([0, hi], [0, hi], "k:", lw=1, label="y = x")
    ax.set_xlim(0, hi)
    ax.set_ylim(0, hi)
    ax.set_xlabel("mean σ in bin")
    ax.set_ylabel("mean |error| in bin")
    ax.set_title("calibration (σ-quantile bins)", fontsize=9)
    ax.legend(fontsize=7)
    if sparsification:
        ax = axes[0, 1]
        for k, (label, curve) in enumerate(sparsification.items()):
            c = colours[k % len(colours)]
            ax.plot(curve["fraction_removed"], curve["mae_by_sigma"], "-", color=c,
                    label=f"{label}: by σ")
            ax.plot(curve["fraction_removed"], curve["mae_oracle"], "--", color=c,
                    label=f"{label}: oracle")
        ax.set_xlabel("fraction of pixels removed")
        ax.set_ylabel("mean |error| of the rest")
        ax.set_title("sparsification", fontsize=9)
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def sweep_figure(summary: pd.DataFrame, title: str = "") -> Figure:
    """Figure 4 analogue: SSIM, PSNR and MAE (columns) against the number of training patients,
    one line per method, one row per task. The points are the means over test subjects (each
    subject averaged over seeds); the error bars are ± the std over training seeds of the
    per-seed means (none with one seed): how far a retraining moves each point."""
    missing = [c for c in CONTRACT_COLUMNS["summary"] if c not in summary.columns]
    if missing:
        raise ValueError(f"sweep_figure: summary lacks {missing}")
    if summary.empty:
        raise ValueError("sweep_figure: empty summary")
    task_names, names = task_labels(), method_labels()
    tasks = ordered(list(dict.fromkeys(summary["task"].tolist())), task_names)
    methods = ordered(list(dict.fromkeys(summary["method"].tolist())), names)
    fig, axes = subplots(len(tasks), len(METRICS), figsize=(4.0 * len(METRICS), 3.2 * len(tasks)),
                             squeeze=False)
    for row, task in enumerate(tasks):
        sub = summary[summary["task"] == task]
        for col, metric in enumerate(METRICS):
            ax = axes[row, col]
            for k, method in enumerate(methods):
                cell = sub[sub["method"] == method].sort_values("n_train_patients")
                if cell.empty:
                    continue
                ax.errorbar(cell["n_train_patients"] + (k - len(methods) / 2) * 0.12,
                            cell[f"{metric}_mean"], yerr=cell[f"{metric}_seed_std"].fillna(0.0),
                            marker="o", ms=4, capsize=3, label=names.get(method, method))
            units = get_task(task).mae_units if metric == "mae" else ""
            unit = f" ({units})" if units else ""
            ax.set_title(f"{task_names.get(task, task)}: {METRIC_LABELS[metric]}{unit}", fontsize=9)
            ax.set_xlabel("training patients")
            ax.set_xticks(sorted({int(x) for x in sub["n_train_patients"]}))
            ax.grid(alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    # one legend for the whole figure, below the panels, so it never hides a curve
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    seeds = int(summary["n_seeds"].max())
    fig.suptitle(f"{title} (error bars: ± std over {seeds} training seeds)" if seeds > 1 else
                 f"{title} (one training seed: no error bars)", fontsize=10)
    fig.tight_layout(rect=(0, 0.5 / fig.get_figheight(), 1, 1))
    return fig
