"""Shared fixtures: telemetry off, MLflow and all outputs in a temporary folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MPLBACKEND", "Agg")

PROJECT_PATH = Path(__file__).resolve().parents[1]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(scope="session", autouse=True)
def temp_folder(tmp_path_factory):
    """Everything the code under test stages with ``tempfile`` (figures logged to MLflow, the
    benchmarks' files, downloaded models), in this process and in subprocesses (``TMPDIR``), goes
    to a folder of the test session's temporary tree, not to the system temp folder."""
    import tempfile

    folder = tmp_path_factory.mktemp("tempfile")
    old_env, old_tempdir = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"] = str(folder)
    tempfile.tempdir = str(folder)
    yield folder
    tempfile.tempdir = old_tempdir
    if old_env is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = old_env


@pytest.fixture(scope="session")
def kedro_project(tmp_path_factory):
    """Run Kedro sessions of this project on the ``test`` env, everything under a temp folder.

    Returns a function ``run(**session_run_kwargs) -> (data_root, outputs)``; repeated calls
    share the same data root (so later pipelines see earlier outputs), and MLflow writes to a
    sqlite file in the same folder.
    """
    import mlflow
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    root = tmp_path_factory.mktemp("kedro")
    data_root = root / "data"
    old_cwd = os.getcwd()
    os.chdir(root)  # sqlite:///mlflow.db and ./mlruns land here
    bootstrap_project(PROJECT_PATH)

    def run(env: str = "test", runtime_params: dict | None = None, **kwargs):
        params = {"data_root": str(data_root), **(runtime_params or {})}
        with KedroSession.create(project_path=PROJECT_PATH, env=env, runtime_params=params) as session:
            try:
                return Path(params["data_root"]), session.run(**kwargs)
            finally:
                while mlflow.active_run():
                    mlflow.end_run()

    yield run
    os.chdir(old_cwd)


def pytest_configure(config):
    """Use the faster of 1 thread and torch's default (see upgan.runtime)."""
    from upgan.runtime import configure_cpu_threads

    configure_cpu_threads("auto")


@pytest.fixture(scope="session")
def default_run(kedro_project):
    """``kedro run --env test`` (the whole default pipeline) once per test session."""
    data_root, _ = kedro_project()
    return data_root


@pytest.fixture(scope="session")
def parent_runs():
    """``of(data_root) -> set of run ids``: the MLflow parent runs of the sessions run on that data
    root (kedro-mlflow records the runtime parameters, data root included, as a tag). Other tests'
    sessions share the store and train the same cells in their own roots, some without evaluating:
    a test of one run keeps the child runs of these parents."""
    import mlflow

    def of(data_root: Path) -> set[str]:
        everything = mlflow.search_runs(search_all_experiments=True)
        parents = everything[everything["tags.mlflow.parentRunId"].isna()]
        recorded = parents["tags.runtime_params"].fillna("")
        return set(parents.loc[recorded.str.contains(f"'{data_root}'", regex=False), "run_id"])

    return of


@pytest.fixture
def vgg19_state_file(tmp_path: Path) -> Path:
    """A torchvision-layout VGG-19 state dict of small random weights, saved as ``vgg19.pth``
    (the ``feature_extractor.source`` MedGAN accepts instead of its pretrained autoencoder)."""
    import torch

    widths = (64, 64, 128, 128, 256, 256, 256, 256, 512, 512, 512, 512, 512, 512, 512, 512)
    convs = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)  # torchvision indices
    g = torch.Generator().manual_seed(0)
    state, previous = {}, 3
    for idx, width in zip(convs, widths, strict=True):
        state[f"features.{idx}.weight"] = torch.randn(width, previous, 3, 3, generator=g) * 0.05
        state[f"features.{idx}.bias"] = torch.randn(width, generator=g) * 0.01
        previous = width
    path = tmp_path / "vgg19.pth"
    torch.save(state, path)
    return path
