"""Claims report and markdown tables on constructed result tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from upgan.evaluation import (
    CLAIMS_COLUMNS,
    claim_verdicts,
    claims_report,
    paired_tests,
    summarise,
)
from upgan.reporting.tables import sweep_tables_markdown, table1_markdown

METHODS = ("pix2pix", "pan", "medgan", "upgan", "upgan_no_guidance", "input")


def _per_subject(quality: dict[str, float], tasks=("pet_to_ct", "mri_recon"), ns=(29,),
                 n_subjects: int = 15, seed: int = 0, lead_by_n=None) -> pd.DataFrame:
    """Per-subject metrics where a higher ``quality`` gives higher SSIM/PSNR and lower MAE."""
    rng = np.random.default_rng(seed)
    rows = []
    for task in tasks:
        for n in ns:
            subject_effect = rng.normal(0, 1, n_subjects)
            for method in METHODS:
                if method not in quality:
                    continue
                q = quality[method] * (lead_by_n(n) if lead_by_n and method == "upgan" else 1.0)
                for i in range(n_subjects):
                    e = subject_effect[i] + rng.normal(0, 0.1)
                    rows.append({"task": task, "method": method, "n_train_patients": n,
                                 "subject_id": f"{task}_{i:02d}",
                                 "ssim": 0.80 + 0.05 * q + 0.02 * e,
                                 "psnr": 25.0 + 2.0 * q + 1.0 * e,
                                 "mae": 40.0 - 5.0 * q + 3.0 * e,
                                 "bone_dice": 0.5 + 0.1 * q if task == "pet_to_ct" else np.nan,
                                 "out_of_range_fraction": 0.0})
    return pd.DataFrame(rows)


def _uncertainty(mae=(0.05, 0.04, 0.03), sigma=(0.06, 0.05, 0.04), rho=0.4) -> pd.DataFrame:
    labels = [str(i) for i in range(len(mae))] + ["final"]
    return pd.DataFrame({"task": "pet_to_ct", "method": "upgan", "n_train_patients": 29,
                         "phase": labels, "mean_abs_error": [*mae, mae[-1]],
                         "mean_sigma": [*sigma, sigma[-1]],
                         "spearman_sigma_abs_error": rho})


def _report(quality, unc=None, **kwargs):
    per = _per_subject(quality, **kwargs)
    summary, sig = summarise(per), paired_tests(per)
    return summary, sig, claims_report(summary, sig, unc)


def _verdict(report: pd.DataFrame, claim: str) -> str:
    return claim_verdicts(report).set_index("claim").loc[claim, "verdict"]


def test_c1_c2_c3_c4_hold_when_upgan_is_clearly_best() -> None:
    quality = {"pix2pix": 0.0, "pan": 0.2, "medgan": 0.4, "upgan": 1.0, "upgan_no_guidance": -0.5}
    summary, sig, report = _report(quality, _uncertainty())
    assert list(report.columns) == CLAIMS_COLUMNS
    c1 = report[report.claim == "C1"]
    assert len(c1) == 2 * 3 * 3 and (c1.verdict == "held").all()
    assert _verdict(report, "C1") == "held"
    assert _verdict(report, "C2") == "held"
    assert _verdict(report, "C3") == "held"
    assert _verdict(report, "C4") == "held"
    assert _verdict(report, "C5") == "not testable"  # one patient count only


def test_c1_not_held_when_medgan_wins_one_task() -> None:
    quality = {"pix2pix": 0.0, "pan": 0.2, "medgan": 0.4, "upgan": 1.0, "upgan_no_guidance": -0.5}
    per = _per_subject(quality)
    recon = (per.task == "mri_recon") & (per.method == "medgan")
    per.loc[recon, "psnr"] += 5.0  # MedGAN now has the better PSNR on MRI recon
    summary, sig = summarise(per), paired_tests(per)
    report = claims_report(summary, sig, None)
    assert _verdict(report, "C1") == "not held"
    failed = report[(report.claim == "C1") & (report.verdict == "not held")]
    assert failed[["task", "method_b", "metric"]].values.tolist() == [["mri_recon", "medgan", "psnr"]]
    assert _verdict(report, "C3") == "not testable" and _verdict(report, "C4") == "not testable"


def test_c1_not_held_when_better_mean_is_not_significant() -> None:
    quality = {"pix2pix": 0.0, "pan": 0.0, "medgan": 0.99, "upgan": 1.0}
    _, _, report = _report(quality, n_subjects=6, seed=3)
    medgan = report[(report.claim == "C1") & (report.method_b == "medgan")]
    assert (medgan.verdict == "not held").all()
    assert (medgan.p_value >= 0.05).all()
    assert _verdict(report, "C2") == "not testable"  # no ablation rows


def test_c3_c4_not_held() -> None:
    quality = {"medgan": 0.0, "upgan": 1.0}
    _, _, report = _report(quality, _uncertainty(mae=(0.05, 0.06, 0.03), rho=-0.1))
    assert _verdict(report, "C3") == "not held"
    c3 = report[report.claim == "C3"].set_index("metric")
    assert c3.loc["mean_abs_error", "verdict"] == "not held"
    assert c3.loc["mean_sigma", "verdict"] == "held"
    assert _verdict(report, "C4") == "not held"


def test_c5_with_several_patient_counts() -> None:
    quality = {"pix2pix": 0.0, "pan": 0.1, "medgan": 0.2, "upgan": 1.0}
    # UP-GAN's lead shrinks with more patients: held
    _, _, widening = _report(quality, ns=(5, 15, 29), lead_by_n=lambda n: 3.0 - n / 15)
    assert _verdict(widening, "C5") == "held"
    # lead grows with patients: not held
    _, _, shrinking = _report(quality, ns=(5, 15, 29), lead_by_n=lambda n: 0.5 + n / 15)
    assert _verdict(shrinking, "C5") == "not held"


def test_table1_markdown_layout() -> None:
    quality = {"pix2pix": 0.0, "pan": 0.2, "medgan": 0.4, "upgan": 1.0, "upgan_no_guidance": -0.5}
    summary, sig, report = _report(quality, _uncertainty(), tasks=("mri_motion", "pet_to_ct"))
    md = table1_markdown(summary, sig, report)
    header = next(line for line in md.splitlines() if line.startswith("| method |"))
    assert "PET→CT SSIM" in header and header.index("PET→CT") < header.index("MRI motion")
    assert "MRI recon" not in header  # absent task skipped
    body = md.split("## Paired tests")[0]
    order = [body.index(f"| {label} |") for label in
             ("pix2pix", "PAN", "MedGAN", "UP-GAN", "UP-GAN, no uncertainty guidance")]
    assert order == sorted(order)
    assert "±" in body and "HU" in md
    assert "| UP-GAN vs |" in md and "## The paper's Table 1" in md
    assert "0.95±0.05 / 28.9±0.4 / 24.7±12.9" in md
    claims_part = md.split("## Claims")[1]
    assert all(c in claims_part for c in ("C1", "C2", "C3", "C4")) and "held" in claims_part
    # missing methods and significance are handled
    partial = table1_markdown(summary[summary.method.isin(["upgan", "medgan"])], sig.iloc[0:0], None)
    assert "PAN" not in partial.split("## Paired tests")[0]
    assert "No paired tests available" in partial


def test_sweep_tables_markdown() -> None:
    quality = {"medgan": 0.2, "upgan": 1.0}
    summary, _, _ = _report(quality, tasks=("pet_to_ct",), ns=(5, 10, 29))
    md = sweep_tables_markdown(summary)
    heads = [line for line in md.splitlines() if line.startswith("## ")]
    assert heads == ["## 29 training patients", "## 10 training patients", "## 5 training patients"]
    with pytest.raises(ValueError, match="lacks"):
        sweep_tables_markdown(summary.drop(columns=["mae_std"]))


def test_training_setup_names_the_extractor_and_the_budget() -> None:
    """The set-up section states the shared budget, one row per cell in the paper's order, and
    which frozen feature extractor each MedGAN cell used (from its bundle)."""
    from upgan.reporting.tables import training_setup_markdown

    fe = {"steps": 200}
    medgan = {"task": "pet_to_ct", "method": "medgan", "n_train_patients": 29, "network": {
        "params": {"n_blocks": 6, "generator_steps_per_iteration": 3, "feature_extractor": fe},
        "feature_extractor_source": "pretrained_autoencoder", "feature_extractor_sha256": "ab" * 32,
        "feature_extractor_final_l1": 0.0283}}
    vgg = {**medgan, "task": "mri_recon", "network": {**medgan["network"],
           "feature_extractor_source": "/weights/vgg19.pth", "feature_extractor_sha256": "cd" * 32}}
    pan = {"task": "pet_to_ct", "method": "pan", "n_train_patients": 29, "network": {"params": {
        "layer_weights": [5, 1.5, 1.5, 1], "margin": 3, "lambda_pixel": 0}}}
    upgan = {"task": "pet_to_ct", "method": "upgan_no_guidance", "n_train_patients": 29, "cascade": {
        "n_phases": 3, "guidance": False, "unet": {"base_width": 16, "depth": 3, "block": "plain"}}}
    md = training_setup_markdown([vgg, upgan, medgan, pan], steps=600, fine_tune_steps=200,
                                 batch_size=8, val_every=100, recipe="official")
    assert "makes 600 updates on batches of 8 slices" in md
    assert "fine-tuning adds 200" in md and "recipe: official" in md
    assert "validated every 100 updates" in md and "lowest validation MAE" in md
    rows = [line for line in md.splitlines() if line.startswith("| PET") or line.startswith("| MRI")]
    assert [r.split(" | ")[1] for r in rows] == ["PAN", "MedGAN", "UP-GAN, no uncertainty guidance",
                                                 "MedGAN"]
    assert "pretrained in the pipeline as an L1 autoencoder" in rows[1] and "0.0283" in rows[1]
    assert "(200 updates, final L1 0.0283)" in rows[1]
    assert "sha256 abababababab" in rows[1] and "6 u-blocks" in rows[1]
    assert "/weights/vgg19.pth" in rows[3] and rows[3].startswith("| MRI recon")
    assert "λ = (5, 1.5, 1.5, 1)" in rows[0] and "m = 3" in rows[0]
    assert "without uncertainty guidance" in rows[2]
    full = training_setup_markdown([upgan], 4, 3, 8, None, "paper")
    assert "makes 4 updates" in full and "adds 3" in full and "validated at the end" in full


def _with_input(quality, input_tasks=("mri_recon",), **kwargs) -> pd.DataFrame:
    """Per-subject metrics with the ``input`` reference kept for ``input_tasks`` only."""
    per = _per_subject(quality, **kwargs)
    return per[(per.method != "input") | per.task.isin(input_tasks)].reset_index(drop=True)


def test_c0_every_trained_method_beats_input() -> None:
    quality = {"pix2pix": 0.0, "pan": 0.2, "medgan": 0.4, "upgan": 1.0, "upgan_no_guidance": 0.5,
               "input": -2.0}
    per = _with_input(quality)
    summary, sig = summarise(per), paired_tests(per)
    report = claims_report(summary, sig, None)
    c0 = report[report.claim == "C0"]
    trained = ["pix2pix", "pan", "medgan", "upgan", "upgan_no_guidance"]
    assert set(c0.task) == {"mri_recon"}  # pet_to_ct has no input rows: no C0 checks there
    assert sorted(zip(c0.method_a, c0.metric, strict=True)) == sorted(
        (m, metric) for m in trained for metric in ("ssim", "psnr", "mae"))
    assert set(c0.method_b) == {"input"} and (c0.n_train_patients == 29).all()
    assert (c0.verdict == "held").all() and _verdict(report, "C0") == "held"
    assert (c0.p_value < 0.05).all()
    # the Wilcoxon p-value of each check is the one paired_tests computed
    for row in c0.itertuples():
        hit = sig[(sig.task == row.task) & (sig.method_a == row.method_a) & (sig.method_b == "input")
                  & (sig.metric == row.metric) & (sig.test == "wilcoxon")]
        assert row.p_value == pytest.approx(float(hit.p_value.iloc[0]))
    md = table1_markdown(summary, sig, report)
    assert "beat doing nothing" in md and "input (do nothing)" in md


def test_c0_not_held_when_a_method_is_worse_than_its_input() -> None:
    quality = {"pix2pix": -3.0, "medgan": 0.4, "upgan": 1.0, "input": -1.0}
    per = _with_input(quality, input_tasks=("mri_recon", "pet_to_ct"))
    report = claims_report(summarise(per), paired_tests(per), None)
    c0 = report[report.claim == "C0"]
    assert set(c0.task) == {"mri_recon", "pet_to_ct"}
    assert _verdict(report, "C0") == "not held"
    failed = c0[c0.verdict != "held"]
    assert set(failed.method_a) == {"pix2pix"} and len(failed) == 2 * 3
    assert (c0[c0.method_a != "pix2pix"].verdict == "held").all()


def test_no_input_rows_no_c0() -> None:
    quality = {"medgan": 0.4, "upgan": 1.0}
    _, _, report = _report(quality)
    assert (report.claim == "C0").sum() == 0
