"""`upgan predict`: NIfTI in, translated NIfTI + σ out, with the input's geometry."""

import nibabel as nib
import numpy as np
import pytest
import torch

from upgan.console import main
from upgan.predict import TaskMismatchError, predict_files


@pytest.fixture(scope="module")
def models(default_run):
    return default_run / "06_models"


def _cell(models, task: str, method: str):
    """The model folder of cell ``<task>.<method>.n04``: the first training seed's where the
    cell has one folder per seed (``n04/s<seed>``)."""
    folder = models / task / method / "n04"
    seeds = sorted(folder.glob("s*/model.safetensors"))
    return seeds[0].parent if seeds and not (folder / "model.safetensors").exists() else folder


def test_pet_volume_to_ct_in_hu(default_run, models, tmp_path):
    pet = default_run / "01_raw" / "synthetic" / "pet_ct" / "sub-001" / "pet.nii.gz"
    written = predict_files(_cell(models, "pet_to_ct", "upgan"), pet, tmp_path, phases=True, progress=False)
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
    predict_files(_cell(models, "mri_motion", "upgan") / "model.safetensors", t1.parent, tmp_path, progress=False)
    out = nib.load(tmp_path / t1.name.replace(".nii.gz", "_t1.nii.gz"))
    source = nib.load(t1)
    assert nib.aff2axcodes(out.affine) == nib.aff2axcodes(source.affine) == ("P", "I", "R")
    assert out.shape == source.shape


def test_baseline_has_no_sigma(default_run, models, tmp_path):
    pet = default_run / "01_raw" / "synthetic" / "pet_ct" / "sub-001" / "pet.nii.gz"
    written = predict_files(_cell(models, "pet_to_ct", "pix2pix"), pet, tmp_path, progress=False)
    assert [p.name for p in written] == ["pet_ct.nii.gz"]


def _save(path, data, affine=None):
    nib.save(nib.Nifti1Image(np.asarray(data, np.float32), np.eye(4) if affine is None else affine), str(path))
    return path


def test_errors(default_run, models, tmp_path):
    model = _cell(models, "pet_to_ct", "upgan")
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
    code = main(["predict", str(_cell(models, "pet_to_ct", "upgan")), str(tmp_path / "nope.nii.gz"), str(tmp_path)])
    assert code == 2
    assert "nope.nii.gz not found" in caplog.text


def test_model_from_an_mlflow_run_id(default_run, tmp_path, monkeypatch):
    import mlflow

    runs = mlflow.search_runs(search_all_experiments=True, filter_string="tags.cell LIKE 'pet_to_ct.upgan.n04%'")
    run_id = runs.sort_values("start_time").iloc[-1].run_id
    pet = default_run / "01_raw" / "synthetic" / "pet_ct" / "sub-002" / "pet.nii.gz"
    assert main(["predict", run_id, str(pet), str(tmp_path)]) == 0
    assert (tmp_path / "pet_ct.nii.gz").exists() and (tmp_path / "pet_sigma.nii.gz").exists()


# ---- clipping to the valid range (default) and --no-clip -----------------------------------------
def _widened(bundle_path, out_path):
    """A copy of a cascade bundle whose last phase's image head outputs a constant, so that its
    raw prediction leaves the valid range [0, 1] but stays near it, as a trained model's may:
    1.2 everywhere, or the input + 0.3 for generators that add their input (residual learning)."""
    from upgan.io.bundle import ModelBundle, load_bundle, save_bundle

    bundle = load_bundle(bundle_path)
    cascade = bundle.config["cascade"]
    level = 0.3 if cascade["unet"].get("residual_from") is not None else 1.2
    last = int(cascade["n_phases"]) - 1
    tensors = dict(bundle.tensors)
    tensors[f"generator_{last}.image_head.weight"] = torch.zeros_like(tensors[f"generator_{last}.image_head.weight"])
    tensors[f"generator_{last}.image_head.bias"] = torch.full_like(tensors[f"generator_{last}.image_head.bias"], level)
    return save_bundle(ModelBundle(tensors, bundle.config), out_path)


def test_cli_clips_to_the_hu_window_unless_no_clip(models, tmp_path):
    """On a 32 x 32 x Z volume (the test env's slice size: no resampling) the default output is
    exactly the --no-clip output clipped to the CT window, and the --no-clip output has values
    outside it."""
    model = _widened(_cell(models, "pet_to_ct", "upgan") / "model.safetensors", tmp_path / "wide.safetensors")
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:32, :32]
    blob = np.exp(-((yy - 16) ** 2 + (xx - 15) ** 2) / 80.0)
    pet = np.stack([blob * (2.0 + k) + 0.1 * rng.random((32, 32)) for k in range(6)], axis=-1)
    source = _save(tmp_path / "scan_pet.nii.gz", pet)
    assert main(["predict", str(model), str(source), str(tmp_path / "clipped")]) == 0
    assert main(["predict", str(model), str(source), str(tmp_path / "raw"), "--no-clip"]) == 0
    clipped = nib.load(tmp_path / "clipped" / "scan_pet_ct.nii.gz").get_fdata()
    raw = nib.load(tmp_path / "raw" / "scan_pet_ct.nii.gz").get_fdata()
    assert clipped.shape == raw.shape == pet.shape
    assert raw.min() < -1024.0 or raw.max() > 3071.0  # the case is an out-of-range one
    assert -1024.0 <= clipped.min() and clipped.max() <= 3071.0
    np.testing.assert_allclose(clipped, np.clip(raw, -1024.0, 3071.0), rtol=0, atol=1e-3)
    # σ is never clipped: the same in both
    np.testing.assert_array_equal(nib.load(tmp_path / "clipped" / "scan_pet_sigma.nii.gz").get_fdata(),
                                  nib.load(tmp_path / "raw" / "scan_pet_sigma.nii.gz").get_fdata())


