"""The mechanism study's methods end to end on the test env: every UP-GAN variant and the
phase-0 loss breakdown train, are evaluated and reported as cells of their own, and leave the
claim families as they are."""

from __future__ import annotations

import pandas as pd
import pytest

from upgan.io.bundle import load_bundle
from upgan.methods import get, names

TASK = "mri_recon"  # residual learning on: the residual target matters
METHODS = ["unet_l1", "upgan", "upgan_no_guidance", *names(role="variant")]


@pytest.fixture(scope="module")
def study(kedro_project, tmp_path_factory):
    root = tmp_path_factory.mktemp("variants")
    data_root, _ = kedro_project(runtime_params={"data_root": str(root), "tasks": [TASK], "seeds": [2021],
                                                 "methods": METHODS})
    return data_root


def _cell(root, method):
    return root / "06_models" / TASK / method / "n04" / "s2021"


def test_every_variant_is_a_cell_of_table1(study):
    metrics = pd.read_csv(study / "08_reporting" / "metrics_per_subject.csv")
    assert set(metrics.method) == {*METHODS, "input"}
    assert (metrics[metrics.method != "input"].groupby("method").size() == 3).all()  # 3 test subjects
    table = (study / "08_reporting" / "table1.md").read_text()
    assert all(get(m).label in table for m in METHODS)
    uncertainty = pd.read_csv(study / "08_reporting" / "uncertainty.csv")
    assert set(uncertainty.method) == {m for m in METHODS if get(m).kind == "cascade"}


def test_every_variant_is_compared_with_the_ablation_and_the_control(study):
    """variants.csv: UP-GAN and every variant (the ablation and the control are comparators, not
    compared) against both, on every metric; one seed: the subject-paired one-seed test."""
    from upgan.evaluation.retraining import ONE_SEED

    tests = pd.read_csv(study / "08_reporting" / "variants.csv")
    compared = {m for m in METHODS if get(m).role in ("proposed", "variant")}
    assert set(tests.method) == compared
    assert set(map(tuple, tests[["method", "versus"]].drop_duplicates().to_numpy())) == {
        (m, v) for m in compared for v in ("upgan_no_guidance", "unet_l1")}
    assert set(tests.metric) == {"ssim", "psnr", "mae"} and set(tests.test) == {ONE_SEED}
    assert tests.groupby("versus").size().to_dict() == {v: 3 * len(compared) for v in ("unet_l1", "upgan_no_guidance")}
    text = (study / "08_reporting" / "variants.md").read_text()
    assert all(f"| {m} |" in text for m in compared)


def test_claim_families_stay_as_they_are(study):
    """C2 compares UP-GAN with its ablation only, C6 with the control only: no variant is in a
    claim family."""
    claims = pd.read_csv(study / "08_reporting" / "claims.csv")
    compared = claims.groupby("claim")["method_b"].apply(lambda s: set(s.dropna()))
    assert compared.get("C2") == {"upgan_no_guidance"}
    assert compared.get("C6") == {"unet_l1"}
    assert not set(names(role="variant")) & set(claims["method_b"].dropna())


def test_each_variant_trains_what_it_says(study):
    """The bundles record each variant's cascade; without joint fine-tuning the model is the
    phases as trained; a constant learning rate stays constant."""
    for method in METHODS:
        if get(method).kind != "cascade":
            continue
        plugin = get(method).plugin
        model = load_bundle(_cell(study, method) / "model.safetensors")
        cascade = model.config["cascade"]
        expected = plugin.cascade_config({"n_phases": 2, **plugin.overrides})
        assert (cascade["guidance"], cascade["residual_to"], cascade["n_phases"]) == (
            expected.guidance, expected.residual_to, expected.n_phases), method
        fine_tuned = (_cell(study, method) / "history_fine_tune.csv").exists()
        assert fine_tuned == (plugin.fine_tune_steps({"fine_tune": {"steps": 3}}) > 0), method
        if not fine_tuned:
            for m in range(cascade["n_phases"]):
                phase = load_bundle(_cell(study, method) / f"phase_{m}.safetensors")
                for key, tensor in phase.state_dict("generator").items():
                    assert model.state_dict(f"generator_{m}")[key].equal(tensor)
    official = pd.read_csv(_cell(study, "upgan_official") / "history_phase_0.csv")
    assert official["lr"].nunique() == 1  # constant, as the authors' code
    assert pd.read_csv(_cell(study, "upgan") / "history_phase_0.csv")["lr"].nunique() > 1  # cosine


def test_the_loss_breakdown_starts_from_the_same_weights(study):
    """Every phase-0 variant, UP-GAN's phase 0 and the L1 control validate the same initial
    network at step 0; only the variants with an adversarial term train a discriminator."""
    def first(method, history):
        return pd.read_csv(_cell(study, method) / f"{history}.csv").iloc[0]

    breakdown = [m for m in METHODS if m.startswith("upgan_p0_")]
    assert len(breakdown) == 6
    start = first("unet_l1", "history_train")["val_mae"]
    for method in [*breakdown, "upgan", "upgan_no_guidance"]:
        assert first(method, "history_phase_0")["val_mae"] == start, method
    for method in breakdown:
        history = pd.read_csv(_cell(study, method) / "history_phase_0.csv")
        adversarial = get(method).plugin.loss_weights({}).lambda_adversarial > 0
        has_d = "d_loss" in history and history["d_loss"].notna().any()
        assert has_d == adversarial, method
