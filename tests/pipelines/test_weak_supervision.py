"""The weak-supervision sweep on the test env (2 counts x the methods of conf/test): outputs,
nested subsets, resuming, running one cell alone, bad grids."""

from pathlib import Path

import pandas as pd
import pytest
import yaml

from upgan.evaluation import CONTRACT_COLUMNS
from upgan.io.bundle import load_bundle
from upgan.methods import get

GRID = yaml.safe_load((Path(__file__).resolve().parents[2] / "conf" / "test" / "parameters_weak_supervision.yml")
                      .read_text())["weak_supervision"]
CELLS = [(m, n) for m in GRID["methods"] for n in GRID["counts"]]
SEEDS = yaml.safe_load((Path(__file__).resolve().parents[2] / "conf" / "test" / "parameters_training.yml")
                       .read_text())["seeds"]


@pytest.fixture(scope="module")
def sweep(kedro_project, tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep") / "data"
    kedro_project(pipeline_names=["weak_supervision"], runtime_params={"data_root": str(root)})
    return root


def _run(kedro_project, root, runtime_params=None, **kwargs):
    params = {"data_root": str(root), **(runtime_params or {})}
    return kedro_project(pipeline_names=["weak_supervision"], runtime_params=params, **kwargs)


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


def test_sweep_budget_is_the_same_for_every_patient_count(sweep):
    """Every cell makes training.steps updates per generator / phase (conf/test), whatever its
    number of training patients."""
    conf = yaml.safe_load((Path(__file__).resolve().parents[2] / "conf" / "test" / "parameters_training.yml")
                          .read_text())
    budget = pd.read_csv(sweep / "08_reporting" / "weak_supervision" / "budget.csv")
    n_phases = conf["upgan"]["n_phases"]
    expected = {(method, n, "generator") for method, n in CELLS if get(method).kind != "cascade"}
    expected |= {(method, n, f"phase_{m}") for method, n in CELLS if get(method).kind == "cascade" for m in range(n_phases)}
    expected |= {(method, n, "fine_tune") for method, n in CELLS if get(method).kind == "cascade"}
    assert set(zip(budget.method, budget.n_train_patients, budget.network, strict=True)) == expected
    assert sorted(budget.seed.unique()) == SEEDS
    assert len(budget) == len(expected) * len(SEEDS)  # every network once per seed
    fine = budget.network == "fine_tune"
    assert (budget.loc[~fine, "updates"] == conf["training"]["steps"]).all()
    assert (budget.loc[fine, "updates"] == conf["upgan"]["fine_tune"]["steps"]).all()
    assert ((0 <= budget.selected_step) & (budget.selected_step <= budget.updates)).all()


def test_subsets_are_nested_and_test_subjects_shared(sweep):
    models = sweep / "06_models" / "pet_to_ct"
    small = load_bundle(models / "upgan" / "n02" / "s2021" / "model.safetensors").config["train_subjects"]
    large = load_bundle(models / "upgan" / "n04" / "s2021" / "model.safetensors").config["train_subjects"]
    assert len(small) == 2 and len(large) == 4 and set(small) < set(large)
    assert load_bundle(models / "pix2pix" / "n02" / "s2021" / "model.safetensors").config["train_subjects"] == small
    metrics = pd.read_csv(sweep / "08_reporting" / "weak_supervision" / "metrics_per_subject.csv")
    subjects = metrics.groupby(["method", "n_train_patients"])["subject_id"].apply(frozenset)
    assert subjects.nunique() == 1


def test_rerun_after_interruption_trains_only_the_missing_cell(checkpoint_times, kedro_project, sweep):
    cell = sweep / "06_models" / "pet_to_ct" / "upgan" / "n02" / "s2021"
    for path in [*cell.glob("*.safetensors"), *(sweep / "06_models" / "checkpoints" / "pet_to_ct" / "upgan" / "n02" / "s2021").glob("*.pt")]:
        path.unlink()  # as if the sweep had been killed before this cell trained
    before = checkpoint_times(sweep)
    _run(kedro_project, sweep)
    after = checkpoint_times(sweep)
    assert {p: t for p, t in after.items() if p in before} == before  # finished cells untouched
    new = set(after) - set(before)
    assert new and all("upgan/n02/s2021" in str(p) for p in new)  # the other seed was finished: skipped
    assert (cell / "model.safetensors").exists()


def test_one_seed_of_one_cell_alone(kedro_project, sweep):
    """``--namespaces <task>.<method>.n<NN>.s<seed>`` runs that seed of that cell and nothing else
    (not the cell's other seed, not another count)."""
    evaluation = sweep / "08_reporting" / "evaluation"
    target = evaluation / f"pet_to_ct.pix2pix.n02.s{SEEDS[0]}" / "metrics.csv"
    others = [evaluation / f"pet_to_ct.pix2pix.n04.s{SEEDS[0]}" / "metrics.csv",
              evaluation / f"pet_to_ct.pix2pix.n02.s{SEEDS[1]}" / "metrics.csv"]
    target.unlink()
    stamps = [other.stat().st_mtime_ns for other in others]
    _run(kedro_project, sweep, namespaces=[f"pet_to_ct.pix2pix.n02.s{SEEDS[0]}"])
    assert target.exists()
    assert [other.stat().st_mtime_ns for other in others] == stamps


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


@pytest.fixture
def structure_params():
    """Activate a parameter set for :mod:`upgan.structure` (the test env's, changed), restored after."""
    from kedro.config import OmegaConfigLoader

    from upgan import structure
    from upgan.settings import CONFIG_LOADER_ARGS

    saved = dict(structure._active)
    loader = OmegaConfigLoader(conf_source=str(structure.PROJECT_ROOT / "conf"), env="test", **CONFIG_LOADER_ARGS)
    base = dict(loader["parameters"])

    def activate(**changes):
        structure.activate("test", {**base, **changes})

    yield activate
    structure._active.update(saved)


def test_sweep_follows_the_configured_tasks(structure_params, caplog):
    from upgan.pipeline_registry import register_pipelines

    structure_params(tasks=["mri_recon", "mri_motion"])  # the sweep still names pet_to_ct
    with caplog.at_level("WARNING", logger="upgan.structure"):
        pipelines = register_pipelines()
    assert [n.name for n in pipelines["weak_supervision"].nodes] == ["weak_supervision.no_sweep"]
    assert {n.namespace.split(".")[0] for n in pipelines["__default__"].nodes if n.namespace} == {
        "mri_recon", "mri_motion"}
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings and all("weak_supervision.tasks" in w and "`tasks`" in w and "pet_to_ct" in w for w in warnings)
    structure_params(tasks=["mri_recon", "pet_to_ct"], weak_supervision={"tasks": ["pet_to_ct", "mri_motion"],
                                                                         "counts": [2], "methods": ["upgan"]})
    sweep = register_pipelines()["weak_supervision"]
    assert {n.namespace.split(".")[0] for n in sweep.nodes if n.namespace} == {"pet_to_ct", "weak_supervision"}


def test_runs_work_when_the_tasks_leave_the_sweep_empty(kedro_project, tmp_path):
    root = tmp_path / "data"
    restricted = {"data_root": str(root), "tasks": ["mri_recon", "mri_motion"]}
    kedro_project(pipeline_names=["data_preparation"], namespaces=["mri_recon"], runtime_params=restricted)
    assert (root / "05_model_input" / "mri_recon" / "train.npz").exists()
    with pytest.raises(ValueError, match=r"weak_supervision.tasks \['pet_to_ct'\].*`tasks` \['mri_recon', 'mri_motion'\]"):
        _run(kedro_project, root, runtime_params=restricted)
