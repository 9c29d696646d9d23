"""Markdown tables of the results (upgan.reporting.tables) and the training set-up section
(upgan.reporting.setup) on constructed result tables."""

from __future__ import annotations

import pandas as pd
import pytest

from upgan.methods.registry import get, labels, names, proposed
from upgan.reporting.formatting import method_labels
from upgan.reporting.setup import training_setup_markdown
from upgan.reporting.tables import (
    paper_table1,
    sweep_tables_markdown,
    table1_markdown,
)
from upgan.tasks import TASKS, get_task

QUALITY = {"pix2pix": 0.0, "pan": 0.2, "medgan": 0.4, "upgan": 1.0, "upgan_no_guidance": -0.5}


def _row(md: str, label: str) -> list[str]:
    """The cells of the first table row of ``label``."""
    line = next(line for line in md.splitlines() if line.startswith(f"| {label} |"))
    return [cell.strip().strip("*") for cell in line.strip("|").split("|")][1:]


def test_table1_markdown_layout(make_results, make_uncertainty) -> None:
    summary, sig, report = make_results(QUALITY, make_uncertainty(), tasks=("mri_motion", "pet_to_ct"))
    unc = make_uncertainty()
    md = table1_markdown(summary, sig, report, uncertainty=unc)
    header = next(line for line in md.splitlines() if line.startswith("| method |"))
    assert "PET→CT SSIM" in header and header.index("PET→CT") < header.index("MRI motion")
    assert "MRI recon" not in header  # absent task skipped
    body = md.split("## Seed-aware tests")[0]
    expected = [label for name, label in labels().items() if name in QUALITY]  # registry order
    order = [body.index(f"| {label} |") for label in expected]
    assert order == sorted(order)
    ref = get(proposed()).label
    assert f"| {ref} vs |" in md and "## The paper's Table 1" in md
    # the uncertainty quality: per phase the means over subjects and seeds of each measure
    section = md.split("## Uncertainty quality")[1].split("\n## ")[0]
    line = next(x for x in section.splitlines() if x.startswith(f"| {ref} | 1 |"))
    expected = unc[unc.phase == "1"]["mean_abs_error"].mean()
    assert line.split(" | ")[2] == f"{expected:.4g}"
    assert "0.95±0.05 / 28.9±0.4 / 24.7±12.9" in md
    claims_part = md.split("## Claims")[1]
    assert all(f"| {c} |" in claims_part for c in ("C0", "C1", "C2", "C3", "C4", "C5", "C6"))
    assert "held" in claims_part
    # missing methods and significance are handled
    partial = table1_markdown(summary[summary.method.isin(["upgan", "medgan"])], sig.iloc[0:0], None)
    assert "PAN" not in partial.split("## Seed-aware tests")[0]
    assert "No paired tests available" in partial


def test_table1_cells_are_the_summary_with_each_tasks_mae_unit(make_results) -> None:
    """Every cell of the UP-GAN row is mean ± std of the summary: SSIM to 3 decimals, PSNR to 2,
    MAE to 1 on PET→CT (HU) and to 4 on MRI (normalised scale); the units line says which."""
    summary, sig, report = make_results(QUALITY, tasks=("mri_motion", "pet_to_ct"))
    md = table1_markdown(summary, sig, report)
    cells = _row(md, get(proposed()).label)
    decimals = {("pet_to_ct", "ssim"): 3, ("pet_to_ct", "psnr"): 2, ("pet_to_ct", "mae"): 1,
                ("mri_motion", "ssim"): 3, ("mri_motion", "psnr"): 2, ("mri_motion", "mae"): 4}
    columns = [(t, m) for t in ("pet_to_ct", "mri_motion") for m in ("ssim", "psnr", "mae")]
    assert len(cells) == len(columns)
    for (task, metric), cell in zip(columns, cells, strict=True):
        row = summary[(summary.task == task) & (summary.method == proposed())].iloc[0]
        d = decimals[(task, metric)]
        assert cell == f"{row[f'{metric}_mean']:.{d}f} ± {row[f'{metric}_std']:.{d}f}", (task, metric)
    units = next(line for line in md.splitlines() if line.startswith("Units:"))
    assert "MAE of PET→CT in HU" in units and "MAE of MRI motion on the normalised scale" in units
    assert "MRI recon" not in units  # only the tasks of the table
    # the best mean of a column is bold: UP-GAN is best everywhere here
    line = next(line for line in md.splitlines() if line.startswith(f"| {get(proposed()).label} |"))
    assert line.count("**") == 2 * len(columns)


