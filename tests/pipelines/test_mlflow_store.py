"""A fresh sqlite MLflow store survives Kedro runs that start together: the schema is created
once, under a file lock, before kedro-mlflow opens the store."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import mlflow
import pytest

from upgan.pipelines.tracking_store import (
    initialise_store,
    resolve_location,
    runner_name,
    sqlite_file,
)

PROJECT = Path(__file__).resolve().parents[2]
STARTERS = 3

# Each process gets ready (imports, project bootstrap), waits for the others, then creates its
# Kedro context (the hooks build the store and the experiment) and logs a run of its own.
SCRIPT = textwrap.dedent('''
    import sys, time
    from pathlib import Path
    import mlflow
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    project, index, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    bootstrap_project(project)
    Path(f"ready-{index}").touch()
    while len(list(Path(".").glob("ready-*"))) < count:
        time.sleep(0.01)
    with KedroSession.create(project_path=project, env="test") as session:
        session.load_context()
        with mlflow.start_run(run_name=f"starter-{index}"):
            mlflow.log_metric("x", 1.0)
    print("OK")
''')


def test_runs_starting_together_on_a_fresh_store_all_succeed(tmp_path: Path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "KEDRO_DISABLE_TELEMETRY": "true"}
    env.pop("MLFLOW_TRACKING_URI", None)
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT, str(PROJECT), str(i), str(STARTERS)],
                              cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(STARTERS)]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    for code, out, err in results:
        assert code == 0 and out.strip().endswith("OK"), err[-3000:]
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")  # the store still works
    experiment = client.get_experiment_by_name("upgan-test")
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.info.run_name for r in runs) == [f"starter-{i}" for i in range(STARTERS)]
    assert (tmp_path / "mlflow.db.lock").exists()


def test_initialise_store_creates_the_experiment_once(tmp_path: Path):
    uri = f"sqlite:///{tmp_path / 'sub' / 'm.db'}"
    initialise_store(uri, "exp", {"tags": {"a": "b"}, "artifact_location": None})
    initialise_store(uri, "exp", {"tags": {"a": "c"}})
    client = mlflow.MlflowClient(uri)
    assert client.get_experiment_by_name("exp").tags["a"] == "b"
    initialise_store("http://localhost:1", "exp")  # a server's store is left to the server


@pytest.mark.parametrize(("uri", "path"), [
    ("sqlite:///mlflow.db", Path("mlflow.db")), ("sqlite:////abs/m.db", Path("/abs/m.db")),
    ("sqlite:///m.db?timeout=5", Path("m.db")), ("sqlite://", None), ("http://host:5000", None), (None, None),
])
def test_sqlite_file(uri, path):
    assert sqlite_file(uri) == path


def test_runner_name():
    from kedro.runner import SequentialRunner

    assert runner_name(str(SequentialRunner())) == "SequentialRunner"
    assert runner_name("<my.pkg.GpuRunner object at 0x7f3a>") == "GpuRunner"
    assert runner_name("None") == runner_name(None) == "SequentialRunner"
    assert runner_name("ThreadRunner") == "ThreadRunner"


def test_resolve_location(tmp_path: Path):
    assert resolve_location(tmp_path, "art") == (tmp_path / "art").as_uri()
    assert resolve_location(tmp_path, "/abs/art") == "file:///abs/art"
    assert resolve_location(tmp_path, "s3://bucket/x") == "s3://bucket/x"
