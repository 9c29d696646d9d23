"""evaluation + reporting end to end on the test env: the results contract, Table 1, figures,
NIfTI predictions, and MLflow child runs that reproduce summary.csv."""

from pathlib import Path

import mlflow
import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import yaml

from upgan.evaluation import CONTRACT_COLUMNS
from upgan.methods import get, names
from upgan.tasks import TASKS as TASK_SPECS

PROJECT = Path(__file__).resolve().parents[2]
CONFIGURED = yaml.safe_load((PROJECT / "conf" / "base" / "parameters.yml").read_text())
TASKS = tuple(CONFIGURED["tasks"])
# input on the target's scale: the `input` reference
MRI_TASKS = tuple(t for t in TASKS if TASK_SPECS[t].input_is_reference)
METHODS = tuple(CONFIGURED["methods"])


TEST_TRAINING = yaml.safe_load((PROJECT / "conf" / "test" / "parameters_training.yml").read_text())
SEEDS = TEST_TRAINING["seeds"]
FIRST = f"s{SEEDS[0]}"


def test_the_default_run_trains_every_registered_method_with_two_seeds():
    """Every method of Table 1; the variants are the mechanism study's (conf/mechanism)."""
    assert set(METHODS) == set(names()) - set(names(role="variant"))
    assert len(SEEDS) == 2  # the test env always exercises the seed aggregation


@pytest.mark.parametrize("name", ["metrics_per_subject", "summary", "significance", "uncertainty"])
def test_contract_files_have_exact_columns(default_run, name):
    table = pd.read_csv(default_run / "08_reporting" / f"{name}.csv")
    assert list(table.columns) == CONTRACT_COLUMNS[name]
    assert len(table) > 0


def test_every_cell_is_in_the_results(default_run):
    metrics = pd.read_csv(default_run / "08_reporting" / "metrics_per_subject.csv")
    cells = set(zip(metrics.task, metrics.method, strict=True))
    assert cells == {(t, m) for t in TASKS for m in METHODS} | {(t, "input") for t in MRI_TASKS}
    trained = metrics[metrics.method != "input"]
    # 3 test subjects each, once per seed; the do-nothing input has no seed
    assert (trained.groupby(["task", "method", "seed"]).size() == 3).all()
    assert sorted(trained.seed.unique()) == SEEDS and metrics.loc[metrics.method == "input", "seed"].isna().all()
    assert (metrics[metrics.method == "input"].groupby("task").size() == 3).all()
    assert metrics["n_train_patients"].eq(4).all()
    summary = pd.read_csv(default_run / "08_reporting" / "summary.csv")
    assert len(summary) == len(TASKS) * len(METHODS) + len(MRI_TASKS)
    assert (summary.loc[summary.method != "input", "n_seeds"] == len(SEEDS)).all()
    assert (summary.loc[summary.method == "input", ["n_seeds"]] == 1).all().all()
    assert (summary.loc[summary.method == "input", ["ssim_seed_std", "mae_seed_std"]] == 0).all().all()
    assert (summary.loc[summary.method != "input", "ssim_seed_std"] > 0).all()
    significance = pd.read_csv(default_run / "08_reporting" / "significance.csv")
    upgan_rows = significance[significance.method_a == "upgan"]
    assert set(upgan_rows.method_b) == (set(METHODS) - {"upgan"}) | {"input"}
    assert set(significance.method_a) == set(METHODS)  # every trained method against input
    assert set(significance.test) == {"wilcoxon", "paired_t", "seed_welch"}  # two seeds: seed-aware
    assert (significance.p_holm >= significance.p_value - 1e-12).all()
    assert significance.n_seeds.eq(len(SEEDS)).all() and significance.n_subjects.eq(3).all()
    assert set(significance.family) == {"C0", "C1", "C2", "C6"}  # one family per claim, across tasks
    seed_rows = significance[significance.test == "seed_welch"]
    assert (seed_rows.ci_low <= seed_rows.estimate).all() and (seed_rows.estimate <= seed_rows.ci_high).all()
    uncertainty = pd.read_csv(default_run / "08_reporting" / "uncertainty.csv")
    assert set(uncertainty.method) == {"upgan", "upgan_no_guidance"}
    assert sorted(uncertainty.seed.unique()) == SEEDS
    assert (uncertainty.groupby(["task", "method", "seed", "phase"]).subject_id.nunique() == 3).all()
    assert uncertainty[["coverage_68", "coverage_95"]].stack().between(0, 1).all()
    assert (uncertainty.coverage_95 >= uncertainty.coverage_68).all() and uncertainty.nll.notna().all()
    claims = pd.read_csv(default_run / "08_reporting" / "claims.csv")
    testable = claims[claims.verdict != "not testable"]
    assert set(testable.verdict) <= {"better", "worse", "no difference shown"}
    assert testable.seed_agreement.isin([0.0, 1.0]).all()  # two seeds: each seed against the other
    assert set(uncertainty.phase.astype(str)) == {"0", "1", "final"}
    head = pd.read_csv(default_run / "08_reporting" / "head_mae.csv")
    assert set(head.task) == {"pet_to_ct"} and head[["mae_soft_tissue_mean", "ssim_head_mean"]].notna().all().all()


