"""`upgan predict` finds a cell's model in its seed folder, and asks which seed when there are several."""

from pathlib import Path

import pytest

from upgan.predict import resolve_bundle


def _model(folder: Path) -> Path:
    folder.mkdir(parents=True)
    path = folder / "model.safetensors"
    path.write_bytes(b"")
    return path


def test_a_count_folder_with_one_seed_resolves_to_it(tmp_path: Path):
    model = _model(tmp_path / "n29" / "s2021")
    assert resolve_bundle(tmp_path / "n29") == model
    assert resolve_bundle(tmp_path / "n29" / "s2021") == model
    assert resolve_bundle(model) == model


def test_several_seeds_need_a_choice(tmp_path: Path):
    _model(tmp_path / "n29" / "s2021")
    _model(tmp_path / "n29" / "s2022")
    with pytest.raises(FileNotFoundError, match=r"2 training seeds \(s2021, s2022\): give one"):
        resolve_bundle(tmp_path / "n29")


def test_no_model_names_the_expected_layout(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"n29/s2021 or its model.safetensors"):
        resolve_bundle(tmp_path / "empty")
