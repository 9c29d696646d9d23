"""Nodes log to MLflow only inside a Kedro run: called from a plain Python process (a notebook,
a script) they open no run and write no ``mlruns/`` or ``mlflow.db``."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent('''
    import numpy as np
    import pandas as pd
    import mlflow
    from matplotlib.figure import Figure

    from upgan.pipelines import tracking
    from upgan.pipelines.training.nodes import run_cell
    from upgan.io.slices import SliceSet

    rng = np.random.default_rng(0)
    def slices(subjects):
        n = 2 * len(subjects)
        x = rng.random((n, 1, 16, 16), dtype=np.float32)
        return SliceSet(x, x.copy(), np.repeat(np.asarray(subjects), 2), np.tile(np.arange(2), len(subjects)))

    with tracking.cell_run("mri_recon", "unet_l1", 2) as run:
        assert run is None
        tracking.log_metrics({"a": 1.0})
        tracking.log_params({"b": 2}, "p")
        tracking.log_history([{"step": 0, "val_mae": 0.5}], "generator")
        tracking.log_figure(Figure(), "f.png")
    split = pd.DataFrame({"subject_id": ["s0", "s1", "s2"], "split": ["train", "train", "val"], "order": [0, 1, 2]})
    training = {"steps": 2, "val_every": 1, "device": "cpu"}
    baselines = {"optimiser": {"batch_size": 2}, "unet_l1": {}}
    upgan = {"generator": {"base_width": 2, "depth": 1}}
    data = {"train_slices": slices(["s0", "s1"]), "val_slices": slices(["s2"]), "split_manifest": split}
    out = run_cell("mri_recon", "unet_l1", 2, 1, data,
                   {"baselines": baselines, "upgan": upgan, "training": training, "preparation": {}})
    history = out["history_train"]
    assert len(history) == 3 and mlflow.active_run() is None
    print("OK")
''')


def test_a_node_called_outside_kedro_opens_no_run(tmp_path: Path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("OK")
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no mlruns/, no mlflow.db


def test_a_callers_own_run_gets_nothing(tmp_path: Path):
    import mlflow

    from upgan.pipelines import tracking

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'own.db'}")
    try:
        experiment = mlflow.MlflowClient().create_experiment("own")
        with mlflow.start_run(experiment_id=experiment) as own:
            with tracking.cell_run("mri_recon", "unet_l1", 2) as child:
                tracking.log_metrics({"a": 1.0})
            assert child is None
        client = mlflow.tracking.MlflowClient()
        assert client.get_run(own.info.run_id).data.metrics == {}
        children = client.search_runs([own.info.experiment_id],
                                      f"tags.`mlflow.parentRunId` = '{own.info.run_id}'")
        assert children == []
    finally:
        mlflow.set_tracking_uri(previous)
