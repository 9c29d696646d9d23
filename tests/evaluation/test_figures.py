"""Evaluation figures render to non-empty PNGs (in the test's tmp_path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from upgan.evaluation import calibration_table, sparsification
from upgan.reporting.evaluation_figures import calibration_figure, methods_figure, sweep_figure


def _save(fig, name: str, tmp_path: Path) -> Path:
    import matplotlib.pyplot as plt

    path = tmp_path / name
    fig.savefig(path, dpi=80)
    plt.close(fig)
    assert path.stat().st_size > 5_000
    return path


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
    titles = [ax.get_title() for ax in fig.axes[:5]]
    assert titles == ["input", "pix2pix", "PAN", "MedGAN", "UP-GAN"]
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
    _save(fig, "eval_calibration.png", tmp_path)
    fig = calibration_figure(tables)
    assert len(fig.axes) == 1
    _save(fig, "eval_calibration_only.png", tmp_path)


def test_sweep_figure(tmp_path: Path) -> None:
    rows = []
    for task in ("pet_to_ct", "mri_recon"):
        for n in (5, 10, 15, 20, 29):
            for k, method in enumerate(("pix2pix", "pan", "medgan", "upgan")):
                q = (k + 1) / 4 * (1 - np.exp(-n / 8))
                rows.append({"task": task, "method": method, "n_train_patients": n, "n_subjects": 15,
                             "ssim_mean": 0.5 + 0.4 * q, "ssim_std": 0.03,
                             "psnr_mean": 15 + 12 * q, "psnr_std": 1.0,
                             "mae_mean": 150 - 110 * q, "mae_std": 10.0,
                             "bone_dice_mean": 0.4 + 0.5 * q if task == "pet_to_ct" else np.nan,
                             "bone_dice_std": 0.05 if task == "pet_to_ct" else np.nan})
    fig = sweep_figure(pd.DataFrame(rows), "weak supervision")
    assert len(fig.axes) == 6
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
    assert len([ax for ax in fig.axes if ax.axison]) == 3  # one panel per method
    _save(fig, "eval_convergence.png", tmp_path)
