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
