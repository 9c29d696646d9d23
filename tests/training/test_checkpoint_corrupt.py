"""An unreadable checkpoint (cut short, corrupt) is set aside with a warning naming it, and its
stage trains from the start, to the result of a run that was never interrupted."""

import logging
from pathlib import Path

import pytest
import torch

from upgan.losses import UPGANLossWeights
from upgan.training import StageConfig, train_phase
from upgan.training.checkpoint import read_checkpoint

STAGE = StageConfig(name="t", steps=6, batch_size=8, lr_generator=2e-3, lr_discriminator=1e-3,
                    seed=5, device="cpu", val_every=3)


class Interrupt(Exception):
    pass


def _run(cfg, data, path: Path | None, **kw):
    train, val = data
    return train_phase(cfg, 0, [], train, val, STAGE, UPGANLossWeights(), path, progress=False, **kw)


def _interrupted_checkpoint(cfg, data, path: Path) -> None:
    """Train until the second record (step 3), then stop: a checkpoint to resume from."""
    seen: list[dict] = []

    def stop_after_second(record: dict) -> None:
        seen.append(record)
        if len(seen) == 2:
            raise Interrupt

    with pytest.raises(Interrupt):
        _run(cfg, data, path, on_record=stop_after_second)
    assert torch.load(path, weights_only=True)["step"] == 3


@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage"])
def test_an_unreadable_checkpoint_is_set_aside_and_the_stage_trains_fresh(
    tiny_cfg, data, tmp_path: Path, same_states, caplog, damage: str
) -> None:
    g_ref, d_ref, h_ref = _run(tiny_cfg, data, None)

    path = tmp_path / "phase_0-abc.pt"
    _interrupted_checkpoint(tiny_cfg, data, path)
    original = path.read_bytes()
    broken = {"truncated": original[: len(original) // 2], "empty": b"",
              "garbage": bytes(range(256)) * 8}[damage]
    path.write_bytes(broken)

    with caplog.at_level(logging.WARNING, logger="upgan.training.checkpoint"):
        g, d, h = _run(tiny_cfg, data, path)

    warnings = [r.getMessage() for r in caplog.records
                if r.levelno == logging.WARNING and r.name == "upgan.training.checkpoint"]
    assert len(warnings) == 1 and str(path) in warnings[0] and "from the start" in warnings[0]
    aside = path.with_name(path.name + ".corrupt")
    assert aside.read_bytes() == broken  # kept, not deleted
    assert h.resumed_from_step == 0 and h.updates == h_ref.updates
    assert h.selected_step == h_ref.selected_step
    assert same_states([g, d], [g_ref, d_ref])
    state = torch.load(path, weights_only=True)  # a new, whole checkpoint in its place
    assert state["step"] == STAGE.steps


def test_a_second_corrupt_checkpoint_does_not_replace_the_first(tmp_path: Path, caplog) -> None:
    path = tmp_path / "train-key.pt"
    (tmp_path / "train-key.pt.corrupt").write_bytes(b"first")
    path.write_bytes(b"second")
    with caplog.at_level(logging.WARNING):
        assert read_checkpoint(path) is None
    assert (tmp_path / "train-key.pt.corrupt").read_bytes() == b"first"
    assert (tmp_path / "train-key.pt.corrupt-1").read_bytes() == b"second"
    assert not path.exists()


def test_a_checkpoint_holding_no_dict_is_unreadable(tmp_path: Path, caplog) -> None:
    path = tmp_path / "fine_tune-key.pt"
    torch.save(torch.zeros(3), path)
    with caplog.at_level(logging.WARNING):
        assert read_checkpoint(path) is None
    assert str(path) in caplog.text and path.with_name(path.name + ".corrupt").exists()