def test_table1_and_figures(default_run):
    table = (default_run / "08_reporting" / "table1.md").read_text()
    for label in ("pix2pix", "PAN", "MedGAN", "UP-GAN", "no uncertainty guidance", "C1", "C2", "C4",
                  "## Uncertainty quality", "## Seed-aware tests", "soft-tissue MAE"):
        assert label in table
    setup = table.split("## Training set-up")[1]
    assert setup.count("| MedGAN |") == 3 and "L1 autoencoder of the training targets" in setup
    assert len([line for line in setup.splitlines() if line.startswith("| ")]) == 1 + len(TASKS) * len(METHODS)
    figures = default_run / "08_reporting" / "figures"
    for task in TASKS:
        for name in (f"methods_{task}.png", f"calibration_{task}.png", f"phases_{task}_upgan_n04_{FIRST}.png"):
            assert (figures / name).stat().st_size > 20_000


def test_predictions_are_nifti_in_world_space(default_run):
    folder = default_run / "07_model_output" / "pet_to_ct" / "upgan" / "n04" / FIRST
    predictions = sorted(folder.glob("*_prediction.nii.gz"))
    sigmas = sorted(folder.glob("*_sigma.nii.gz"))
    assert len(predictions) == len(sigmas) == 3
    manifest = pd.read_csv(default_run / "05_model_input" / "pet_to_ct" / "volumes.csv").set_index("subject_id")
    image = nib.load(predictions[0])
    subject = predictions[0].name.replace("_prediction.nii.gz", "")
    import json

    np.testing.assert_allclose(image.affine, json.loads(manifest.loc[subject, "prepared_affine"]), atol=1e-4)
    data = image.get_fdata()
    assert data.shape == (32, 32, int(manifest.loc[subject, "n_slices"]))
    assert data.min() >= -1024.5 and data.max() <= 3071.5  # CT in HU
    assert (nib.load(sigmas[0]).get_fdata() >= 0).all()
    baseline = default_run / "07_model_output" / "pet_to_ct" / "pix2pix" / "n04" / FIRST
    assert not list(baseline.glob("*_sigma.nii.gz"))  # no uncertainty for the baselines


def test_summary_can_be_rebuilt_from_mlflow(default_run, parent_runs):
    """Each seed's child run holds that seed's test metrics; their mean over seeds is the pooled
    summary (every seed is scored on the same subjects) and their std the seed spread."""
    summary = pd.read_csv(default_run / "08_reporting" / "summary.csv")
    runs = mlflow.search_runs(search_all_experiments=True, filter_string="tags.cell LIKE '%.n04.s%'")
    runs = runs[runs["tags.task"].isin(TASKS) & runs["tags.mlflow.parentRunId"].isin(parent_runs(default_run))]
    latest = runs.sort_values("start_time").groupby("tags.cell").tail(1)
    assert sorted(latest["tags.seed"].astype(int).unique()) == SEEDS
    grouped = latest.groupby(["tags.task", "tags.method"])
    # the trained cells have MLflow runs; the do-nothing `input` reference trains nothing
    trained = summary[summary.method != "input"].set_index(["task", "method"]).sort_index()
    assert len(grouped) == len(trained)
    for metric in ("ssim", "psnr", "mae"):
        mean = grouped[f"metrics.test_{metric}_mean"].mean().sort_index()
        spread = grouped[f"metrics.test_{metric}_mean"].std(ddof=1).sort_index()
        np.testing.assert_allclose(mean.to_numpy(), trained[f"{metric}_mean"].to_numpy(), rtol=1e-6)
        np.testing.assert_allclose(spread.to_numpy(), trained[f"{metric}_seed_std"].to_numpy(), rtol=1e-6,
                                   atol=1e-12)
    artifacts = mlflow.tracking.MlflowClient().list_artifacts(latest.iloc[0].run_id, "figures")
    assert artifacts  # the cell's figures hang on its own run


def test_input_reference_rows_for_the_mri_tasks_only(default_run):
    """The do-nothing `input` is scored for the tasks whose input is on the target's scale, on
    the same test subjects as the trained methods, and tested against every trained method."""
    reporting = default_run / "08_reporting"
    metrics = pd.read_csv(reporting / "metrics_per_subject.csv")
    summary = pd.read_csv(reporting / "summary.csv")
    significance = pd.read_csv(reporting / "significance.csv")
    for table in (metrics, summary):
        assert set(table.loc[table.method == "input", "task"]) == set(MRI_TASKS)
    for task in MRI_TASKS:
        cell = metrics[metrics.task == task]
        assert set(cell.loc[cell.method == "input", "subject_id"]) == set(cell.loc[cell.method == "upgan", "subject_id"])
        against = significance[(significance.task == task) & (significance.method_b == "input")]
        assert set(against.method_a) == set(METHODS)
        assert len(against) == len(METHODS) * 3 * 3  # methods x metrics x (seed-aware, wilcoxon, paired_t)
    assert significance[significance.task == "pet_to_ct"].method_b.ne("input").all()
    claims = pd.read_csv(reporting / "claims.csv")
    c0 = claims[claims.claim == "C0"]
    assert set(c0.task) == set(MRI_TASKS) and set(c0.method_b) == {"input"}
    assert len(c0) == len(MRI_TASKS) * len(METHODS) * 3


