"""Figures say what they show: colour bars on the phase figure's maps, CT residuals in HU (as
the tables), convergence legends off the curves, the seed of a calibration figure."""

import numpy as np
import pandas as pd
import pytest

from upgan.reporting.convergence import convergence_figure
from upgan.reporting.evaluation_figures import methods_figure
from upgan.reporting.figures import phase_figure


def _phase(rng, shape=(16, 16)):
    return {k: rng.random(shape) for k in ("image", "alpha", "beta", "sigma")}


def test_phase_figure_has_a_colour_bar_on_each_map(rng):
    source, target = rng.random((16, 16)), rng.random((16, 16))
    fig = phase_figure(source, target, [_phase(rng), _phase(rng)], ["phase 0", "phase 1"])
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(bars) == 2 * 4  # |residual|, α, β, σ of each phase
    limits = {round(b.get_ylim()[1], 6) for b in bars}
    assert len(limits) == 4  # one scale per column, shared by the phases


def test_ct_residuals_are_in_hu_like_the_tables(rng):
    target = rng.random((16, 16))
    prediction = np.clip(target + 0.01, 0, 1)
    fig = methods_figure(target, target, {"upgan": prediction}, residual_scale=4095.0, residual_unit="HU")
    titles = [ax.get_title() for ax in fig.axes]
    mae_hu = float(np.abs(prediction - target).mean() * 4095.0)
    assert f"residual (MAE {mae_hu:.4g} HU)" in titles
    bar = next(ax for ax in fig.axes if ax.get_label() == "<colorbar>")
    assert bar.get_ylabel() == "prediction − target (HU)"
    assert bar.get_ylim()[1] > 10  # the residual scale is in HU, not the normalised one


def test_convergence_legends_do_not_cover_the_curves():
    rows = []
    for network, steps in (("phase_0", 4), ("phase_1", 4), ("fine_tune", 3)):
        for step in range(0, steps + 1):
            rows.append({"task": "pet_to_ct", "method": "upgan", "n_train_patients": 4, "seed": 1,
                         "network": network, "updates": steps, "selected_step": steps, "step": step,
                         "val_mae": 0.3 - 0.01 * step})
    fig = convergence_figure([pd.DataFrame(rows)], input_mae=0.4)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    ax = fig.axes[0]
    legend = ax.get_legend().get_window_extent(renderer)
    panel = ax.get_window_extent(renderer)
    assert legend.y1 <= panel.y0  # below the panel, not over its right end (the fine-tuning)


def test_calibration_figure_names_its_seed():
    from upgan.pipelines.reporting.nodes import plot_calibration

    table = pd.DataFrame({"kind": ["calibration"] * 3 + ["sparsification"] * 3,
                          "mean_sigma": [0.1, 0.2, 0.3, np.nan, np.nan, np.nan],
                          "mean_abs_error": [0.1, 0.2, 0.3, np.nan, np.nan, np.nan],
                          "fraction_removed": [np.nan] * 3 + [0.0, 0.5, 0.9],
                          "mae_by_sigma": [np.nan] * 3 + [0.2, 0.15, 0.1],
                          "mae_oracle": [np.nan] * 3 + [0.2, 0.1, 0.05]})
    fig = plot_calibration("pet_to_ct", [("upgan", 4, 2022)], table)
    assert "seed 2022" in fig._suptitle.get_text()


def test_variants_figure_shows_every_seed_and_the_skull_threshold():
    from upgan.evaluation.variants import SKULL_LOST_DICE
    from upgan.reporting.variants_figure import variants_figure

    rows = []
    for method, role, mae, dice in (("unet_l1", "control", 60.0, 0.77), ("upgan", "proposed", 68.0, 0.72),
                                    ("upgan_no_guidance", "ablation", 66.0, 0.73),
                                    ("upgan_p0_paper", "variant", 85.0, 0.5)):
        for seed in (1, 2, 3):
            lost = method == "upgan_p0_paper" and seed == 2
            rows.append({"task": "pet_to_ct", "method": method, "role": role, "seed": seed, "mae": mae + seed,
                         "bone_dice": 0.0 if lost else dice,
                         "ause": np.nan if role == "control" else 0.01 * seed})
    fig = variants_figure(pd.DataFrame(rows), "pet_to_ct", "HU")
    left, right = fig.axes[:2]
    assert left.get_xlabel().startswith("test MAE [HU]")
    # the control has no σ: a vertical line at its mean MAE, not a point
    verticals = [line for line in left.get_lines() if len(set(line.get_xdata())) == 1 and line.get_linestyle() == "--"]
    assert [float(line.get_xdata()[0]) for line in verticals] == [pytest.approx(62.0)]
    seeds_drawn = sum(len(c.get_offsets()) for c in right.collections)
    assert seeds_drawn == len(rows)  # one dot per method and seed
    assert any(float(line.get_ydata()[0]) == SKULL_LOST_DICE for line in right.get_lines())
    assert "2" in [t.get_text() for t in right.texts]  # the seed that lost the skull is named
    with pytest.raises(ValueError, match="mri_recon"):
        variants_figure(pd.DataFrame(rows), "mri_recon")
