"""Operational errors are one line that says what happened and what to do, with nothing half
written: a full disk during a checkpoint write, a read-only tracking folder, a feature-extractor
file that would need unpickling code."""

import errno
import os
import pickle

import pytest
import torch

from upgan.cli import user_error
from upgan.io.files import StorageError
from upgan.training import checkpoint


def test_a_full_disk_during_a_checkpoint_write_is_one_line_and_keeps_the_old_one(tmp_path, monkeypatch):
    path = tmp_path / "stage.pt"
    checkpoint.save_atomic({"step": 1}, path)

    def full(obj, f, *args, **kwargs):
        with open(f, "wb") as handle:
            handle.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint.torch, "save", full)
    with pytest.raises(StorageError, match=r"cannot write the checkpoint .*stage.pt: the disk is full") as info:
        checkpoint.save_atomic({"step": 2}, path)
    assert "\n" not in str(info.value)
    assert torch.load(path, weights_only=True) == {"step": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stage.pt"]  # no temporary file left


def test_torch_writer_errors_on_a_full_disk_name_the_disk(tmp_path, monkeypatch):
    """torch.save reports a full disk as ``unexpected pos``, without an errno: the free space
    decides."""
    def enforce_fail(obj, f, *args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 33024 vs 32920")

    monkeypatch.setattr(checkpoint.torch, "save", enforce_fail)
    monkeypatch.setattr("upgan.io.files.shutil.disk_usage", lambda p: type("U", (), {"free": 4096})())
    with pytest.raises(StorageError, match="the disk is full"):
        checkpoint.save_atomic({"step": 2}, tmp_path / "stage.pt")
    monkeypatch.setattr("upgan.io.files.shutil.disk_usage", lambda p: type("U", (), {"free": 1 << 40})())
    with pytest.raises(RuntimeError, match="unexpected pos"):  # not a storage problem: as it is
        checkpoint.save_atomic({"step": 2}, tmp_path / "stage.pt")


def test_a_read_only_tracking_folder_is_refused_before_any_work(tmp_path, monkeypatch):
    from upgan.pipelines.tracking_store import initialise_store

    monkeypatch.setattr("upgan.pipelines.tracking_store.os.access", lambda path, mode: False)
    with pytest.raises(ValueError, match=r"cannot be written \(its folder .* is read-only\)"):
        initialise_store(f"sqlite:///{tmp_path / 'mlflow.db'}", "upgan")
    assert list(tmp_path.iterdir()) == []


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("echo owned",))


def test_a_malicious_feature_extractor_is_one_line_naming_the_file(tmp_path):
    from upgan.models.vgg import load_vgg19_feature_extractor

    path = tmp_path / "vgg19.pth"
    path.write_bytes(pickle.dumps({"features.0.weight": _RunsCode()}))
    with pytest.raises(ValueError) as info:
        load_vgg19_feature_extractor(path)
    message = str(info.value)
    assert str(path) in message and "nothing in it was run" in message and "\n" not in message
    # the run command prints this message, not the unpickling error it wraps
    wrapped = RuntimeError("node failed")
    wrapped.__cause__ = info.value
    assert user_error(wrapped) is info.value


def test_a_store_deleted_during_a_run_is_one_line(tmp_path):
    import sqlite3

    from upgan.pipelines.store_errors import store_failure

    conf = tmp_path / "conf"
    (conf / "base").mkdir(parents=True)
    database = tmp_path / "mlflow.db"
    (conf / "base" / "mlflow.yml").write_text(f"server:\n  mlflow_tracking_uri: sqlite:///{database}\n")
    error = RuntimeError("node failed")
    error.__cause__ = sqlite3.OperationalError("attempt to write a readonly database")
    message = store_failure(error, conf)
    assert message.startswith(f"the MLflow store {database} was deleted during the run;") and "\n" not in message
    database.write_bytes(b"")
    assert "failed during the run (attempt to write a readonly database)" in store_failure(error, conf)
    assert store_failure(RuntimeError("unrelated"), conf) is None
