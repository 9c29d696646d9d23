"""The mechanism study in one picture: what each variant of the proposed method pays in accuracy
for the quality of its σ, and which training seeds lost the skull."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from upgan.evaluation.variants import SKULL_LOST_DICE
from upgan.reporting.figures import subplots

ROLE_COLOURS: dict[str, str] = {"proposed": "tab:red", "variant": "tab:blue", "ablation": "tab:green",
                                "control": "black"}
"""Marker colour per method role."""


def variants_figure(points: pd.DataFrame, task: str, mae_units: str = "") -> Figure:
    """Two panels for one task from :func:`upgan.evaluation.variants.variant_points`.

    Left: test MAE against the AUSE of the final σ, a small dot per seed and the mean ± SD over
    seeds per method (a method without σ, the control, is a vertical line at its mean MAE).
    Right: each seed's mean bone Dice per method with the skull-loss threshold (tasks without
    bone Dice show each seed's MAE instead)."""
    rows = points[points["task"] == task]
    if rows.empty:
        raise ValueError(f"variants figure: no trained variants for task {task!r}")
    methods = list(dict.fromkeys(rows["method"]))
    fig, (left, right) = subplots(1, 2, figsize=(13.0, 5.2), gridspec_kw={"width_ratios": [1.25, 1.0]})
    unit = f" [{mae_units}]" if mae_units else " (normalised)"
    names: list[tuple[float, float, str, str]] = []
    for method in methods:
        own = rows[rows["method"] == method]
        colour = ROLE_COLOURS.get(str(own["role"].iloc[0]), "grey")
        mae = own["mae"].to_numpy(dtype=float)
        ause = own["ause"].to_numpy(dtype=float)
        if np.isnan(ause).all():
            left.axvline(mae.mean(), color=colour, linestyle="--", linewidth=1.0)
            left.annotate(f"{method} (no σ)", (mae.mean(), 0.02), xycoords=("data", "axes fraction"),
                          rotation=90, va="bottom", ha="right", fontsize=7, color=colour)
            continue
        left.scatter(mae, ause, s=10, color=colour, alpha=0.35, linewidths=0)
        sd = (float(np.std(mae, ddof=1)), float(np.nanstd(ause, ddof=1))) if len(own) > 1 else (0.0, 0.0)
        left.errorbar(mae.mean(), np.nanmean(ause), xerr=sd[0], yerr=sd[1], fmt="o", color=colour,
                      markersize=5, capsize=2, linewidth=1.0)
        names.append((float(mae.mean()), float(np.nanmean(ause)), method, colour))
    _label_points(left, names)
    left.set_xlabel(f"test MAE{unit}, mean ± SD over seeds")
    left.set_ylabel("AUSE of the final σ (lower: σ ranks the errors better)")
    left.set_title(f"{task}: accuracy against the quality of σ", fontsize=9)
    left.grid(alpha=0.3)

    has_dice = rows["bone_dice"].notna().any()
    value = "bone_dice" if has_dice else "mae"
    for k, method in enumerate(methods):
        own = rows[rows["method"] == method]
        colour = ROLE_COLOURS.get(str(own["role"].iloc[0]), "grey")
        y = own[value].to_numpy(dtype=float)
        x = k + np.linspace(-0.15, 0.15, len(y)) if len(y) > 1 else np.array([float(k)])
        right.scatter(x, y, s=18, color=colour)
        for xi, yi, seed in zip(x, y, own["seed"], strict=True):
            if has_dice and yi < SKULL_LOST_DICE:
                right.annotate(str(seed), (xi, yi), xytext=(3, 0), textcoords="offset points", fontsize=7)
    if has_dice:
        right.axhline(SKULL_LOST_DICE, color="grey", linestyle=":", linewidth=1.0)
        right.text(len(methods) - 0.5, SKULL_LOST_DICE, "skull lost below", fontsize=7, ha="right", va="bottom",
                   color="grey")
        right.set_ylabel("bone Dice per seed (mean over test subjects)")
        right.set_ylim(-0.02, 1.0)
    else:
        right.set_ylabel(f"test MAE{unit} per seed")
    right.set_xticks(range(len(methods)))
    right.set_xticklabels(methods, rotation=60, ha="right", fontsize=7)
    right.set_title(f"{task}: each training seed", fontsize=9)
    right.grid(axis="y", alpha=0.3)
    handles = [left.scatter([], [], color=c, label=r) for r, c in ROLE_COLOURS.items()
               if r in set(rows["role"])]
    left.legend(handles=handles, fontsize=7, loc="upper right", title="role", title_fontsize=7)
    fig.suptitle("Variants of the proposed method against the ablation and the control "
                 "(small dots: one per training seed)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return fig


def _label_points(ax, names: list[tuple[float, float, str, str]], height: float = 9.0) -> None:
    """Name each method's mean point, moving a name down past names it would overlap
    (positions in points on the figure)."""
    to_points = 72.0 / ax.figure.dpi
    placed: list[tuple[float, float]] = []
    for x, y, text, colour in sorted(names, key=lambda n: -n[1]):
        px, py = (v * to_points for v in ax.transData.transform((x, y)))
        dy = 3.0
        while any(abs(px - qx) < 70 and abs(py + dy - qy) < height for qx, qy in placed):
            dy -= height
        placed.append((px, py + dy))
        ax.annotate(text, (x, y), xytext=(4, dy), textcoords="offset points", fontsize=7, color=colour)
