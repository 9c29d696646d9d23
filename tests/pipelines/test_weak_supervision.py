"""The weak-supervision sweep on the test env (2 counts x 2 methods): outputs, nested subsets,
resuming, running one cell alone, bad grids."""

import pandas as pd
import pytest

from upgan.evaluation import CONTRACT_COLUMNS
from upgan.io.bundle import load_bundle

CELLS = [("pix2pix", 2), ("pix2pix", 4), ("upgan", 2), ("upgan", 4)]


@pytest.fixture(scope="module")
def sweep(kedro_project, tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep") / "data"
    kedro_project(pipeline_names=["weak_supervision"], runtime_params={"data_root": str(root)})
    return root


def _run(kedro_project, root, runtime_params=None, **kwargs):
    params = {"data_root": str(root), **(runtime_params or {})}
    return kedro_project(pipeline_names=["weak_supervision"], runtime_params=params, **kwargs)


def _checkpoints(root):
    return {p: p.stat().st_mtime_ns for p in (root / "06_models" / "checkpoints").rglob("*.pt")}


def test_sweep_writes_the_contract_files_figure_and_tables(sweep):
    out = sweep / "08_reporting" / "weak_supervision"
    for name in ("metrics_per_subject", "summary", "significance", "uncertainty"):
        table = pd.read_csv(out / f"{name}.csv")
        assert list(table.columns) == CONTRACT_COLUMNS[name]
    summary = pd.read_csv(out / "summary.csv")
    assert set(zip(summary.method, summary.n_train_patients, strict=True)) == set(CELLS)
    tables = (out / "tables.md").read_text()
    assert "## 4 training patients" in tables and "## 2 training patients" in tables and "C5" in tables
    assert (out / "figures" / "figure4.png").stat().st_size > 20_000


def test_subsets_are_nested_and_test_subjects_shared(sweep):
    models = sweep / "06_models" / "pet_to_ct"
    small = load_bundle(models / "upgan" / "n02" / "model.safetensors").config["train_subjects"]
    large = load_bundle(models / "upgan" / "n04" / "model.safetensors").config["train_subjects"]
    assert len(small) == 2 and len(large) == 4 and set(small) < set(large)
    assert load_bundle(models / "pix2pix" / "n02" / "model.safetensors").config["train_subjects"] == small
    metrics = pd.read_csv(sweep / "08_reporting" / "weak_supervision" / "metrics_per_subject.csv")
    subjects = metrics.groupby(["method", "n_train_patients"])["subject_id"].apply(frozenset)
    assert subjects.nunique() == 1


def test_rerun_after_interruption_trains_only_the_missing_cell(kedro_project, sweep):
    cell = sweep / "06_models" / "pet_to_ct" / "upgan" / "n02"
    for path in [*cell.glob("*.safetensors"), *(sweep / "06_models" / "checkpoints" / "pet_to_ct" / "upgan" / "n02").glob("*.pt")]:
        path.unlink()  # as if the sweep had been killed before this cell trained
    before = _checkpoints(sweep)
    _run(kedro_project, sweep)
    after = _checkpoints(sweep)
    assert {p: t for p, t in after.items() if p in before} == before  # finished cells untouched
    new = set(after) - set(before)
    assert new and all("upgan/n02" in str(p) for p in new)
    assert (cell / "model.safetensors").exists()


def test_one_cell_alone(kedro_project, sweep):
    target = sweep / "08_reporting" / "evaluation" / "pet_to_ct.pix2pix.n02" / "metrics.csv"
    other = sweep / "08_reporting" / "evaluation" / "pet_to_ct.pix2pix.n04" / "metrics.csv"
    target.unlink()
    stamp = other.stat().st_mtime_ns
    _run(kedro_project, sweep, namespaces=["pet_to_ct.pix2pix.n02"])
    assert target.exists()
    assert other.stat().st_mtime_ns == stamp


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({"counts": [2, 5]}, r"counts \[5\] exceed the 4 training patients of pet_to_ct"),
        ({"counts": [0, 2]}, "positive integers"),
        ({"counts": [-1]}, "positive integers"),
        ({"counts": [2, 2]}, "duplicates"),
        ({"methods": ["upgan", "cyclegan"]}, "unknown method 'cyclegan'"),
        ({"tasks": ["ct_to_pet"]}, "unknown task 'ct_to_pet'"),
    ],
)
def test_bad_grids_fail_before_training(kedro_project, tmp_path, grid, message):
    root = tmp_path / "data"
    with pytest.raises(Exception, match=message):
        _run(kedro_project, root, runtime_params={"data_root": str(root), "weak_supervision": grid})
    assert not list(root.rglob("*.pt"))
