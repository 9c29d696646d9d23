"""training end to end on the test env: bundles, histories, MLflow child runs, phase summary."""

from pathlib import Path

import mlflow
import pandas as pd
import pytest
import torch
import yaml

from upgan.io.bundle import load_bundle
from upgan.io.datasets import SliceSetDataset
from upgan.models import UPGAN, UncertaintyUNet, cascade_config_from_dict

PROJECT = Path(__file__).resolve().parents[2]
TEST_TRAINING = yaml.safe_load((PROJECT / "conf" / "test" / "parameters_training.yml").read_text())


@pytest.fixture(scope="module")
def trained(default_run):
    return default_run


def test_bundles_and_histories_are_written(trained):
    cell = trained / "06_models" / "pet_to_ct" / "upgan" / "n04" / "s2021"
    for m in range(2):  # the test env has M = 2
        bundle = load_bundle(cell / f"phase_{m}.safetensors")
        assert bundle.prefixes() == ["discriminator", "generator"]
        assert bundle.config["phase"] == m
        history = pd.read_csv(cell / f"history_phase_{m}.csv")
        assert list(history.columns[:8]) == ["task", "method", "n_train_patients", "seed", "network",
                                             "updates", "selected_step", "step"]
        assert {"g_loss", "d_loss", "val_mae"} <= set(history.columns)
        assert (history["network"] == f"phase_{m}").all() and (history["method"] == "upgan").all()
        steps, val_every = TEST_TRAINING["training"]["steps"], TEST_TRAINING["training"]["val_every"]
        assert history["step"].tolist() == [*range(0, steps, val_every), steps]
        assert (history["updates"] == steps).all()
        kept = int(history["selected_step"].iloc[0])
        assert history.loc[history["step"] == kept, "val_mae"].iloc[0] == history["val_mae"].min()
    model = load_bundle(cell / "model.safetensors")
    assert model.config["task"] == "pet_to_ct" and model.config["n_train_patients"] == 4
    assert model.config["preparation"]["slice_size"] == 32
    assert {"generator_0", "generator_1", "discriminator_0", "discriminator_1"} <= set(model.prefixes())


def test_model_bundle_rebuilds_the_cascade_and_predicts_deterministically(trained):
    model = load_bundle(trained / "06_models" / "pet_to_ct" / "upgan" / "n04" / "s2021" / "model.safetensors")
    cfg = cascade_config_from_dict(model.config["cascade"])
    gens = []
    for m in range(cfg.n_phases):
        g = UncertaintyUNet(cfg.generator_config(m))
        g.load_state_dict(model.state_dict(f"generator_{m}"))
        gens.append(g.eval())
    cascade = UPGAN(gens, guidance=cfg.guidance).eval()
    test = SliceSetDataset(str(trained / "05_model_input" / "pet_to_ct" / "test.npz")).load()
    x = torch.from_numpy(test.inputs[:4])
    with torch.inference_mode():
        a = cascade(x)
        b = cascade(x)
    assert len(a) == 2
    for pa, pb in zip(a, b, strict=True):
        assert torch.equal(pa.image, pb.image) and torch.equal(pa.sigma, pb.sigma)
        assert (pa.sigma > 0).all()


def test_phase_summary_and_figure(trained):
    table = pd.read_csv(trained / "08_reporting" / "training" / "pet_to_ct.upgan.n04.s2021" / "phases.csv")
    assert table["phase"].astype(str).tolist() == ["init_0", "init_1", "0", "1", "final"]
    assert (table["mean_sigma"] > 0).all()
    assert table["spearman_sigma_abs_error"].between(-1, 1).all()
    assert (trained / "08_reporting" / "figures" / "phases_pet_to_ct_upgan_n04_s2021.png").stat().st_size > 20_000


def test_one_tagged_child_run_per_cell(trained, parent_runs):
    """One child run per cell and `kedro run` (other tests of the session run the same cell in
    their own data roots, under their own parent runs: the default run's parent is found by the
    data root kedro-mlflow records in its runtime_params tag)."""
    runs = mlflow.search_runs(search_all_experiments=True, filter_string="tags.cell = 'pet_to_ct.upgan.n04.s2021'")
    assert (runs.groupby("tags.mlflow.parentRunId").size() == 1).all()
    runs = runs[runs["tags.mlflow.parentRunId"].isin(parent_runs(trained))]
    assert len(runs) == 1
    run = runs.iloc[0]
    assert run["tags.task"] == "pet_to_ct" and run["tags.method"] == "upgan"
    assert run["tags.n_train_patients"] == "4"
    assert run["tags.mlflow.parentRunId"]
    client = mlflow.tracking.MlflowClient()
    history = client.get_metric_history(run.run_id, "phase_0/val_mae")
    steps, val_every = TEST_TRAINING["training"]["steps"], TEST_TRAINING["training"]["val_every"]
    assert sorted(m.step for m in history) == [*range(0, steps, val_every), steps]  # MLflow step = updates
    artifacts = [a.path for a in client.list_artifacts(run.run_id, "figures")]
    assert "figures/phases_pet_to_ct.upgan.n04.s2021.png" in artifacts
