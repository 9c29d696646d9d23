"""What one small Kedro run records in MLflow: the parent run (runner, host, process, the
report), the experiment's kind, stale runs of killed processes, each cell's compute time and
model (pyfunc, registered on request), and ``upgan predict`` on MLflow models."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch
from mlflow.tracking import MlflowClient

from upgan.io.bundle import load_bundle
from upgan.io.datasets import SliceSetDataset
from upgan.methods import predict_bundle
from upgan.pipelines.tracking_store import HOST_TAG, PID_TAG, initialise_store

PROJECT = Path(__file__).resolve().parents[2]
EXPERIMENT = "upgan-test"  # conf/test/mlflow.yml
CELLS = ("pet_to_ct.unet_l1.n04.s2021", "pet_to_ct.upgan.n04.s2021")
PARAMS = {"tasks": ["pet_to_ct"], "methods": ["unet_l1", "upgan"], "seeds": [2021],
          "tracking": {"register_models": True}}


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _stale_runs(client: MlflowClient, experiment_id: str) -> dict[str, str]:
    """RUNNING runs as a killed or a live process leaves them; name -> run id."""
    host, dead, ids = socket.gethostname(), str(_dead_pid()), {}
    for name, tags in {"killed": {HOST_TAG: host, PID_TAG: dead}, "alive": {HOST_TAG: host, PID_TAG: str(os.getpid())},
                       "other_host": {HOST_TAG: f"not-{host}", PID_TAG: dead}, "untagged": {}}.items():
        ids[name] = client.create_run(experiment_id, run_name=name, tags=tags).info.run_id
    ids["killed_child"] = client.create_run(
        experiment_id, run_name="killed_child", tags={"mlflow.parentRunId": ids["killed"]}).info.run_id
    return ids


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    """A fresh store with stale runs, then ``kedro run`` (SequentialRunner) of one task and two
    methods on the test env; yields (root, data root, client, parent run, child runs by cell,
    stale run ids)."""
    root = tmp_path_factory.mktemp("mlflow_tracking")
    data_root = root / "data"
    from mlflow.tracking import fluent

    old_cwd, old_env = os.getcwd(), {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID")}
    old_experiment = fluent._active_experiment_id  # kedro-mlflow sets it: later tests must not inherit it
    old_uri = mlflow.get_tracking_uri()
    os.chdir(root)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    initialise_store(uri, EXPERIMENT)
    client = MlflowClient(uri)
    experiment_id = client.get_experiment_by_name(EXPERIMENT).experiment_id
    stale = _stale_runs(client, experiment_id)
    mlflow.set_tracking_uri(uri)  # the tests load models from this store
    try:
        # in a fresh process: MLflow caches stores by URI, and kedro-mlflow's hook keeps state, so an
        # in-process session after other tests' sessions would log to their store
        script = (f"from kedro.framework.session import KedroSession\n"
                  f"from kedro.framework.startup import bootstrap_project\n"
                  f"from kedro.runner import SequentialRunner\n"
                  f"bootstrap_project({str(PROJECT)!r})\n"
                  f"with KedroSession.create(project_path={str(PROJECT)!r}, env='test', "
                  f"runtime_params={({'data_root': str(data_root), **PARAMS})!r}) as session:\n"
                  f"    session.run(runner=SequentialRunner())\n")
        env = {**os.environ, "OMP_NUM_THREADS": "1", "KEDRO_DISABLE_TELEMETRY": "true"}
        done = subprocess.run([sys.executable, "-c", script], cwd=root, env=env, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-4000:]
        runs = client.search_runs([experiment_id], "tags.kedro_pipelines = '__default__'")
        assert len(runs) == 1
        parent = runs[0]
        children = {r.data.tags["cell"]: r for r in client.search_runs(
            [experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")}
        yield root, data_root, client, parent, children, stale
    finally:
        os.chdir(old_cwd)
        mlflow.set_tracking_uri(old_uri)
        fluent._active_experiment_id = old_experiment
        for key, value in old_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_the_experiment_opens_on_the_runs_table(tracked):
    _, _, client, parent, _, _ = tracked
    experiment = client.get_experiment(parent.info.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"


def test_parent_run_tags_name_the_runner_host_and_process(tracked):
    _, _, _, parent, _, _ = tracked
    assert parent.data.tags["runner"] == "SequentialRunner"
    assert parent.data.tags[HOST_TAG] == socket.gethostname()
    assert parent.data.tags[PID_TAG].isdigit()  # the process of the `kedro run` (a subprocess here)
    # the CPU it computed on: results repeat bit for bit only on one CPU type
    assert parent.data.tags["cpu_isa"] == str(torch.backends.cpu.get_cpu_capability())
    assert parent.data.tags["cpu_model"] and parent.data.tags["onednn_max_cpu_isa"]


def test_parent_run_holds_the_report(tracked, tmp_path):
    _, data_root, client, parent, _, _ = tracked
    report = data_root / "08_reporting"
    run_id = parent.info.run_id
    paths = {a.path for a in client.list_artifacts(run_id, "report")}
    assert {"report/table1.md", "report/summary.csv", "report/claims.csv"} <= paths
    figures = sorted(a.path for a in client.list_artifacts(run_id, "report/figures"))
    assert figures == ["report/figures/methods_pet_to_ct.png", "report/figures/variants_pet_to_ct.png"]
    assert "report/variants.md" in paths
    local = Path(client.download_artifacts(run_id, "report", str(tmp_path)))
    assert (local / "variants.md").read_text() == (report / "variants.md").read_text()
    assert (local / "table1.md").read_text() == (report / "table1.md").read_text()
    pd.testing.assert_frame_equal(pd.read_csv(local / "summary.csv"), pd.read_csv(report / "summary.csv"))
    pd.testing.assert_frame_equal(pd.read_csv(local / "claims.csv"), pd.read_csv(report / "claims.csv"))


def test_a_killed_runs_parent_is_marked_killed(tracked):
    _, _, client, parent, _, stale = tracked
    status = {name: client.get_run(run_id).info.status for name, run_id in stale.items()}
    assert status == {"killed": "KILLED", "killed_child": "KILLED", "alive": "RUNNING",
                      "other_host": "RUNNING", "untagged": "RUNNING"}
    assert parent.info.status == "FINISHED"


def test_cell_seconds_is_the_sum_of_the_cells_node_times(tracked):
    _, data_root, client, _, children, _ = tracked
    assert set(children) == set(CELLS)
    times = pd.read_csv(data_root / "09_tracking" / "node_times.csv")
    for cell, run in children.items():
        nodes = times[times["namespace"] == cell]
        assert run.data.metrics["cell_seconds"] == pytest.approx(nodes["seconds"].sum(), rel=1e-9)
        history = client.get_metric_history(run.info.run_id, "cell_seconds")
        assert sorted(m.step for m in history) == list(range(1, len(nodes) + 1))


def test_reporting_attaches_figures_without_reopening_the_cells_runs(tracked):
    """The report's figures reach the cells' runs after the cells' last nodes; the runs' end
    times stay those of the cells' nodes (the figures' files are younger)."""
    _, _, client, _, children, _ = tracked
    for cell, run in children.items():
        names = {a.path for a in client.list_artifacts(run.info.run_id, "figures")}
        assert "figures/methods_pet_to_ct.png" in names
        figure = Path(run.info.artifact_uri.removeprefix("file://")) / "figures" / "methods_pet_to_ct.png"
        assert run.info.end_time < figure.stat().st_mtime * 1000, cell
        assert run.info.status == "FINISHED"


def test_every_cell_run_has_a_pyfunc_model_that_predicts_like_its_bundle(tracked):
    _, data_root, client, parent, children, _ = tracked
    slices = SliceSetDataset(filepath=str(data_root / "05_model_input" / "pet_to_ct" / "test.npz")).load()
    x = slices.inputs[:5].astype(np.float32)
    models = mlflow.search_logged_models(experiment_ids=[parent.info.experiment_id], output_format="list")
    assert {m.source_run_id for m in models} == {r.info.run_id for r in children.values()}
    for cell, run in children.items():
        _, method, n, seed = cell.split(".")
        model = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/{method}-{n}-{seed}-pet_to_ct")
        assert model.metadata.get_input_schema().inputs[0].shape == (-1, 1, -1, -1)
        with pytest.raises(mlflow.exceptions.MlflowException, match="enforce schema"):
            model.predict(np.repeat(x, 2, axis=1), params={"device": "cpu"})
        out = model.predict(x, params={"device": "cpu"})
        bundle = load_bundle(data_root / "06_models" / "pet_to_ct" / method / n / seed / "model.safetensors")
        want = predict_bundle(bundle, x, device="cpu")
        np.testing.assert_array_equal(out["image"], want.image)
        if method == "upgan":
            np.testing.assert_array_equal(out["sigma"], want.sigma)
        else:
            assert "sigma" not in out and want.sigma is None


def test_models_are_registered_on_request(tracked):
    _, _, client, _, children, _ = tracked
    for cell, run in children.items():
        method = cell.split(".")[1]
        versions = client.search_model_versions(f"name = 'upgan-pet_to_ct-{method}'")
        assert len(versions) == 1 and versions[0].run_id == run.info.run_id
        assert versions[0].tags["cell"] == cell


def test_the_pyfunc_wrapper_is_typed(tmp_path):
    """Defining the wrapper raises none of MLflow's type-hint warnings."""
    code = ("import warnings; warnings.simplefilter('always')\n"
            "import mlflow.pyfunc\n"
            "with warnings.catch_warnings(record=True) as caught:\n"
            "    warnings.simplefilter('always')\n"
            "    import upgan.pipelines.mlflow_model\n"
            "print([str(w.message) for w in caught if 'type hint' in str(w.message).lower()])\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_register_models_must_be_a_boolean(monkeypatch):
    from upgan import hooks, structure

    monkeypatch.setattr(structure, "parameters", lambda: {"tracking": {"register_models": "yes"}})
    with pytest.raises(ValueError, match="tracking.register_models must be true or false"):
        hooks._register_models()
    monkeypatch.setattr(structure, "parameters", lambda: {})
    assert hooks._register_models() is False


# ---- upgan predict on MLflow models ---------------------------------------------------------------
def _volumes(folder: Path) -> dict[str, np.ndarray]:
    import nibabel as nib

    return {p.name: np.asarray(nib.load(p).dataobj) for p in sorted(folder.iterdir())}


def test_upgan_predict_takes_mlflow_model_uris(tracked, tmp_path):
    from upgan.console import main

    _, data_root, _, _, children, _ = tracked
    pet = data_root / "01_raw" / "synthetic" / "pet_ct" / "sub-001" / "pet.nii.gz"
    local = tmp_path / "local"
    assert main(["predict", str(data_root / "06_models" / "pet_to_ct" / "upgan" / "n04" / "s2021"), str(pet), str(local),
                 "--device", "cpu"]) == 0
    want = _volumes(local)
    assert sorted(want) == ["pet_ct.nii.gz", "pet_sigma.nii.gz"]
    run_id = children["pet_to_ct.upgan.n04.s2021"].info.run_id
    for i, model in enumerate((f"runs:/{run_id}/upgan-n04-s2021-pet_to_ct", f"runs:/{run_id}/model",
                               "models:/upgan-pet_to_ct-upgan/1", run_id)):
        out = tmp_path / f"out{i}"
        assert main(["predict", model, str(pet), str(out), "--device", "cpu"]) == 0, model
        got = _volumes(out)
        assert sorted(got) == sorted(want)
        for name, values in want.items():
            np.testing.assert_array_equal(got[name], values)


def test_upgan_predict_never_creates_a_store(tracked, tmp_path, monkeypatch, caplog):
    """An absent store or run is one message; no ``mlflow.db`` appears anywhere."""
    import shutil

    from upgan import structure
    from upgan.console import main

    root, data_root, _, _, _, _ = tracked
    pet = data_root / "01_raw" / "synthetic" / "pet_ct" / "sub-001" / "pet.nii.gz"
    project = tmp_path / "project"  # a project whose mlflow.yml names sqlite:///mlflow.db
    (project / "conf" / "base").mkdir(parents=True)
    (project / "conf" / "local").mkdir()
    shutil.copy(PROJECT / "conf" / "base" / "mlflow.yml", project / "conf" / "base" / "mlflow.yml")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setattr(structure, "PROJECT_ROOT", project)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(elsewhere)
    unknown = "0123456789abcdef0123456789abcdef"
    assert main(["predict", unknown, str(pet), str(tmp_path / "out")]) == 2
    assert "no MLflow store mlflow.db" in caplog.text
    assert main(["predict", f"runs:/{unknown}/model", str(pet), str(tmp_path / "out"),
                 "--tracking-uri", f"sqlite:///{tmp_path / 'absent.db'}"]) == 2
    assert list(tmp_path.rglob("*.db")) == []
    shutil.copy(root / "mlflow.db", project / "mlflow.db")  # the project's store: found from elsewhere
    caplog.clear()
    assert main(["predict", unknown, str(pet), str(tmp_path / "out")]) == 2
    assert f"{unknown} not found in the MLflow store sqlite:///{project / 'mlflow.db'}" in caplog.text
    assert [p.name for p in tmp_path.rglob("*.db")] == ["mlflow.db"] and not (tmp_path / "out").exists()
