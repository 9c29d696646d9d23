"""Claims report (upgan.evaluation.claims) on constructed result tables. Which methods each claim
compares is expected from the method registry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from upgan.evaluation import (
    CLAIMS,
    CLAIMS_COLUMNS,
    Families,
    claim_statements,
    claim_verdicts,
    claims_markdown,
    claims_report,
    paired_tests,
    summarise,
)
from upgan.methods.registry import get, names, proposed

METRICS = ("ssim", "psnr", "mae")
TASKS = ("pet_to_ct", "mri_recon")  # the default tasks of make_per_subject


def _verdict(report: pd.DataFrame, claim: str) -> str:
    return claim_verdicts(report).set_index("claim").loc[claim, "verdict"]


def _clear_winner() -> dict[str, float]:
    """Quality of every baseline (0, 0.2, 0.4, ...), the proposed method (1.0) and every
    ablation (-0.5): the proposed method is clearly best."""
    return {**{b: 0.2 * k for k, b in enumerate(names(role="baseline"))}, proposed(): 1.0,
            **{a: -0.5 for a in names(role="ablation")}}


def test_c1_c2_c3_c4_hold_when_upgan_is_clearly_best(make_results, make_uncertainty) -> None:
    summary, sig, report = make_results(_clear_winner(), make_uncertainty())
    assert list(report.columns) == CLAIMS_COLUMNS
    c1 = report[report.claim == "C1"]
    assert len(c1) == len(TASKS) * len(names(role="baseline")) * len(METRICS)
    assert (c1.verdict == "better").all()
    assert c1.test.eq("paired_t_one_seed").all()  # one seed: the documented fallback
    assert _verdict(report, "C1") == "held"
    assert _verdict(report, "C2") == "held"
    assert _verdict(report, "C3") == "held"
    assert _verdict(report, "C4") == "held"
    assert _verdict(report, "C5") == "not testable"  # one patient count only


def test_c1_not_held_when_medgan_wins_one_task(make_per_subject) -> None:
    quality = {"pix2pix": 0.0, "pan": 0.2, "medgan": 0.4, "upgan": 1.0, "upgan_no_guidance": -0.5}
    per = make_per_subject(quality)
    recon = (per.task == "mri_recon") & (per.method == "medgan")
    per.loc[recon, "psnr"] += 5.0  # MedGAN now has the better PSNR on MRI recon
    summary, sig = summarise(per), paired_tests(per)
    report = claims_report(summary, sig, None)
    assert _verdict(report, "C1") == "not held: worse on 1"
    failed = report[(report.claim == "C1") & (report.verdict != "better")]
    assert failed[["task", "method_b", "metric", "verdict"]].values.tolist() == [
        ["mri_recon", "medgan", "psnr", "worse"]]
    row = failed.iloc[0]
    assert row.ci_low > 0 and row.estimate > 0  # MedGAN - UP-GAN, whole interval above 0
    assert _verdict(report, "C3") == "not testable" and _verdict(report, "C4") == "not testable"


def test_c1_not_held_when_better_mean_is_not_significant(make_results) -> None:
    quality = {"pix2pix": 0.0, "pan": 0.0, "medgan": 0.99, "upgan": 1.0}
    _, _, report = make_results(quality, n_subjects=6, seed=3)
    medgan = report[(report.claim == "C1") & (report.method_b == "medgan")]
    assert (medgan.verdict == "no difference shown").all()
    assert (medgan.p_value >= 0.05).all()
    assert _verdict(report, "C1") == "not held: no difference on 6"  # MedGAN x 3 metrics x 2 tasks
    assert _verdict(report, "C2") == "not testable"  # no ablation rows


def test_c3_c4_not_held(make_results, make_uncertainty) -> None:
    quality = {"medgan": 0.0, "upgan": 1.0}
    _, _, report = make_results(quality, make_uncertainty(mae=(0.05, 0.06, 0.03), rho=-0.1))
    assert _verdict(report, "C3") == "not held: worse on 1"
    c3 = report[report.claim == "C3"].set_index("metric")
    assert c3.loc["mean_abs_error 0->1", "verdict"] == "worse"
    assert c3.loc["mean_abs_error 1->2", "verdict"] == "better"
    assert (c3.loc[["mean_sigma 0->1", "mean_sigma 1->2"], "verdict"] == "better").all()
    assert _verdict(report, "C4") == "not held: worse on 4"  # phases 0, 1, 2 and final


def test_c3_c4_are_seed_aware_with_several_seeds(make_results, make_uncertainty) -> None:
    """Two or more seeds: the seed is the unit (paired t over seeds for C3, t-test of the seeds'
    mean ρ for C4), even when the subjects alone would be significant."""
    quality = {"medgan": 0.0, "upgan": 1.0}
    _, _, report = make_results(quality, make_uncertainty(seeds=(2021, 2022, 2023)))
    c3, c4 = report[report.claim == "C3"], report[report.claim == "C4"]
    assert c3.test.eq("seed_paired_t").all() and c4.test.eq("seed_welch").all()
    assert (c4.estimate > 0.3).all()


def _sweep(make_per_subject, quality, lead_by_n, ns=(5, 15, 29), seeds=(0, 1, 2), **kwargs):
    """Claims of a sweep with several seeds per cell (each seed its own draw)."""
    from upgan.evaluation import lead_model

    per = pd.concat([make_per_subject(quality, ns=ns, seed=s, lead_by_n=lead_by_n, **kwargs)
                     .assign(seed=2021 + s) for s in seeds], ignore_index=True)
    per["seed"] = per["seed"].astype("Int64")
    summary, sig = summarise(per), paired_tests(per)
    return summary, sig, claims_report(summary, sig, None, lead_model=lead_model(per))


def test_c5_with_several_patient_counts(make_per_subject) -> None:
    quality = {"pix2pix": 0.0, "pan": 0.1, "medgan": 0.2, "upgan": 1.0}
    # UP-GAN's lead shrinks with more patients: held
    _, _, widening = _sweep(make_per_subject, quality, lambda n: 3.0 - np.log(n))
    assert _verdict(widening, "C5") == "held"
    # lead grows with patients: not held
    _, _, shrinking = _sweep(make_per_subject, quality, lambda n: 0.5 + np.log(n))
    assert _verdict(shrinking, "C5").startswith("not held: worse on")
    c5 = widening[widening.claim == "C5"]
    assert list(dict.fromkeys(c5.method_b)) == names(role="baseline")
    assert (c5.method_a == proposed()).all() and c5.test.eq("seed_mean_interaction").all()
    assert (c5.p_holm >= c5.p_value).all() and (c5.p_holm < 0.05).all()
    assert (c5.ci_low > 0).all()  # the lead change per halving of n, whole interval above 0


def test_lead_model_against_statsmodels_mixedlm(make_per_subject) -> None:
    """C5's model on a balanced sweep (3 counts x 2 seeds): its interaction equals the fixed
    effect ``method x log(n)`` of statsmodels MixedLM with crossed subject and seed-in-cell
    random effects, expressed as the lead change per halving of n (MAE: lead = -difference)."""
    import warnings

    import statsmodels.formula.api as smf

    from upgan.evaluation import lead_model

    quality = {"pix2pix": 0.0, "upgan": 1.0}
    frames = [make_per_subject(quality, tasks=("pet_to_ct",), ns=(5, 15, 29), seed=s,
                               lead_by_n=lambda n: 2.0 - n / 29).assign(seed=2021 + s) for s in (0, 1)]
    per = pd.concat(frames, ignore_index=True)
    model = lead_model(per, reference="upgan", baselines=["pix2pix"])
    assert len(model) == 3 and (model.counts == "5,15,29").all() and (model.n_seeds == 2).all()
    row = model[model.metric == "mae"].iloc[0]
    frame = per.assign(log_n=np.log(per.n_train_patients.astype(float)), one=1,
                       cell=per.method + per.n_train_patients.astype(str) + "_" + per.seed.astype(str),
                       ref=(per.method == "upgan").astype(float))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = smf.mixedlm("mae ~ ref * log_n", frame, groups="one",
                          vc_formula={"subject": "0 + C(subject_id)", "cell": "0 + C(cell)"}).fit(reml=True)
    per_halving = -np.log(2.0) * -float(fit.params["ref:log_n"])
    assert row.estimate == pytest.approx(per_halving, rel=1e-5)
    assert row.estimate > 0  # the lead is planted wider at fewer patients
    means = per.groupby(["method", "n_train_patients"])["mae"].mean()
    assert row.lead_low == pytest.approx(-(means[("upgan", 5)] - means[("pix2pix", 5)]))
    assert (model.p_holm >= model.p_value).all() and model.p_holm.max() <= 1.0


def test_c5_needs_a_significant_change_of_the_lead(make_per_subject, make_results) -> None:
    """A lead that is wider at 5 patients by less than the noise shows no difference; without
    the lead model C5 is not testable rather than decided on means."""
    quality = {"pix2pix": 0.0, "pan": 0.1, "medgan": 0.2, "upgan": 1.0}
    summary, sig, tiny = _sweep(make_per_subject, quality, lambda n: 1.0 + 0.001 * (29 - n), ns=(5, 29),
                                n_subjects=8)
    c5 = tiny[tiny.claim == "C5"]
    assert (c5.value_a > c5.value_b).any()  # wider on the means somewhere ...
    assert (c5.verdict == "no difference shown").all()  # ... but never significantly
    assert (c5.p_holm >= 0.05).all()
    untested = claims_report(summary, sig, None)
    assert (untested[untested.claim == "C5"].verdict == "not testable").all()


# ---- the families come from the registry ------------------------------------------------------------
def test_c1_family_is_the_registry_baselines(make_results) -> None:
    """One row per task, registered baseline and metric, in the registry's order, whichever
    baselines have results; a baseline without results is not testable."""
    baselines = names(role="baseline")
    present = baselines[0]
    _, _, report = make_results({present: 0.0, proposed(): 1.0})
    c1 = report[report.claim == "C1"]
    for task in TASKS:
        rows = c1[c1.task == task]
        assert list(dict.fromkeys(rows.method_b)) == baselines
        assert rows.metric.tolist() == list(METRICS) * len(baselines)
    assert (c1.method_a == proposed()).all()
    assert (c1[c1.method_b == present].verdict == "better").all()
    absent = c1[c1.method_b != present]
    assert len(absent) == len(TASKS) * (len(baselines) - 1) * len(METRICS)
    assert (absent.verdict == "not testable").all()
    assert all(d == f"no {m} results" for m, d in zip(absent.method_b, absent.detail, strict=True))
    assert _verdict(report, "C1") == "held"  # nothing failed, one baseline tested


def test_c2_family_is_the_registry_ablations(make_results) -> None:
    _, _, report = make_results(_clear_winner())
    c2 = report[report.claim == "C2"]
    assert set(c2.method_b) == set(names(role="ablation"))
    assert len(c2) == len(TASKS) * len(names(role="ablation")) * len(METRICS)


def test_c6_rows_for_a_control_in_the_results(make_results) -> None:
    controls = names(role="control")
    assert controls, "claim C6 needs a method with the role 'control'"
    beaten = {**_clear_winner(), **{c: -1.0 for c in controls}}
    _, sig, report = make_results(beaten)
    c6 = report[report.claim == "C6"]
    assert len(c6) == len(TASKS) * len(controls) * len(METRICS)
    assert set(c6.method_b) == set(controls) and (c6.method_a == proposed()).all()
    assert (c6.verdict == "better").all() and _verdict(report, "C6") == "held"
    for row in c6.itertuples():  # the p-value is the seed-aware test's
        hit = sig[(sig.task == row.task) & (sig.method_a == proposed()) & (sig.method_b == row.method_b)
                  & (sig.metric == row.metric) & (sig.test == row.test)]
        assert row.p_value == pytest.approx(float(hit.p_value.iloc[0]))
        assert row.p_holm == pytest.approx(float(hit.p_holm.iloc[0]))
    # a control better than the proposed method: not held
    winning = {**_clear_winner(), **{c: 2.0 for c in controls}}
    _, _, report = make_results(winning)
    assert (report[report.claim == "C6"].verdict == "worse").all()
    assert _verdict(report, "C6") == f"not held: worse on {len(TASKS) * len(controls) * len(METRICS)}"


def test_c6_not_testable_without_control_results(make_results) -> None:
    controls = names(role="control")
    assert controls, "claim C6 needs a method with the role 'control'"
    _, _, report = make_results(_clear_winner())
    c6 = report[report.claim == "C6"]
    assert len(c6) == len(TASKS) * len(controls) * len(METRICS)
    assert (c6.verdict == "not testable").all()
    assert set(c6.detail) == {f"no {c} results" for c in controls}
    verdicts = claim_verdicts(report).set_index("claim")
    assert verdicts.loc["C6", "verdict"] == "not testable"
    assert verdicts.loc["C6", "n_not_testable"] == len(c6)
    assert verdicts.loc["C1", "verdict"] == "held"  # the others are unaffected


def test_families_can_be_given(make_results) -> None:
    """Explicit families replace the registry's: here pix2pix plays the control."""
    summary, sig, _ = make_results(_clear_winner())
    families = Families(proposed(), (), (), ("pix2pix",))
    report = claims_report(summary, sig, None, families=families)
    assert set(report.claim) == {"C3", "C4", "C5", "C6"}  # no baseline or ablation checks
    assert (report[report.claim != "C6"].verdict == "not testable").all()  # one count, no σ rows
    assert set(report[report.claim == "C6"].method_b) == {"pix2pix"}
    ref = get(proposed()).label
    statements = claim_statements(families)
    assert statements["C6"].startswith(f"{ref} beats the non-adversarial control ({get('pix2pix').label})")
    assert statements["C1"] == f"{ref} beats none registered on SSIM, PSNR and MAE in each task"


