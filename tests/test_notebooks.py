"""The notebooks run headless on the test env's outputs."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_notebooks_are_stored_without_outputs():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(default_run, path, monkeypatch):
    import mlflow

    monkeypatch.setenv("UPGAN_ENV", "test")
    monkeypatch.setenv("UPGAN_DATA_ROOT", str(default_run))
    uri = mlflow.get_tracking_uri()  # the sessions' sqlite store, relative to the working directory
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        uri = f"sqlite:///{Path.cwd() / uri[len('sqlite:///'):]}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