def test_mri_prediction_lies_in_zero_to_the_input_scale(default_run, models, tmp_path):
    """T1: the valid range [0, 1] of the normalised scale is [0, scale] of the input's own
    intensities (scale: the input's robust maximum, PercentileScale), also after resampling
    back to the input's grid; predict_files(clip=False) writes the raw values."""
    from upgan.io.bundle import load_bundle
    from upgan.io.nifti import load_nifti
    from upgan.predict import _canonical_transform, predict_volume
    from upgan.preparation.normalisation import PercentileScale

    t1 = next((default_run / "01_raw" / "synthetic" / "ixi_t1").glob("*-T1.nii.gz"))
    path = _widened(_cell(models, "mri_motion", "upgan") / "model.safetensors", tmp_path / "wide.safetensors")
    bundle = load_bundle(path)
    volume = load_nifti(t1)
    data = nib.orientations.apply_orientation(volume.data, _canonical_transform(volume.affine))
    scale = PercentileScale(float(bundle.config["preparation"].get("percentile", 99.5))).scale_of(
        data.astype(np.float32))
    clipped = predict_volume(bundle, volume, device="cpu").image
    raw = predict_volume(bundle, volume, device="cpu", clip=False).image
    assert raw.min() < 0.0 or raw.max() > scale  # the case is an out-of-range one
    tol = 1e-5 * scale
    assert clipped.min() >= -tol and clipped.max() <= scale + tol
    for clip, expected in ((False, raw), (True, clipped)):
        written = predict_files(path, t1, tmp_path / f"out_{clip}", progress=False, clip=clip)
        image = next(p for p in written if p.name.endswith("_t1.nii.gz"))
        np.testing.assert_allclose(nib.load(image).get_fdata(), expected, rtol=1e-6, atol=tol)


# ---- damaged bundles and bad output folders give one clear error, nothing written -----------------
def _pet(tmp_path, models):
    """A PET volume of the test cohort as ``scan.nii.gz`` (like the training inputs: the
    bundles' input check passes, so the damage under test is what fails)."""
    image = nib.load(models.parent / "01_raw" / "synthetic" / "pet_ct" / "sub-003" / "pet.nii.gz")
    return _save(tmp_path / "scan.nii.gz", np.asarray(image.dataobj, np.float32), image.affine)


def _edited(bundle_path, out_path, edit):
    from upgan.io.bundle import ModelBundle, load_bundle, save_bundle

    bundle = load_bundle(bundle_path)
    tensors, config = edit(dict(bundle.tensors), dict(bundle.config))
    return save_bundle(ModelBundle(tensors, config), out_path)


def test_nan_weights_fail_and_write_nothing(models, tmp_path):
    def nan(tensors, config):
        key = next(k for k in tensors if k.endswith("image_head.weight"))
        tensors[key] = tensors[key] * float("nan")
        return tensors, config

    bundle = _edited(_cell(models, "pet_to_ct", "upgan") / "model.safetensors", tmp_path / "nan.safetensors", nan)
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="non-finite"):
        predict_files(bundle, _pet(tmp_path, models), out, progress=False)
    assert not out.exists()


def test_bundle_whose_config_disagrees_with_its_weights_fails(models, tmp_path):
    def one_phase(tensors, config):
        config["cascade"] = {**config["cascade"], "n_phases": 1}
        return tensors, config

    bundle = _edited(_cell(models, "pet_to_ct", "upgan") / "model.safetensors", tmp_path / "m1.safetensors",
                     one_phase)
    with pytest.raises(ValueError, match="M = 1 phases but it holds"):
        predict_files(bundle, _pet(tmp_path, models), tmp_path / "out", progress=False)


def test_output_folder_that_is_a_file_fails_clearly(models, tmp_path):
    target = tmp_path / "taken"
    target.write_text("not a folder")
    with pytest.raises(ValueError, match="is a file"):
        predict_files(_cell(models, "pet_to_ct", "pix2pix"), _pet(tmp_path, models), target, progress=False)


def test_a_bundle_with_a_layer_scaled_by_1e4_fails_naming_it(models, tmp_path, caplog):
    """Raw outputs far outside the valid range (here thousands of window widths) fail with one
    message naming the bundle, with or without --no-clip; nothing is written."""

    def scaled(tensors, config):
        for key in [k for k in tensors if k.startswith("generator_1.image_head.")]:
            tensors[key] = tensors[key] * 1e4
        return tensors, config

    bundle = _edited(_cell(models, "pet_to_ct", "upgan") / "model.safetensors", tmp_path / "x1e4.safetensors",
                     scaled)
    for flags in ([], ["--no-clip"]):
        assert main(["predict", str(bundle), str(_pet(tmp_path, models)), str(tmp_path / "out"), *flags]) == 2
        assert "outputs are out of range" in caplog.text and str(bundle) in caplog.text
        caplog.clear()
    assert not (tmp_path / "out").exists()
