"""Evaluation figures: every panel shows what it should (image panels a non-constant image of
the right data, plots the right curves), and the figures render to PNGs in the test's tmp_path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from upgan.evaluation import calibration_table, sparsification
from upgan.reporting.evaluation_figures import calibration_figure, methods_figure, sweep_figure
from upgan.reporting.formatting import method_labels


def _save(fig, name: str, tmp_path: Path) -> Path:
    import matplotlib.pyplot as plt

    path = tmp_path / name
    fig.savefig(path, dpi=80)
    plt.close(fig)
    assert path.stat().st_size > 5_000
    return path


def _shown(ax) -> np.ndarray:
    """The one image an image panel shows, as drawn (a non-constant, finite array)."""
    images = ax.get_images()
    assert len(images) == 1, f"panel {ax.get_title()!r} has {len(images)} images"
    array = np.asarray(images[0].get_array(), dtype=float)
    assert np.isfinite(array).all() and np.ptp(array) > 0, f"panel {ax.get_title()!r} is blank"
    return array


def _as_drawn(image: np.ndarray) -> np.ndarray:
    """How the figures draw an (X, Y) slice: anterior up (transposed, flipped)."""
    return np.flipud(np.asarray(image, dtype=float).T)


def _lines_with_data(ax) -> list:
    """The plotted lines of ``ax`` whose y values vary (guides such as y = x included)."""
    return [line for line in ax.get_lines() if np.ptp(np.asarray(line.get_ydata(), dtype=float)) > 0]


def test_methods_figure(tmp_path: Path) -> None:
    yy, xx = np.mgrid[:64, :64]
    target = (((yy - 32) ** 2 + (xx - 30) ** 2) < 500).astype(float) * 0.3
    target[((yy - 32) ** 2 + (xx - 30) ** 2 > 400) & (target > 0)] = 0.8  # skull ring
    source = ndimage.gaussian_filter(target, 3.0) * 0.7
    rng = np.random.default_rng(0)
    preds = {m: np.clip(ndimage.gaussian_filter(target, s) + rng.normal(0, 0.01, target.shape), 0, 1)
             for m, s in (("upgan", 0.5), ("pix2pix", 2.5), ("medgan", 1.5), ("pan", 2.0))}
    fig = methods_figure(source, target, preds, "PET→CT, test subject 1")
    assert len(fig.axes) == 2 * 5 + 1  # panels + colour bar
    panels, colour_bar = fig.axes[:10], fig.axes[10]
    assert not colour_bar.get_images()
    top, bottom = panels[:5], panels[5:]
    expected = [name for name in method_labels() if name in preds]  # registry order
    assert [ax.get_title() for ax in top] == ["input", *(method_labels()[m] for m in expected)]
    # every panel shows its own image, with content
    np.testing.assert_allclose(_shown(top[0]), _as_drawn(source))
    np.testing.assert_allclose(_shown(bottom[0]), _as_drawn(target))
    for ax_pred, ax_res, method in zip(top[1:], bottom[1:], expected, strict=True):
        np.testing.assert_allclose(_shown(ax_pred), _as_drawn(preds[method]))
        np.testing.assert_allclose(_shown(ax_res), _as_drawn(preds[method] - target))
        assert ax_res.get_title() == f"residual (MAE {np.abs(preds[method] - target).mean():.4f})"
    # one symmetric colour scale for every residual
    limits = {ax.get_images()[0].get_clim() for ax in bottom[1:]}
    assert len(limits) == 1 and limits.pop()[0] < 0
    _save(fig, "eval_methods.png", tmp_path)
    with pytest.raises(ValueError, match="prediction of"):
        methods_figure(source, target, {"upgan": target[:10]})


def test_calibration_figure(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    tables, curves = {}, {}
    for label, scale in (("phase 0", 1.0), ("final", 0.7)):
        sigma = rng.uniform(0.01, 0.1, 20000)
        err = np.abs(rng.normal(0, 1, sigma.size) * sigma * scale)
        tables[label] = calibration_table(sigma, err)
        curves[label] = sparsification(sigma, err)
    fig = calibration_figure(tables, curves, "UP-GAN, PET→CT")
    assert len(fig.axes) == 2
    calibration, sparsified = fig.axes
    # one curve per table (its bins) plus the y = x guide; two curves per label on the right
    lines = {line.get_label(): line for line in calibration.get_lines()}
    assert set(lines) == {"phase 0", "final", "y = x"}
    for label, table in tables.items():
        np.testing.assert_allclose(lines[label].get_xdata(), table["mean_sigma"])
        np.testing.assert_allclose(lines[label].get_ydata(), table["mean_abs_error"])
    assert len(_lines_with_data(calibration)) == 3
    assert len(_lines_with_data(sparsified)) == 2 * len(curves)
    _save(fig, "eval_calibration.png", tmp_path)
    fig = calibration_figure(tables)
    assert len(fig.axes) == 1 and len(_lines_with_data(fig.axes[0])) == 3
    _save(fig, "eval_calibration_only.png", tmp_path)


def test_sweep_figure(tmp_path: Path) -> None:
    rows = []
    methods = ("pix2pix", "pan", "medgan", "upgan")
    for task in ("pet_to_ct", "mri_recon"):
        for n in (5, 10, 15, 20, 29):
            for k, method in enumerate(methods):
                q = (k + 1) / 4 * (1 - np.exp(-n / 8))
                rows.append({"task": task, "method": method, "n_train_patients": n, "n_subjects": 15,
                             "ssim_mean": 0.5 + 0.4 * q, "ssim_std": 0.03,
                             "psnr_mean": 15 + 12 * q, "psnr_std": 1.0,
                             "mae_mean": 150 - 110 * q, "mae_std": 10.0,
                             "bone_dice_mean": 0.4 + 0.5 * q if task == "pet_to_ct" else np.nan,
                             "bone_dice_std": 0.05 if task == "pet_to_ct" else np.nan,
                             "n_seeds": 3, "ssim_seed_std": 0.01 * (k + 1), "psnr_seed_std": 0.2 * (k + 1),
                             "mae_seed_std": 2.0 * (k + 1)})
    summary = pd.DataFrame(rows)
    fig = sweep_figure(summary, "weak supervision")
    assert "std over 3 training seeds" in fig.get_suptitle()
    assert len(fig.axes) == 6
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["PET→CT: SSIM", "PET→CT: PSNR", "PET→CT: MAE (HU)",
                      "MRI recon: SSIM", "MRI recon: PSNR", "MRI recon: MAE"]
    for ax, (task, metric) in zip(fig.axes, [(t, m) for t in ("pet_to_ct", "mri_recon")
                                             for m in ("ssim", "psnr", "mae")], strict=True):
        assert len(ax.containers) == len(methods)  # one error-bar line per method
        for container, method in zip(ax.containers, methods, strict=True):
            cell = summary[(summary.task == task) & (summary.method == method)]
            np.testing.assert_allclose(np.asarray(container.lines[0].get_ydata(), dtype=float),
                                       cell[f"{metric}_mean"].to_numpy())
            # the error bars span ± the seed spread, not the subjects' std
            segments = container.lines[2][0].get_segments()
            np.testing.assert_allclose([seg[1][1] - seg[0][1] for seg in segments],
                                       2 * cell[f"{metric}_seed_std"].to_numpy())
    _save(fig, "eval_sweep.png", tmp_path)


def _history(method: str, network: str, updates: int, selected: int, maes: list[float], task: str = "mri_recon"):
    steps = [round(i * updates / (len(maes) - 1)) for i in range(len(maes))]
    return pd.DataFrame({"task": task, "method": method, "n_train_patients": 4, "seed": 0, "network": network,
                         "updates": updates, "selected_step": selected, "step": steps, "val_mae": maes})


def test_budget_table_and_convergence_figure(tmp_path: Path) -> None:
    from upgan.reporting.convergence import BUDGET_COLUMNS, budget_table, convergence_figure

    histories = [
        _history("upgan", "fine_tune", 3, 3, [0.2, 0.15]),
        _history("upgan", "phase_1", 4, 2, [0.3, 0.2, 0.25]),
        _history("upgan", "phase_0", 4, 4, [0.5, 0.4, 0.3]),
        _history("medgan", "generator", 4, 2, [0.5, 0.2, 0.3]),
        _history("medgan", "feature_extractor", 2, 2, [0.1, 0.1]),
        _history("pix2pix", "generator", 4, 4, [0.5, 0.3, 0.25]),
    ]
    table = budget_table(histories)
    assert list(table.columns) == BUDGET_COLUMNS
    assert list(zip(table.method, table.network, strict=True)) == [
        ("medgan", "feature_extractor"), ("medgan", "generator"), ("pix2pix", "generator"),
        ("upgan", "phase_0"), ("upgan", "phase_1"), ("upgan", "fine_tune")]
    assert table.set_index(["method", "network"]).loc[("upgan", "phase_1"), "selected_step"] == 2
    with pytest.raises(ValueError, match="two budgets"):
        budget_table([*histories, _history("pix2pix", "generator", 5, 5, [0.5, 0.3])])
    with pytest.raises(ValueError, match="lacks"):
        budget_table([histories[0].drop(columns=["updates"])])
    assert list(budget_table([]).columns) == BUDGET_COLUMNS
    fig = convergence_figure(histories, input_mae=0.35, title="MRI recon")
    panels = [ax for ax in fig.axes if ax.axison]
    assert [ax.get_title() for ax in panels] == [method_labels()[m] for m in method_labels()
                                                 if m in {"upgan", "medgan", "pix2pix"}]
    history = pd.concat(histories, ignore_index=True)
    for ax, method in zip(panels, [m for m in method_labels() if m in set(history.method)], strict=True):
        # every stage's validation curve of the method, as recorded, and the input's level
        curves = {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}
        own = history[history.method == method]
        assert set(curves) == set(own.network) | {"input (do nothing)"}
        for network, part in own.groupby("network"):
            np.testing.assert_allclose(np.asarray(curves[network].get_ydata(), dtype=float),
                                       part.sort_values("step")["val_mae"].to_numpy())
        assert list(curves["input (do nothing)"].get_ydata()) == [0.35, 0.35]
    _save(fig, "eval_convergence.png", tmp_path)
