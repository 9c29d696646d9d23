"""A task's prepared data are one set: a preparation that fails or stops part-way (a new
split.csv beside old slices) makes the next load fail with one message naming the task folder
and the command that prepares it again, instead of training on mismatched data."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from kedro.framework.session import KedroSession
from kedro.io import DatasetError

from upgan.io.datasets import PreparedSlices, SliceSetDataset
from upgan.io.slices import SliceSet
from upgan.pipelines.data_preparation import nodes

PROJECT_PATH = Path(__file__).resolve().parents[2]
RERUN = "kedro run --pipeline data_preparation --namespaces pet_to_ct"


def _catalog_load(data_root, name):
    """Load a dataset through the test env's catalog, as a training or evaluation node gets it."""
    params = {"data_root": str(data_root)}
    with KedroSession.create(project_path=PROJECT_PATH, env="test", runtime_params=params) as session:
        return session.load_context().catalog.load(name)


def test_a_failed_preparation_after_a_new_split_stops_the_next_load(kedro_project, tmp_path, monkeypatch):
    params = {"data_root": str(tmp_path / "data")}
    root, _ = kedro_project(pipeline_names=["data_preparation"], namespaces=["pet_to_ct"], runtime_params=params)
    folder = root / "05_model_input" / "pet_to_ct"
    before = {s: (folder / f"{s}.npz").read_bytes() for s in ("train", "val", "test")}
    assert len(_catalog_load(root, "pet_to_ct.train_slices")) > 0

    def fail(*args, **kwargs):
        raise RuntimeError("killed while preparing")

    monkeypatch.setattr(nodes, "prepare_subject", fail)
    changed = {**params, "pet_to_ct": {"split": {"seed": 11}}}
    with pytest.raises(RuntimeError, match="killed while preparing"):
        kedro_project(pipeline_names=["data_preparation"], namespaces=["pet_to_ct"], runtime_params=changed)
    assert {s: (folder / f"{s}.npz").read_bytes() for s in before} == before  # the old slices stay

    for name in ("pet_to_ct.train_slices", "pet_to_ct.val_slices", "pet_to_ct.test_slices"):
        with pytest.raises(DatasetError) as caught:
            _catalog_load(root, name)
        message = str(caught.value)
        assert str(folder) in message and RERUN in message and "split.csv" in message

    monkeypatch.undo()  # preparing again with the new split makes a usable set
    kedro_project(pipeline_names=["data_preparation"], namespaces=["pet_to_ct"], runtime_params=changed)
    train = _catalog_load(root, "pet_to_ct.train_slices")
    assert isinstance(train, PreparedSlices) and len(train) > 0


# ---- the same guard, node by node (no Kedro session) ---------------------------------------------
SPLIT = {"train": 1, "val": 1, "test": 1, "seed": 0}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cohort")
    cohorts = {"pet_ct": {"source": "synthetic", "synthetic_dir": str(folder / "pet_ct"), "n_subjects": 3,
                          "seed": 3, "simulation": {"shape": [32, 32, 16], "spacing_mm": [7.0, 7.0, 8.0]}}}
    return nodes.index_cohort("pet_to_ct", cohorts, {}), cohorts


def _prepare(cohort, folder, preparation, split=SPLIT):
    """split_cohort and prepare_slices into ``folder`` as the catalog saves them."""
    index, cohorts = cohort
    manifest = nodes.split_cohort("pet_to_ct", index, split, cohorts, preparation)
    train, val, test, volumes = nodes.prepare_slices("pet_to_ct", index, manifest, preparation, cohorts, split)
    folder.mkdir(parents=True, exist_ok=True)
    manifest.to_csv(folder / "split.csv", index=False)
    volumes.to_csv(folder / "volumes.csv", index=False)
    for name, slices in (("train", train), ("val", val), ("test", test)):
        SliceSetDataset(str(folder / f"{name}.npz")).save(slices)
    return manifest