def test_statements_name_the_registered_methods() -> None:
    statements = claim_statements()
    assert list(statements) == list(CLAIMS)
    ref = get(proposed()).label
    c1, c6 = statements["C1"], statements["C6"]
    assert c1.startswith(f"{ref} beats ")
    assert all(get(b).label in c1 for b in names(role="baseline"))
    assert not any(get(c).label in c1 for c in names(role="control"))
    assert all(get(c).label in c6 for c in names(role="control"))
    assert "non-adversarial" in c6 and c6.endswith("on SSIM, PSNR and MAE in each task")
    if len(names(role="baseline")) == 3:  # the paper's wording
        labels = [get(b).label for b in names(role="baseline")]
        assert f"{labels[0]}, {labels[1]} and {labels[2]}" in c1


def test_claims_markdown_lists_c6_after_c2(make_results) -> None:
    _, _, report = make_results(_clear_winner())
    md = claims_markdown(report)
    heads = [line.split("**")[1] for line in md.splitlines() if line.startswith("- **")]
    assert heads == ["C0", "C1", "C2", "C6", "C4", "C3", "C5"]
    assert claims_markdown(report, claims=("C6",)).startswith("- **C6** (")


# ---- C0: every method against its input ------------------------------------------------------------
def _with_input(make_per_subject, quality, input_tasks=("mri_recon",), **kwargs) -> pd.DataFrame:
    """Per-subject metrics with the ``input`` reference kept for ``input_tasks`` only."""
    per = make_per_subject(quality, **kwargs)
    return per[(per.method != "input") | per.task.isin(input_tasks)].reset_index(drop=True)