def test_bone_dice_section_only_for_tasks_scored_in_hu(make_results) -> None:
    summary, sig, report = make_results(QUALITY, tasks=("mri_motion", "pet_to_ct"))
    md = table1_markdown(summary, sig, report)
    heads = [line for line in md.splitlines() if line.startswith("## ") and "bone Dice" in line]
    assert heads == [f"## {get_task(t).label} bone Dice (CT ≥ 300 HU inside the head; what "
                     "attenuation correction needs)" for t in TASKS if get_task(t).scores_in_hu]
    section = md.split(heads[0])[1].split("## ")[0]
    row = summary[(summary.task == "pet_to_ct") & (summary.method == proposed())].iloc[0]
    assert f"| {get(proposed()).label} | {row.bone_dice_mean:.3f} ± {row.bone_dice_std:.3f} |" in section
    mri_only = table1_markdown(summary[summary.task == "mri_motion"], sig, None)
    assert "bone Dice" not in mri_only


def test_paper_table_comes_from_the_task_specs(make_results) -> None:
    """Every method with a paper number has a row, its entries are the specs'; a registered method
    the paper did not run (the control) has none in the paper table but is in ours."""
    paper = paper_table1()
    for task, spec in TASKS.items():
        for method, entry in spec.paper_table1.items():
            assert paper[method][task] == entry
    controls = names(role="control")
    assert controls and not any(c in paper for c in controls)
    quality = {**QUALITY, **{c: 0.1 for c in controls}}
    summary, sig, report = make_results(quality)
    md = table1_markdown(summary, sig, report)
    ours, theirs = md.split("## The paper's Table 1")[0], md.split("## The paper's Table 1")[1]
    theirs = theirs.split("## Claims")[0]
    for control in controls:
        assert f"| {get(control).label} |" in ours
        assert f"| {get(control).label} |" not in theirs
    paper_rows = [line for line in theirs.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert [line.split(" | ")[0][2:] for line in paper_rows] == [method_labels()[m] for m in paper]
    # the paper's own exception to its claim, found in its numbers
    assert theirs.count("the paper's own") == 1
    assert "On MRI recon the paper's own PSNR of MedGAN (29.7) exceeds UP-GAN's (29.4)." in theirs
    assert "p = 0.016 (PET→CT)" in theirs


def test_sweep_tables_markdown(make_results) -> None:
    quality = {"medgan": 0.2, "upgan": 1.0}
    summary, _, _ = make_results(quality, tasks=("pet_to_ct",), ns=(5, 10, 29))
    md = sweep_tables_markdown(summary)
    heads = [line for line in md.splitlines() if line.startswith("## ")]
    assert heads == ["## 29 training patients", "## 10 training patients", "## 5 training patients"]
    units = next(line for line in md.splitlines() if line.startswith("Units:"))
    assert "MAE of PET→CT in HU" in units and "normalised scale" not in units
    with pytest.raises(ValueError, match="lacks"):
        sweep_tables_markdown(summary.drop(columns=["mae_std"]))


def test_sweep_tables_state_seeds_spread_and_claims(make_per_subject, make_uncertainty) -> None:
    """With two seeds the sweep's tables state them and the budget, give the spread over seeds
    at every count (computed here by hand) and list C5 first with its seed agreement."""
    from upgan.evaluation import claims_with_seed_agreement

    quality = {"pix2pix": 0.2, "upgan": 1.0}
    frames = []
    for seed, rng_seed in ((2021, 1), (2022, 2)):
        frame = make_per_subject(quality, tasks=("pet_to_ct",), ns=(5, 15, 29), seed=rng_seed)
        frames.append(frame.assign(seed=pd.array([seed] * len(frame), dtype="Int64")))
    per = pd.concat(frames, ignore_index=True)
    summary, _, claims = claims_with_seed_agreement(per, make_uncertainty())
    budget = pd.DataFrame({"task": "pet_to_ct", "method": "pix2pix", "n_train_patients": [5, 29],
                           "seed": 2021, "network": "generator", "updates": 800, "selected_step": 700})
    md = sweep_tables_markdown(summary, claims, budget)
    assert "trained with 2 seeds (2021)" in md and "generator 800" in md
    per_seed = per.groupby(["n_train_patients", "method", "seed"])["mae"].mean()
    for n in (5, 29):
        expected = float(per_seed.loc[(n, "pix2pix")].std(ddof=1))
        section = md.split(f"## {n} training patients")[1].split("## ")[0]
        assert f"Spread over training seeds at {n} patients" in section
        row = next(line for line in section.splitlines()
                   if line.startswith("| pix2pix |") and section.index(line) > section.index("Spread"))
        assert row.split(" | ")[3].strip(" |") == f"{expected:.1f}"
    rows = [line for line in md.split("## Claims")[1].splitlines() if line.startswith("| C")]
    assert [r.split(" | ")[0] for r in rows] == ["| C5", "| C1", "| C2", "| C6"]
    c5 = claims[claims["claim"] == "C5"]["seed_agreement"]
    assert rows[0].rstrip(" |").endswith(f"{c5.mean():.2f}, {c5.min():.2f}")


def test_input_reference_rows(make_per_subject) -> None:
    from upgan.evaluation import claims_report, paired_tests, summarise

    per = make_per_subject({**QUALITY, "input": -2.0}, tasks=("mri_recon",))
    summary, sig = summarise(per), paired_tests(per)
    md = table1_markdown(summary, sig, claims_report(summary, sig, None))
    assert "beat doing nothing" in md and "| input (do nothing) |" in md


def test_training_setup_names_the_extractor_and_the_budget() -> None:
    """The set-up section states the shared budget, one row per cell in the paper's order, and
    which frozen feature extractor each MedGAN cell used (from its bundle)."""
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


def test_training_setup_line_comes_from_the_methods_own_module() -> None:
    control = names(role="control")[0]
    network = {"params": {"generator": {"base_width": 4, "depth": 2, "block": "plain"}}}
    md = training_setup_markdown([{"task": "mri_recon", "method": control, "n_train_patients": 4,
                                   "network": network}], 4, 3, 8, None, "paper")
    row = next(line for line in md.splitlines() if line.startswith("| MRI recon"))
    assert row == f"| MRI recon (n = 4) | {get(control).label} | {get(control).single.describe_setup(network)} |"
    assert "base width 4, depth 2" in row


def test_claims_section_shows_each_claims_seed_agreement(make_results) -> None:
    summary, sig, report = make_results(QUALITY, tasks=("pet_to_ct",))
    report = report.copy()
    c1 = report["claim"] == "C1"
    report.loc[c1, "seed_agreement"] = [1.0, 2 / 3] + [1.0] * (int(c1.sum()) - 2)
    md = table1_markdown(summary, sig, report)
    row = next(line for line in md.splitlines() if line.startswith("| C1 |"))
    mean = report.loc[c1, "seed_agreement"].mean()
    assert row.endswith(f"| {mean:.2f}, 0.67 |")
    assert "seed-aware test" in md and "leave-one-seed-out" in md
    assert next(line for line in md.splitlines() if line.startswith("| C5 |")).endswith("| – |")