def test_changed_preparation_settings_and_a_failed_preparation(cohort, tmp_path):
    folder = tmp_path / "pet_to_ct"
    _prepare(cohort, folder, {"slice_size": 32})
    assert SliceSetDataset(str(folder / "train.npz")).load().inputs.shape[-1] == 32
    index, cohorts = cohort
    # new preparation settings: split.csv is written, then the slice preparation fails
    nodes.split_cohort("pet_to_ct", index, SPLIT, cohorts, {"slice_size": 16}).to_csv(folder / "split.csv", index=False)
    with pytest.raises(DatasetError, match="prepared data of .*pet_to_ct do not belong together"):
        SliceSetDataset(str(folder / "train.npz")).load()


def test_a_preparation_stopped_between_its_outputs(cohort, tmp_path):
    """Killed after saving train.npz of a new split but before val.npz and test.npz: the old
    val.npz and test.npz do not load beside the new manifests; the new train.npz does."""
    old, new = tmp_path / "old", tmp_path / "new"
    _prepare(cohort, old, {"slice_size": 32})
    _prepare(cohort, new, {"slice_size": 32}, {**SPLIT, "seed": 1})
    mixed = tmp_path / "pet_to_ct"
    shutil.copytree(old, mixed)
    for name in ("split.csv", "volumes.csv", "train.npz"):
        shutil.copy(new / name, mixed / name)
    assert len(SliceSetDataset(str(mixed / "train.npz")).load()) > 0
    for name in ("val.npz", "test.npz"):
        with pytest.raises(DatasetError, match="do not belong together"):
            SliceSetDataset(str(mixed / name)).load()
    shutil.copy(old / "volumes.csv", mixed / "volumes.csv")  # volumes.csv is checked too
    with pytest.raises(DatasetError, match="than volumes.csv"):
        SliceSetDataset(str(mixed / "train.npz")).load()


def test_prepare_slices_refuses_a_split_made_by_other_settings(cohort):
    index, cohorts = cohort
    manifest = nodes.split_cohort("pet_to_ct", index, SPLIT, cohorts, {"slice_size": 32})
    with pytest.raises(ValueError, match=f"split.csv.*{RERUN}"):
        nodes.prepare_slices("pet_to_ct", index, manifest, {"slice_size": 16}, cohorts, SPLIT)
    with pytest.raises(ValueError, match="split.csv"):
        nodes.prepare_slices("pet_to_ct", index, manifest.drop(columns="fingerprint"), {"slice_size": 32},
                             cohorts, SPLIT)


def test_fingerprint_reads_defaults_and_ignores_worker_count(cohort):
    index, cohorts = cohort
    base = nodes.preparation_fingerprint("pet_to_ct", index, SPLIT, {}, cohorts)
    assert base == nodes.preparation_fingerprint("pet_to_ct", index, SPLIT, {"slice_size": 64}, cohorts)
    more_workers = {"pet_ct": {**cohorts["pet_ct"], "n_workers": 4}}
    assert base == nodes.preparation_fingerprint("pet_to_ct", index, SPLIT, None, more_workers)
    for other in (nodes.preparation_fingerprint("pet_to_ct", index, {**SPLIT, "seed": 1}, {}, cohorts),
                  nodes.preparation_fingerprint("pet_to_ct", index, SPLIT, {"min_foreground": 0.2}, cohorts),
                  nodes.preparation_fingerprint("pet_to_ct", index.iloc[:-2], SPLIT, {}, cohorts)):
        assert other != base


def test_slices_outside_a_prepared_folder_load_without_a_check(tmp_path):
    x = np.zeros((2, 1, 8, 8), np.float32)
    SliceSetDataset(str(tmp_path / "train.npz")).save(SliceSet(x, x, np.array(["a", "b"]), np.arange(2)))
    loaded = SliceSetDataset(str(tmp_path / "train.npz")).load()
    assert type(loaded) is SliceSet and len(loaded) == 2
