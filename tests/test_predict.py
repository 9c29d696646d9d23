"""`upgan predict`: NIfTI in, translated NIfTI + σ out, with the input's geometry."""

import nibabel as nib
import numpy as np
import pytest

from upgan.console import main
from upgan.predict import TaskMismatchError, predict_files


@pytest.fixture(scope="module")
def models(default_run):
    return default_run / "06_models"


def test_pet_volume_to_ct_in_hu(default_run, models, tmp_path):
    pet = default_run / "01_raw" / "synthetic" / "pet_ct" / "sub-001" / "pet.nii.gz"
    written = predict_files(models / "pet_to_ct" / "upgan" / "n04", pet, tmp_path, phases=True, progress=False)
    names = sorted(p.name for p in written)
    assert names == ["pet_ct.nii.gz", "pet_sigma.nii.gz", "pet_sigma_phase0.nii.gz", "pet_sigma_phase1.nii.gz"]
    source = nib.load(pet)
    ct = nib.load(tmp_path / "pet_ct.nii.gz")
    assert ct.shape == source.shape
    np.testing.assert_allclose(ct.affine, source.affine, atol=1e-5)
    data = ct.get_fdata()
    assert -1024.5 <= data.min() and data.max() <= 3071.5
    assert (nib.load(tmp_path / "pet_sigma.nii.gz").get_fdata() >= 0).all()


def test_ixi_orientation_is_kept(default_run, models, tmp_path):
    t1 = next((default_run / "01_raw" / "synthetic" / "ixi_t1").glob("*-T1.nii.gz"))
    predict_files(models / "mri_motion" / "upgan" / "n04" / "model.safetensors", t1.parent, tmp_path, progress=False)
    out = nib.load(tmp_path / t1.name.replace(".nii.gz", "_t1.nii.gz"))
    source = nib.load(t1)
    assert nib.aff2axcodes(out.affine) == nib.aff2axcodes(source.affine) == ("P", "I", "R")
    assert out.shape == source.shape


def test_baseline_has_no_sigma(default_run, models, tmp_path):
    pet = default_run / "01_raw" / "synthetic" / "pet_ct" / "sub-001" / "pet.nii.gz"
    written = predict_files(models / "pet_to_ct" / "pix2pix" / "n04", pet, tmp_path, progress=False)
    assert [p.name for p in written] == ["pet_ct.nii.gz"]


def _save(path, data, affine=None):
    nib.save(nib.Nifti1Image(np.asarray(data, np.float32), np.eye(4) if affine is None else affine), str(path))
    return path


def test_errors(default_run, models, tmp_path):
    model = models / "pet_to_ct" / "upgan" / "n04"
    with pytest.raises(FileNotFoundError, match="not found"):
        predict_files(model, tmp_path / "missing.nii.gz", tmp_path / "out", progress=False)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="not a NIfTI"):
        predict_files(model, tmp_path / "notes.txt", tmp_path / "out", progress=False)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="3D"):
        predict_files(model, _save(tmp_path / "flat.nii.gz", rng.random((16, 16))), tmp_path / "out", progress=False)
    with pytest.raises(ValueError, match="3D"):
        predict_files(model, _save(tmp_path / "series.nii.gz", rng.random((8, 8, 8, 3))), tmp_path / "out",
                      progress=False)
    ct = default_run / "01_raw" / "synthetic" / "pet_ct" / "sub-001" / "ct.nii.gz"
    with pytest.raises(TaskMismatchError, match="pet_to_ct"):
        predict_files(model, ct, tmp_path / "out", progress=False)
    t1 = _save(tmp_path / "IXI001-HH-0001-T1.nii.gz", rng.random((16, 16, 8)) + 1)
    with pytest.raises(TaskMismatchError, match="suggests T1"):
        predict_files(model, t1, tmp_path / "out", progress=False)
    with pytest.raises(FileNotFoundError, match="no model bundle"):
        predict_files(tmp_path, ct, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_cli_reports_errors_with_exit_code_2(models, tmp_path, caplog):
    code = main(["predict", str(models / "pet_to_ct" / "upgan" / "n04"), str(tmp_path / "nope.nii.gz"), str(tmp_path)])
    assert code == 2
    assert "nope.nii.gz not found" in caplog.text


def test_model_from_an_mlflow_run_id(default_run, tmp_path, monkeypatch):
    import mlflow

    runs = mlflow.search_runs(search_all_experiments=True, filter_string="tags.cell = 'pet_to_ct.upgan.n04'")
    run_id = runs.sort_values("start_time").iloc[-1].run_id
    pet = default_run / "01_raw" / "synthetic" / "pet_ct" / "sub-002" / "pet.nii.gz"
    assert main(["predict", run_id, str(pet), str(tmp_path)]) == 0
    assert (tmp_path / "pet_ct.nii.gz").exists() and (tmp_path / "pet_sigma.nii.gz").exists()
