"""Figures of the data and of the models (matplotlib, Agg backend)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from upgan.io.slices import SliceSet


def subplots(nrows: int, ncols: int, figsize: tuple[float, float], **kwargs) -> tuple[Figure, np.ndarray]:
    """A figure with a grid of axes, made without pyplot: no global figure state to leak and no
    GUI backend needed, so importing this module never changes the caller's backend."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def show_image(ax: Axes, image: np.ndarray, title: str, **kwargs) -> None:
    """Draw a canonical axial slice ``(X, Y)`` on ``ax`` without ticks: anterior up, the
    patient's right on the viewer's right (neurological convention); ``kwargs`` go to
    ``imshow`` (``cmap`` defaults to grey)."""
    ax.imshow(np.flipud(np.asarray(image).T), cmap=kwargs.pop("cmap", "gray"), **kwargs)
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


def data_preview(
    slices: SliceSet,
    title: str,
    input_label: str,
    target_label: str,
    n_subjects: int = 3,
    target_windows: Sequence[tuple[str, float, float]] = (("", 0.0, 1.0),),
    target_to_units=None,
    heights: Sequence[float] = (0.5,),
    show_difference: bool = True,
) -> Figure:
    """Input/target pairs of a few subjects, at one or more relative heights in each volume.

    Args:
        slices: prepared slices.
        title: figure title.
        input_label, target_label: column titles.
        n_subjects: how many subjects (rows).
        target_windows: (name, low, high) display windows of the target, in its display units.
        target_to_units: optional map from the normalised scale to display units (e.g. HU).
        heights: which kept slices to show, as fractions of each subject's kept range
            (e.g. 0.1 for the skull base, 0.5 for the middle).
        show_difference: add input - target (meaningful when both share a modality).
    """
    subjects = list(dict.fromkeys(slices.subject_ids.tolist()))[:n_subjects]
    if not subjects:
        raise ValueError(f"{title}: no slices to show")
    per_height = 1 + len(target_windows) + int(show_difference)
    ncols = per_height * len(heights)
    fig, axes = subplots(len(subjects), ncols, figsize=(2.5 * ncols, 2.6 * len(subjects)),
                             squeeze=False)
    for row, subject in enumerate(subjects):
        idx = np.flatnonzero(slices.subject_ids == subject)
        idx = idx[np.argsort(slices.slice_index[idx])]
        for h, height in enumerate(heights):
            k = idx[min(int(height * len(idx)), len(idx) - 1)]
            source, target = slices.inputs[k, 0], slices.targets[k, 0]
            shown = target_to_units(target) if target_to_units is not None else target
            col = h * per_height
            show_image(axes[row, col], source, f"{subject} z={slices.slice_index[k]}: {input_label}",
                  vmin=0.0, vmax=max(float(np.percentile(source, 99.5)), 1e-6))
            for w, (name, low, high) in enumerate(target_windows, start=1):
                show_image(axes[row, col + w], shown, f"{target_label} {name}".strip(), vmin=low, vmax=high)
            if show_difference:
                show_image(axes[row, col + per_height - 1], source - target, "input - target",
                      cmap="RdBu_r", vmin=-0.5, vmax=0.5)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def montage(images: Sequence[np.ndarray], titles: Sequence[str], ncols: int = 4, **kwargs) -> Figure:
    """A simple grid of images with titles."""
    nrows = int(np.ceil(len(images) / ncols))
    fig, axes = subplots(nrows, ncols, figsize=(2.4 * ncols, 2.4 * nrows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, image, t in zip(axes.ravel(), images, titles, strict=False):
        ax.axis("on")
        show_image(ax, image, t, **kwargs)
    fig.tight_layout()
    return fig


def phase_figure(
    source: np.ndarray,
    target: np.ndarray,
    phases: Sequence[dict[str, np.ndarray]],
    labels: Sequence[str],
    summary_rows: Sequence[dict[str, float]] | None = None,
    title: str = "",
) -> Figure:
    """The Figure 2 analogue: input and target on top, then per phase the prediction, the
    residual |b̂ − b|, the scale α, the shape β and the uncertainty σ of one slice; those four
    have a colour bar each (one scale per column, shared by the phases; normalised scale).

    Args:
        source, target: (H, W) input and target on the normalised scale.
        phases: per phase a dict with (H, W) arrays ``image``, ``alpha``, ``beta``, ``sigma``.
        labels: row label of each phase.
        summary_rows: optional per-phase ``mean_abs_error`` / ``mean_sigma`` shown as bars.
    """
    n = len(phases)
    fig, axes = subplots(n + 1, 5, figsize=(11, 2.3 * (n + 1)), squeeze=False)
    for ax in axes[0]:
        ax.axis("off")
    show_image(axes[0, 0], source, "input", vmin=0, vmax=max(float(np.percentile(source, 99.5)), 1e-6))
    axes[0, 0].axis("on")
    show_image(axes[0, 1], target, "target", vmin=0, vmax=1)
    axes[0, 1].axis("on")
    if summary_rows:
        for col, key in ((2, "mean_abs_error"), (3, "mean_sigma")):
            ax = axes[0, col]
            ax.axis("on")
            values = [r[key] for r in summary_rows]
            ax.bar(range(len(values)), values, color="tab:blue" if col == 2 else "tab:orange")
            ax.set_xticks(range(len(values)), [str(r["phase"]) for r in summary_rows], fontsize=7)
            ax.set_title(f"{key} (test set)", fontsize=8)
            ax.tick_params(labelsize=7)
    res_max = max(float(np.percentile(np.abs(p["image"] - target), 99.5)) for p in phases) or 1e-6
    sig_max = max(float(np.percentile(p["sigma"], 99.5)) for p in phases) or 1e-6
    alpha_max = max(float(np.percentile(p["alpha"], 99.5)) for p in phases) or 1e-6
    beta_max = max(float(np.percentile(p["beta"], 99.5)) for p in phases) or 1e-6
    for row, (phase, label) in enumerate(zip(phases, labels, strict=True), start=1):
        show_image(axes[row, 0], phase["image"], f"{label}: prediction", vmin=0, vmax=1)
        show_image(axes[row, 1], np.abs(phase["image"] - target), "|residual|", cmap="magma", vmin=0, vmax=res_max)
        show_image(axes[row, 2], phase["alpha"], "scale α", cmap="viridis", vmin=0, vmax=alpha_max)
        show_image(axes[row, 3], phase["beta"], "shape β", cmap="viridis", vmin=0, vmax=beta_max)
        show_image(axes[row, 4], phase["sigma"], "uncertainty σ", cmap="magma", vmin=0, vmax=sig_max)
        for col in range(1, 5):  # every phase shares a column's scale; each panel shows it
            bar = fig.colorbar(axes[row, col].images[-1], ax=axes[row, col], fraction=0.046, pad=0.03)
            bar.ax.tick_params(labelsize=6)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.3 / fig.get_figheight()))  # keep the title clear
    return fig