def test_bone_dice_and_out_of_range_columns(default_run):
    metrics = pd.read_csv(default_run / "08_reporting" / "metrics_per_subject.csv")
    ct = metrics.task == "pet_to_ct"
    assert metrics.loc[ct, "bone_dice"].between(0, 1).all()  # filled for PET->CT
    assert metrics.loc[~ct, "bone_dice"].isna().all()  # empty for MRI
    assert metrics["out_of_range_fraction"].between(0, 1).all()
    summary = pd.read_csv(default_run / "08_reporting" / "summary.csv")
    assert summary.loc[summary.task == "pet_to_ct", "bone_dice_mean"].notna().all()
    assert summary.loc[summary.task != "pet_to_ct", ["bone_dice_mean", "bone_dice_std"]].isna().all().all()


def _expected_networks(method: str) -> list[str]:
    n_phases = TEST_TRAINING["upgan"]["n_phases"]
    if get(method).kind == "cascade":
        return [f"phase_{m}" for m in range(n_phases)] + ["fine_tune"]
    return (["feature_extractor"] if method == "medgan" else []) + ["generator"]


def test_budget_table_one_row_per_trained_network(default_run):
    """budget.csv: every trained network once; generators and phases make training.steps
    updates, the fine-tuning upgan.fine_tune.steps, MedGAN's extractor its own steps (all read
    from conf/test); the kept step lies within the updates made."""
    budget = pd.read_csv(default_run / "08_reporting" / "budget.csv")
    assert list(budget.columns) == ["task", "method", "n_train_patients", "seed", "network", "updates",
                                    "selected_step"]
    rows = sorted(zip(budget.task, budget.method, budget.seed, budget.network, strict=True))
    assert rows == sorted((t, m, s, n) for t in TASKS for m in METHODS for s in SEEDS for n in _expected_networks(m))
    steps = TEST_TRAINING["training"]["steps"]
    fine_tune = TEST_TRAINING["upgan"]["fine_tune"]["steps"]
    extractor = TEST_TRAINING["baselines"]["medgan"]["feature_extractor"]["steps"]
    expected = {"generator": steps, "fine_tune": fine_tune, "feature_extractor": extractor}
    for row in budget.itertuples():
        assert row.updates == expected.get(row.network, steps), row  # phase_<m>: steps
        assert 0 <= row.selected_step <= row.updates, row
    assert budget["n_train_patients"].eq(4).all()
    # the kept step of a phase is its history's best validation step
    history = pd.read_csv(default_run / "06_models" / "pet_to_ct" / "upgan" / "n04" / FIRST / "history_phase_0.csv")
    kept = budget[(budget.task == "pet_to_ct") & (budget.method == "upgan") & (budget.network == "phase_0")
                  & (budget.seed == SEEDS[0])]
    best = history.loc[history["val_mae"].idxmin(), "step"]
    assert int(kept.selected_step.iloc[0]) == int(best)


def test_convergence_figures(default_run):
    figures = default_run / "08_reporting" / "figures"
    for task in TASKS:
        assert (figures / f"convergence_{task}.png").stat().st_size > 10_000


def test_node_times_are_recorded(kedro_project, tmp_path):
    """The timing hook writes one row per node of the run just finished, under its data root."""
    root = tmp_path / "timed"
    data_root, _ = kedro_project(pipeline_names=["data_preparation"], namespaces=["mri_recon"],
                                 runtime_params={"data_root": str(root)})
    times = pd.read_csv(data_root / "09_tracking" / "node_times.csv")
    assert list(times.columns) == ["node", "namespace", "seconds"]
    assert (times["seconds"] >= 0).all() and times["node"].is_unique
    assert set(times["namespace"]) == {"mri_recon"}
    assert {"mri_recon.prepare_slices", "mri_recon.split_cohort"} <= set(times["node"])


def test_every_node_belongs_to_a_stage(kedro_project):
    """The timing summary groups nodes by their stage tag: every node of the default run and of
    the sweep carries one, and the training cells count as training in both."""
    from kedro.framework.project import pipelines

    from upgan.hooks import _node_stage

    for name in ("__default__", "weak_supervision"):
        stages = {n.name: _node_stage(n.tags) for n in pipelines[name].nodes}
        assert "other" not in stages.values(), name
        assert all(stage == "training" for node, stage in stages.items()
                   if node.endswith((".train", ".fine_tune", ".train_phase_0", ".summarise_phases")))
