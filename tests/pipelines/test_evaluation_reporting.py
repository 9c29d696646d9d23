"""evaluation + reporting end to end on the test env: the results contract, Table 1, figures,
NIfTI predictions, and MLflow child runs that reproduce summary.csv."""

import mlflow
import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from upgan.evaluation import CONTRACT_COLUMNS

TASKS = ("pet_to_ct", "mri_recon", "mri_motion")
METHODS = ("pix2pix", "pan", "medgan", "upgan", "upgan_no_guidance")


@pytest.mark.parametrize("name", ["metrics_per_subject", "summary", "significance", "uncertainty"])
def test_contract_files_have_exact_columns(default_run, name):
    table = pd.read_csv(default_run / "08_reporting" / f"{name}.csv")
    assert list(table.columns) == CONTRACT_COLUMNS[name]
    assert len(table) > 0


def test_every_cell_is_in_the_results(default_run):
    metrics = pd.read_csv(default_run / "08_reporting" / "metrics_per_subject.csv")
    cells = set(zip(metrics.task, metrics.method, strict=True))
    assert cells == {(t, m) for t in TASKS for m in METHODS}
    assert (metrics.groupby(["task", "method"]).size() == 3).all()  # 3 test subjects each
    assert metrics["n_train_patients"].eq(4).all()
    summary = pd.read_csv(default_run / "08_reporting" / "summary.csv")
    assert len(summary) == 15
    significance = pd.read_csv(default_run / "08_reporting" / "significance.csv")
    assert set(significance.method_a) == {"upgan"}
    assert set(significance.method_b) == set(METHODS) - {"upgan"}
    assert set(significance.test) == {"wilcoxon", "paired_t"}
    uncertainty = pd.read_csv(default_run / "08_reporting" / "uncertainty.csv")
    assert set(uncertainty.method) == {"upgan", "upgan_no_guidance"}
    assert set(uncertainty.phase.astype(str)) == {"0", "1", "final"}


def test_table1_and_figures(default_run):
    table = (default_run / "08_reporting" / "table1.md").read_text()
    for label in ("pix2pix", "PAN", "MedGAN", "UP-GAN", "no uncertainty guidance", "C1", "C2", "C4"):
        assert label in table
    setup = table.split("## Training set-up")[1]
    assert setup.count("| MedGAN |") == 3 and "L1 autoencoder of the training targets" in setup
    assert len([line for line in setup.splitlines() if line.startswith("| ")]) == 1 + 15
    figures = default_run / "08_reporting" / "figures"
    for task in TASKS:
        for name in (f"methods_{task}.png", f"calibration_{task}.png", f"phases_{task}_upgan_n04.png"):
            assert (figures / name).stat().st_size > 20_000


def test_predictions_are_nifti_in_world_space(default_run):
    folder = default_run / "07_model_output" / "pet_to_ct" / "upgan" / "n04"
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
    baseline = default_run / "07_model_output" / "pet_to_ct" / "pix2pix" / "n04"
    assert not list(baseline.glob("*_sigma.nii.gz"))  # no uncertainty for the baselines


def test_summary_can_be_rebuilt_from_mlflow(default_run):
    summary = pd.read_csv(default_run / "08_reporting" / "summary.csv")
    runs = mlflow.search_runs(search_all_experiments=True, filter_string="tags.cell LIKE '%.n04'")
    latest = runs.sort_values("start_time").groupby("tags.cell").tail(1)
    rebuilt = pd.DataFrame({
        "task": latest["tags.task"], "method": latest["tags.method"],
        "n_train_patients": latest["tags.n_train_patients"].astype(int),
        **{c: latest[f"metrics.test_{c}"] for c in CONTRACT_COLUMNS["summary"][3:]},
    })
    rebuilt["n_subjects"] = rebuilt["n_subjects"].astype(int)
    rebuilt = rebuilt[CONTRACT_COLUMNS["summary"]].sort_values(["task", "method"]).reset_index(drop=True)
    expected = summary.sort_values(["task", "method"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(rebuilt, expected, check_exact=False, rtol=1e-6)
    artifacts = mlflow.tracking.MlflowClient().list_artifacts(latest.iloc[0].run_id, "figures")
    assert any(a.path.startswith("figures/methods_") for a in artifacts)



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
