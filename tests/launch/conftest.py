"""Fixtures of the launch tests: a small grid of the test env, its `kedro run` reference, and a
real single-node SLURM (started here, stopped at the end of the test session)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import slurm_cluster
from launch_helpers import PROJECT, SMALL, run_env


@pytest.fixture(scope="session")
def small_project(tmp_path_factory) -> Path:
    """A folder `kedro` and `upgan launch` accept as this project, with an env ``small``: the test
    env's files plus :data:`SMALL` (and its MLflow store, sqlite:///mlflow.db, in that folder)."""
    import yaml

    folder = tmp_path_factory.mktemp("launch") / "project"
    (folder / "src").mkdir(parents=True)
    shutil.copy(PROJECT / "pyproject.toml", folder / "pyproject.toml")
    (folder / "conf").mkdir()
    (folder / "conf" / "base").symlink_to(PROJECT / "conf" / "base")
    shutil.copy(PROJECT / "conf" / "logging.yml", folder / "conf" / "logging.yml")
    small = folder / "conf" / "small"
    small.mkdir()
    for path in (PROJECT / "conf" / "test").iterdir():
        (small / path.name).symlink_to(path)
    (small / "parameters_small.yml").write_text(yaml.safe_dump(SMALL))
    return folder


@pytest.fixture(scope="session")
def direct(small_project) -> Path:
    """``kedro run --env small``: the reference every launch must reproduce bit for bit."""
    data_root = small_project / "direct"
    result = subprocess.run([sys.executable, "-m", "kedro", "run", "--env", "small", "--params",
                             f"data_root={data_root}"], cwd=small_project, env=run_env(), capture_output=True,
                            text=True, timeout=1200)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return data_root


@pytest.fixture(scope="session")
def slurm():
    """A real single-node SLURM with accounting; skipped only where its programs are absent."""
    reason = slurm_cluster.missing()
    if reason:
        pytest.skip(reason)
    cluster = slurm_cluster.start()
    sys.stderr.write(f"\nSLURM test cluster started in {cluster.started_s:.1f} s\n")
    yield cluster
    cluster.stop()