def test_c0_every_trained_method_beats_input(make_per_subject) -> None:
    quality = {"pix2pix": 0.0, "pan": 0.2, "medgan": 0.4, "upgan": 1.0, "upgan_no_guidance": 0.5,
               "input": -2.0}
    per = _with_input(make_per_subject, quality)
    summary, sig = summarise(per), paired_tests(per)
    report = claims_report(summary, sig, None)
    c0 = report[report.claim == "C0"]
    trained = ["pix2pix", "pan", "medgan", "upgan", "upgan_no_guidance"]
    assert set(c0.task) == {"mri_recon"}  # pet_to_ct has no input rows: no C0 checks there
    assert sorted(zip(c0.method_a, c0.metric, strict=True)) == sorted(
        (m, metric) for m in trained for metric in METRICS)
    assert set(c0.method_b) == {"input"} and (c0.n_train_patients == 29).all()
    assert (c0.verdict == "better").all() and _verdict(report, "C0") == "held"
    assert (c0.p_value < 0.05).all()
    # the p-value of each check is the one paired_tests computed for its seed-aware row
    for row in c0.itertuples():
        hit = sig[(sig.task == row.task) & (sig.method_a == row.method_a) & (sig.method_b == "input")
                  & (sig.metric == row.metric) & (sig.test == row.test)]
        assert row.p_value == pytest.approx(float(hit.p_value.iloc[0]))


def test_c0_not_held_when_a_method_is_worse_than_its_input(make_per_subject) -> None:
    quality = {"pix2pix": -3.0, "medgan": 0.4, "upgan": 1.0, "input": -1.0}
    per = _with_input(make_per_subject, quality, input_tasks=("mri_recon", "pet_to_ct"))
    report = claims_report(summarise(per), paired_tests(per), None)
    c0 = report[report.claim == "C0"]
    assert set(c0.task) == {"mri_recon", "pet_to_ct"}
    assert _verdict(report, "C0") == "not held: worse on 6"
    failed = c0[c0.verdict != "better"]
    assert set(failed.method_a) == {"pix2pix"} and len(failed) == 2 * 3
    assert (c0[c0.method_a != "pix2pix"].verdict == "better").all()


def test_no_input_rows_no_c0(make_results) -> None:
    quality = {"medgan": 0.4, "upgan": 1.0}
    _, _, report = make_results(quality)
    assert (report.claim == "C0").sum() == 0
