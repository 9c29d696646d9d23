"""What MLflow shows to compare methods (see upgan.pipelines.mlflow_compare), checked on the
store of a test-env run: test-score keys that sort first, the per-task comparison table against
metrics_per_subject.csv, the parent run's name and flattened parameters, the logged models'
metrics, method-first cell run names and the runs table's shared view."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from upgan.pipelines.mlflow_compare import cell_model_name, cell_run_name, parent_run_name

METRICS = ("ssim", "psnr", "mae")


@pytest.fixture(scope="module")
def store(default_run):
    client = MlflowClient(f"sqlite:///{default_run.parent / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("upgan-test")
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    per_subject = pd.read_csv(default_run / "08_reporting" / "metrics_per_subject.csv")
    trained = {f"{t}.{m}.n{int(n):02d}.s{int(s)}" for t, m, n, s in
               per_subject[["task", "method", "n_train_patients", "seed"]].dropna().itertuples(index=False)}

    def children(parent):
        return {r.data.tags["cell"]: r for r in runs
                if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id and "cell" in r.data.tags}

    # the session's store also holds the parent runs of other tests' sessions (data preparation,
    # restricted runs, other data roots): the default run's parent is the one whose cells it reported
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags
               and r.data.tags.get("kedro_pipelines") == "__default__"]
    parent = next(p for p in parents if children(p) and set(children(p)) <= trained
                  and len(children(p)) == len(trained))
    cells = children(parent)
    return client, experiment, parent, cells, per_subject


def test_cells_hold_their_test_scores_under_keys_that_sort_first(store):
    _, _, _, cells, per_subject = store
    assert cells
    for cell, run in cells.items():
        task, method, n, seed = cell.split(".")
        rows = per_subject[(per_subject.task == task) & (per_subject.method == method)
                           & (per_subject.n_train_patients == int(n[1:])) & (per_subject.seed == int(seed[1:]))]
        assert len(rows) > 0
        keys = sorted(run.data.metrics)
        assert keys[:3] == ["Test/mae", "Test/psnr", "Test/ssim"]  # before cell_seconds, fine_tune/…, phase_0/…
        assert sorted(run.data.metrics, key=str.lower)[0] != "Test/mae"  # the capital is what sorts them first
        for metric in METRICS:
            assert run.data.metrics[f"Test/{metric}"] == pytest.approx(rows[metric].mean(), rel=1e-9)


def _independent_comparison(per_subject: pd.DataFrame, task: str) -> dict[tuple[str, int], dict[str, float]]:
    """method, n -> <metric>_mean/_sd over seeds of per-seed subject means, by plain loops."""
    out = {}
    rows = per_subject[per_subject.task == task]
    for (method, n), group in rows.groupby(["method", "n_train_patients"]):
        seeds = group["seed"].fillna(-1).unique()
        values = {}
        for metric in METRICS:
            per_seed = np.array([group.loc[group["seed"].fillna(-1) == s, metric].mean() for s in seeds])
            values[f"{metric}_mean"] = per_seed.mean()
            values[f"{metric}_sd"] = per_seed.std(ddof=1) if len(per_seed) > 1 else np.nan
        values["n_seeds"] = len(seeds)
        out[(method, int(n))] = values
    return out


def test_the_parent_run_holds_a_comparison_table_per_task(store, tmp_path):
    client, _, parent, _, per_subject = store
    tasks = sorted(per_subject.task.unique())
    paths = {a.path for a in client.list_artifacts(parent.info.run_id, "report")}
    assert {f"report/compare_{t}.{ext}" for t in tasks for ext in ("csv", "md")} <= paths
    local = Path(client.download_artifacts(parent.info.run_id, "report", str(tmp_path)))
    for task in tasks:
        table = pd.read_csv(local / f"compare_{task}.csv")
        expected = _independent_comparison(per_subject, task)
        assert {(m, int(n)) for m, n in zip(table.method, table.n_train_patients, strict=True)} == set(expected)
        for row in table.itertuples(index=False):
            want = expected[(row.method, int(row.n_train_patients))]
            assert row.n_seeds == want["n_seeds"]
            for key in [f"{m}_{s}" for m in METRICS for s in ("mean", "sd")]:
                np.testing.assert_allclose(getattr(row, key), want[key], rtol=1e-9, equal_nan=True)
        markdown = (local / f"compare_{task}.md").read_text()
        assert all(f"| {m} |" in markdown for m in table.method)
    mri = pd.read_csv(local / "compare_mri_recon.csv")
    assert "input" in set(mri.method) and mri.loc[mri.method == "input", "ssim_sd"].isna().all()


def test_the_parent_run_is_named_and_its_params_are_flat(store):
    _, _, parent, _, per_subject = store
    assert parent.info.run_name == "all [test] " + ", ".join(sorted(per_subject.task.unique()))
    assert parent.data.tags["kedro_pipelines"] == "__default__"
    params = parent.data.params
    assert params["training.steps"] == "4" and params["upgan.fine_tune.steps"] == "3"
    assert not [k for k, v in params.items() if v.startswith("{")]  # no stringified dicts


def test_parent_run_name_lists_pipelines_env_and_tasks():
    assert parent_run_name(None, None, []) == "all [base]"
    assert parent_run_name(["training", "evaluation"], "test", ["b", "a", "a"]) == "training+evaluation [test] a, b"


def test_cell_runs_are_named_method_first(store):
    _, _, _, cells, _ = store
    assert cell_run_name("pet_to_ct.upgan.n04.s2021") == "upgan n04 s2021 pet_to_ct"
    for cell, run in cells.items():
        assert run.info.run_name == cell_run_name(cell)


def test_logged_models_carry_the_test_scores_at_the_last_step(store):
    client, experiment, _, cells, _ = store
    assert cell_model_name("pet_to_ct.upgan.n04.s2021") == "upgan-n04-s2021-pet_to_ct"
    for cell, run in cells.items():
        models = client.search_logged_models([experiment.experiment_id], f"source_run_id = '{run.info.run_id}'")
        assert [m.name for m in models] == [cell_model_name(cell)]  # one per run, named after its cell
        model = models[0]
        last = max(m.step for key in run.data.metrics if key.endswith("/g_loss")
                   for m in client.get_metric_history(run.info.run_id, key))
        assert last > 0 and {m.step for m in model.metrics} == {last}  # no step-0 (initial) values
        scores = {m.key: m.value for m in model.metrics}
        for metric in METRICS:
            assert scores[f"Test/{metric}"] == pytest.approx(run.data.metrics[f"Test/{metric}"], rel=1e-12)
        final = {m.key: m.value for key in run.data.metrics if key.endswith("/val_mae")
                 for m in client.get_metric_history(run.info.run_id, key) if m.step == last}
        assert final and all(scores[k] == v for k, v in final.items())  # the curves' final values


def test_the_experiment_shares_a_runs_view_with_the_test_columns(store):
    _, experiment, _, _, _ = store
    view = json.loads(experiment.tags["mlflow.sharedViewState.upgan-compare"])
    assert view["selectedColumns"][:3] == ["metrics.`Test/ssim`", "metrics.`Test/psnr`", "metrics.`Test/mae`"]
    assert [k["groupByData"] for k in view["groupBy"]["groupByKeys"]] == ["task", "method"]
