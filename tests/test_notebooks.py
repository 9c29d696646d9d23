"""The notebooks run headless on the test env's outputs and show what they are for."""

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))

#: Per notebook: lines its printed or displayed text must contain.
EXPECTED = {
    "01_explore_cohort.ipynb": [
        r"^train\s+[1-9]\d*$", r"^test\s+[1-9]\d*$",  # subjects per split (the split manifest)
        r"pet_to_ct: [1-9]\d* training slices of \(\d+, \d+\) from [1-9]\d* subjects",
    ],
    "02_upgan_phases.ipynb": [
        r"\d+ phases; subject \S+ with [1-9]\d* slices",
        r"phase 0: mean \|error\| \d\.\d{4}, mean σ \d\.\d{4}, Spearman ρ",
    ],
    "03_compare_methods_mlflow.ipynb": [r"^[1-9]\d* evaluated cells", r"tags\.method", r"upgan",
                                        # the test env runs 2 seeds; other tests of the session add
                                        # one-seed cells (the mechanism variants) to the same store
                                        r"^seeds per cell: \[(1, )?2\]$"],
}


#: Terminal colour (CSI) and hyperlink (OSC 8) escapes, as rich prints them in a kernel.
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]|\x1b\][^\x1b]*\x1b\\")


def _texts(nb: nbformat.NotebookNode) -> str:
    """Everything the code cells printed or returned as text (escapes removed), one output per
    line."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.output_type == "stream":
                parts.append(out.text)
            elif out.output_type in ("execute_result", "display_data"):
                parts.append(out.data.get("text/plain", ""))
    return ANSI.sub("", "\n".join(parts))


def test_notebooks_are_stored_without_outputs():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), path.name


def test_every_notebook_has_expectations():
    assert sorted(p.name for p in NOTEBOOKS) == sorted(EXPECTED)


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
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()

    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [f"{o.ename}: {o.evalue}\n" + "\n".join(o.traceback[-3:])
              for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, "\n".join(errors)
    assert all(c.execution_count is not None for c in code)
    text = _texts(nb)
    for pattern in EXPECTED[path.name]:
        assert re.search(pattern, text, flags=re.MULTILINE), (pattern, text[-3000:])
