"""Every catalog output is written atomically: a save that fails half-way (a kill, a full disk)
leaves the previous file whole and no temporary file behind; a finished save has the user's
umask, not mkstemp's 0600; the catalog uses the atomic datasets for every file it writes."""

import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from fsspec.implementations.local import LocalFileOpener
from matplotlib.figure import Figure

from upgan.io import bundle as bundle_module
from upgan.io.bundle import ModelBundle, load_bundle, save_bundle
from upgan.io.datasets import (
    AtomicCSVDataset,
    AtomicMatplotlibDataset,
    AtomicTextDataset,
    ModelBundleDataset,
    NiftiDataset,
    NpzDataset,
    SliceSetDataset,
)
from upgan.io.files import atomic_path
from upgan.io.nifti import NiftiVolume
from upgan.io.slices import SliceSet

CATALOG = Path(__file__).resolve().parents[2] / "conf" / "base" / "catalog.yml"


class DiskFull(OSError):
    pass


@pytest.fixture(autouse=True)
def _umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture()
def half_written(monkeypatch):
    """Make the next write to a local file through fsspec write half its bytes, then fail."""

    def write(self, data):
        self.f.write(data[: max(1, len(data) // 2)])
        self.f.flush()
        raise DiskFull("no space left on device")

    monkeypatch.setattr(LocalFileOpener, "write", write)


def _figure(title: str) -> Figure:
    fig = Figure(figsize=(2, 2))
    fig.add_subplot().set_title(title)
    return fig


KEDRO_CASES = {
    "csv": (lambda p: AtomicCSVDataset(filepath=str(p / "summary.csv"), save_args={"index": False}),
            lambda: pd.DataFrame({"a": [1, 2]}), lambda: pd.DataFrame({"a": range(5000), "b": 0.5})),
    "text": (lambda p: AtomicTextDataset(filepath=str(p / "table1.md")),
             lambda: "| old |\n", lambda: "| new |\n" * 2000),
    "png": (lambda p: AtomicMatplotlibDataset(filepath=str(p / "figures" / "methods.png")),
            lambda: _figure("old"), lambda: _figure("new")),
}


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("kind", sorted(KEDRO_CASES))
def test_a_failed_save_leaves_the_previous_output_and_no_temporary_file(kind, tmp_path, request):
    make, old, new = KEDRO_CASES[kind]
    dataset = make(tmp_path)
    dataset.save(old())
    path = Path(dataset._filepath)
    before, listing = path.read_bytes(), _files(tmp_path)
    request.getfixturevalue("half_written")
    with pytest.raises(Exception, match="no space left"):
        dataset.save(new())
    assert path.read_bytes() == before
    assert _files(tmp_path) == listing  # no temporary file left


@pytest.mark.parametrize("kind", sorted(KEDRO_CASES))
def test_a_finished_save_replaces_the_file_with_the_users_umask(kind, tmp_path):
    make, old, new = KEDRO_CASES[kind]
    dataset = make(tmp_path)
    dataset.save(old())
    dataset.save(new())
    path = Path(dataset._filepath)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert _files(tmp_path) == [str(path.relative_to(tmp_path))]
    if kind == "csv":
        assert len(dataset.load()) == 5000
    elif kind == "text":
        assert dataset.load() == "| new |\n" * 2000


def test_a_list_of_figures_is_still_a_folder(tmp_path):
    dataset = AtomicMatplotlibDataset(filepath=str(tmp_path / "figs"))
    dataset.save([_figure("a"), _figure("b")])
    assert _files(tmp_path) == ["figs/0.png", "figs/1.png"]


def _slices(value: float) -> SliceSet:
    x = np.full((2, 1, 4, 4), value, np.float32)
    return SliceSet(x, x.copy(), np.array(["s1", "s1"]), np.array([0, 1], np.int32))


def _raise_after_part(real):
    """A writer that starts writing the file it was given, then fails."""

    def write(*args, **kwargs):
        target = next(a for a in (*args, *kwargs.values()) if isinstance(a, (str, os.PathLike)))
        Path(target).write_bytes(b"PK\x03\x04 part of a file")
        raise DiskFull("no space left on device")

    return write


def test_the_projects_own_datasets_are_atomic(tmp_path, monkeypatch):
    """SliceSetDataset, NpzDataset, ModelBundleDataset and NiftiDataset keep the old file when
    their writer fails half-way."""
    cases = [
        (SliceSetDataset(str(tmp_path / "train.npz")), _slices(0.0), _slices(1.0), np, "savez"),
        (NpzDataset(str(tmp_path / "example.npz")), {"x": np.zeros(3)}, {"x": np.ones(3)}, np, "savez"),
        (ModelBundleDataset(str(tmp_path / "model.safetensors")), ModelBundle({"g.w": torch.zeros(2)}, {"a": 1}),
         ModelBundle({"g.w": torch.ones(2)}, {"a": 2}), bundle_module, "save_file"),
        (NiftiDataset(str(tmp_path / "p.nii.gz")), NiftiVolume(np.zeros((4, 4, 4), np.float32), np.eye(4)),
         NiftiVolume(np.ones((4, 4, 4), np.float32), np.eye(4)), __import__("nibabel"), "save"),
    ]
    for dataset, old, new, module, writer in cases:
        dataset.save(old)
        before, listing = dataset.path.read_bytes(), _files(tmp_path)
        with monkeypatch.context() as patch:
            patch.setattr(module, writer, _raise_after_part(getattr(module, writer)))
            with pytest.raises(Exception, match="no space left"):
                dataset.save(new)
        assert dataset.path.read_bytes() == before, dataset
        assert _files(tmp_path) == listing, dataset


def test_atomic_path_replaces_only_on_success(tmp_path):
    target = tmp_path / "sub" / "out.nii.gz"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.name.endswith(".nii.gz")
        tmp.write_text("first")
    assert target.read_text() == "first" and stat.S_IMODE(os.stat(target).st_mode) == 0o644
    with pytest.raises(DiskFull), atomic_path(target) as tmp:
        tmp.write_text("second, cut")
        raise DiskFull
    assert target.read_text() == "first" and _files(tmp_path) == ["sub/out.nii.gz"]


def test_a_failed_bundle_save_keeps_the_old_bundle(tmp_path, monkeypatch):
    path = save_bundle(ModelBundle({"g.w": torch.zeros(2)}, {"v": 1}), tmp_path / "model.safetensors")
    monkeypatch.setattr(bundle_module, "save_file", _raise_after_part(bundle_module.save_file))
    with pytest.raises(DiskFull):
        save_bundle(ModelBundle({"g.w": torch.ones(2)}, {"v": 2}), path)
    assert load_bundle(path).config == {"v": 1} and _files(tmp_path) == ["model.safetensors"]


def test_the_catalog_writes_every_file_through_an_atomic_dataset():
    in_place = {"pandas.CSVDataset", "matplotlib.MatplotlibDataset", "text.TextDataset"}
    atomic = {"upgan.io.datasets.AtomicCSVDataset", "upgan.io.datasets.AtomicMatplotlibDataset",
              "upgan.io.datasets.AtomicTextDataset", "upgan.io.datasets.SliceSetDataset",
              "upgan.io.datasets.ModelBundleDataset", "upgan.io.datasets.NiftiDataset",
              "upgan.io.datasets.NpzDataset"}

    def file_types(entry: dict) -> list[str]:
        inner = entry.get("dataset")
        if isinstance(inner, dict):
            return file_types(inner)
        return [entry["type"]]

    catalog = yaml.safe_load(CATALOG.read_text())
    types = {name: t for name, entry in catalog.items() for t in file_types(entry)}
    assert not {n: t for n, t in types.items() if t in in_place}
    assert not {n: t for n, t in types.items() if t not in atomic}
