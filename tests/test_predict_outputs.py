"""`upgan predict` never overwrites or mixes outputs: name collisions and existing outputs are
refused (unless --overwrite), its own earlier outputs in the input folder are skipped, and each
volume's outputs are written all together or not at all (a full disk is one line)."""

import errno
import shutil

import nibabel as nib
import numpy as np
import pytest

from upgan.console import main
from upgan.io import outputs
from upgan.io.outputs import OutputExistsError, OutputWriteError, is_marked_output
from upgan.predict import predict_files


@pytest.fixture(scope="module")
def upgan_model(default_run):
    return default_run / "06_models" / "pet_to_ct" / "upgan" / "n04" / "s2021"


@pytest.fixture
def pet_folder(default_run, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(default_run / "01_raw" / "synthetic" / "pet_ct" / "sub-001" / "pet.nii.gz", folder / "scan.nii.gz")
    return folder


def _listing(folder):
    return sorted(p.name for p in folder.iterdir())


def test_two_inputs_with_one_stem_are_refused_before_any_work(upgan_model, pet_folder, tmp_path):
    image = nib.load(pet_folder / "scan.nii.gz")
    nib.save(nib.Nifti1Image(np.asarray(image.dataobj, np.float32), image.affine), pet_folder / "scan.nii")
    with pytest.raises(ValueError, match=r"scan.nii and .*scan.nii.gz would both be written to scan_ct.nii.gz"):
        predict_files(upgan_model, pet_folder, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_existing_outputs_are_refused_unless_overwrite(upgan_model, pet_folder, tmp_path):
    out = tmp_path / "out"
    first = predict_files(upgan_model, pet_folder, out, progress=False)
    stamps = {p: p.stat().st_mtime_ns for p in first}
    with pytest.raises(OutputExistsError, match="scan_ct.nii.gz and 1 more already exist: give --overwrite"):
        predict_files(upgan_model, pet_folder, out, progress=False)
    assert {p: p.stat().st_mtime_ns for p in first} == stamps
    assert main(["predict", str(upgan_model), str(pet_folder), str(out)]) == 2
    assert main(["predict", str(upgan_model), str(pet_folder), str(out), "--overwrite"]) == 0
    assert _listing(out) == ["scan_ct.nii.gz", "scan_sigma.nii.gz"]


def test_outputs_in_the_input_folder_are_not_translated_again(upgan_model, pet_folder):
    predict_files(upgan_model, pet_folder, pet_folder, progress=False)
    assert all(is_marked_output(pet_folder / n) for n in ("scan_ct.nii.gz", "scan_sigma.nii.gz"))
    assert not is_marked_output(pet_folder / "scan.nii.gz")
    shutil.copy(pet_folder / "scan_sigma.nii.gz", pet_folder / "renamed.nii.gz")  # known by its header
    written = predict_files(upgan_model, pet_folder, pet_folder, progress=False, overwrite=True)
    assert [p.name for p in written] == ["scan_ct.nii.gz", "scan_sigma.nii.gz"]
    assert _listing(pet_folder) == ["renamed.nii.gz", "scan.nii.gz", "scan_ct.nii.gz", "scan_sigma.nii.gz"]


def test_outputs_of_older_versions_are_known_by_their_name_beside_the_source(tmp_path):
    names = ["a.nii.gz", "a_ct.nii.gz", "a_sigma.nii.gz", "a_sigma_phase1.nii", "b_ct.nii.gz"]
    files = [tmp_path / n for n in names]
    inputs, skipped = outputs.split_outputs(files)
    assert [p.name for p in inputs] == ["a.nii.gz", "b_ct.nii.gz"]  # no b.nii.gz: b_ct is an input
    assert [p.name for p in skipped] == ["a_ct.nii.gz", "a_sigma.nii.gz", "a_sigma_phase1.nii"]


def test_a_full_disk_writes_none_of_the_volume_and_keeps_the_old_set(upgan_model, pet_folder, tmp_path,
                                                                     monkeypatch, caplog):
    """The second file of the set hits ENOSPC: the folder keeps the previous model's image and σ
    (not the new image beside the old σ), no staging files are left, and the CLI says it in one
    line with exit code 2."""
    out = tmp_path / "out"
    old = predict_files(upgan_model.parent / "s2022", pet_folder, out, progress=False)
    before = {p.name: p.read_bytes() for p in old}
    real = outputs.save_nifti
    calls = []

    def full_disk(volume, path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(volume, path, *args, **kwargs)

    monkeypatch.setattr(outputs, "save_nifti", full_disk)
    with pytest.raises(OutputWriteError, match="the disk is full; none of this volume's outputs were written"):
        predict_files(upgan_model, pet_folder, out, progress=False, overwrite=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    calls.clear()
    caplog.clear()
    assert main(["predict", str(upgan_model), str(pet_folder), str(out), "--overwrite"]) == 2
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "disk is full" in errors[0].getMessage() and "\n" not in errors[0].getMessage()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


# ---- MLflow models from any folder (item: runs:/, models:/, bare run ids with --tracking-uri) ----
def _cell_run(store, cell="pet_to_ct.upgan.n04.s2021"):
    import mlflow

    client = mlflow.tracking.MlflowClient(store)
    experiments = [e.experiment_id for e in client.search_experiments()]
    run = client.search_runs(experiments, f"tags.cell = '{cell}'", order_by=["start_time DESC"])[0]
    model = mlflow.search_logged_models(experiment_ids=experiments, output_format="list",
                                        filter_string=f"source_run_id = '{run.info.run_id}'")[0]
    return run.info.run_id, model.model_id


def test_mlflow_models_load_from_another_folder_and_no_store_is_created(default_run, pet_folder, tmp_path,
                                                                        monkeypatch):
    """From a folder that is not the project's, with --tracking-uri: runs:/<id>/model, the bare
    run id of a cell with a seed (<task>.<method>.n<NN>.s<seed>) and models:/<model id> all
    translate, and no mlflow.db (nor mlruns/) appears in the current folder."""
    store = f"sqlite:///{default_run.parent / 'mlflow.db'}"
    run_id, model_id = _cell_run(store)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for i, model in enumerate([f"runs:/{run_id}/model", run_id, f"models:/{model_id}"]):
        out = tmp_path / f"out{i}"
        assert main(["predict", model, str(pet_folder), str(out), "--tracking-uri", store]) == 0, model
        assert _listing(out) == ["scan_ct.nii.gz", "scan_sigma.nii.gz"]
    assert _listing(elsewhere) == []


def test_a_missing_store_is_refused_without_creating_it(pet_folder, tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    assert main(["predict", "runs:/0123456789abcdef0123456789abcdef/model", str(pet_folder), "out",
                 "--tracking-uri", "sqlite:///nowhere.db"]) == 2
    assert "no MLflow store nowhere.db" in caplog.text and "check --tracking-uri" in caplog.text
    assert not (tmp_path / "nowhere.db").exists() and not (tmp_path / "mlflow.db").exists()


def test_upgan_traceback_shows_the_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("UPGAN_TRACEBACK", "1")
    with pytest.raises(FileNotFoundError, match="no model bundle"):
        main(["predict", str(tmp_path / "missing"), str(tmp_path), str(tmp_path / "out")])
