"""Console output of a run: per-dataset INFO quiet by default, whole lines when not on a
terminal, the claims lines say which tables decided them, no loss shown before it exists."""

from __future__ import annotations

import io
import logging

import numpy as np
import pandas as pd
import pytest
import yaml
from rich.console import Console

from upgan.logs import plain_lines_off_terminal
from upgan.structure import PROJECT_ROOT


def test_per_dataset_info_is_quiet_by_default():
    config = yaml.safe_load((PROJECT_ROOT / "conf" / "logging.yml").read_text())
    assert config["loggers"]["kedro.io.data_catalog"]["level"] == "WARNING"
    assert config["loggers"]["kedro"]["level"] == "INFO"  # "Running node" lines stay


@pytest.mark.parametrize("terminal", [False, True])
def test_long_lines_are_whole_when_not_on_a_terminal(terminal):
    from kedro.logging import RichHandler

    stream = io.StringIO()
    logger = logging.getLogger(f"upgan.test_console.{terminal}")
    logger.propagate = False
    handler = RichHandler(console=Console(file=stream, force_terminal=terminal, width=80), rich_tracebacks=False)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    run_id = "7b6f88af28f44d70ab7be2d0d345f69a"
    message = f"Completed cell pet_to_ct.upgan.n04.s2021 in MLflow child run {run_id} of parent {run_id}"
    try:
        assert plain_lines_off_terminal(logger) == (0 if terminal else 1)
        logger.info(message)
    finally:
        for h in list(logger.handlers):
            logger.removeHandler(h)
    lines = stream.getvalue().splitlines()
    if terminal:  # Rich keeps its layout on a terminal (here 80 columns wide)
        assert len(lines) > 1  # wrapped (Rich's columns)
    else:
        assert len(lines) == 1 and lines[0].endswith(f"INFO upgan.test_console.False: {message}")


def _rows(method, seed, values):
    return [{"task": "mri_recon", "method": method, "n_train_patients": 4, "seed": seed, "subject_id": f"s{i}",
             "ssim": v, "psnr": 20.0 + 10 * v, "mae": 1.0 - v, "bone_dice": np.nan,
             "out_of_range_fraction": 0.0} for i, v in enumerate(values)]


def test_claims_line_says_pooled_over_how_many_seeds(caplog):
    from upgan.evaluation import claims_with_seed_agreement

    base = np.linspace(0.4, 0.6, 8)
    rows = [r for seed in (1, 2) for m, lead in (("pix2pix", 0.0), ("upgan", 0.05))
            for r in _rows(m, seed, list(base + lead + 0.001 * np.arange(8)))]
    frame = pd.DataFrame(rows)
    frame["seed"] = frame["seed"].astype("Int64")
    with caplog.at_level(logging.INFO, logger="upgan"):
        claims_with_seed_agreement(frame, None)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("claims")]
    # one line, the deciding one, labelled; the leave-one-seed-out reports behind seed_agreement
    # are intermediate and print nothing
    assert [line.split(":")[0] for line in lines] == ["claims (pooled over 2 seeds, these decide)"]


def test_progress_shows_no_loss_before_the_first_update(caplog):
    """The step-0 record (validation only, before any update) shows the validation metrics, not
    g_loss=nan; later records show the losses."""
    import torch

    from upgan.methods.single import train_single
    from upgan.training import SlicePairs, StageConfig

    x = torch.rand(8, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    pairs = SlicePairs(x, x.clone())
    stage = StageConfig(name="quiet", steps=2, batch_size=4, lr_generator=1e-3, lr_discriminator=1e-3,
                        device="cpu", val_every=1)
    with caplog.at_level(logging.INFO, logger="upgan"):
        train_single("pix2pix", {"ngf": 4, "ndf": 4, "n_layers_d": 1}, pairs, pairs, stage, None, progress=False)
    records = [r.getMessage() for r in caplog.records if r.getMessage().startswith("stage quiet step")]
    assert "nan" not in records[0] and "val_mae" in records[0] and "g_loss" not in records[0]
    assert "g_loss" in records[-1]
