"""The shared training engine: validation, schedule, optimiser, checkpoint and exact resume."""

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from upgan.losses import UPGANLossWeights
from upgan.training import SlicePairs, StageConfig, TrainingMethod, train_phase, train_stage

STAGE = StageConfig(name="t", epochs=3, batch_size=8, lr_generator=2e-3, lr_discriminator=1e-3,
                    seed=5, device="cpu")


class Interrupt(Exception):
    pass


def test_slice_pairs_validation() -> None:
    x, y = torch.rand(4, 2, 8, 8), torch.rand(4, 1, 8, 8)
    assert len(SlicePairs(x, y)) == 4
    assert SlicePairs(x.double(), y).inputs.dtype == torch.float32
    with pytest.raises(ValueError, match="inputs have 4 slices, targets 3"):
        SlicePairs(x, y[:3])
    bad = y.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="targets contains NaN"):
        SlicePairs(x, bad)
    with pytest.raises(ValueError, match="1 channel"):
        SlicePairs(x, x)
    with pytest.raises(ValueError, match="N, C, H, W"):
        SlicePairs(x[0], y)


@pytest.mark.parametrize(
    "field,value",
    [("lr_generator", 0.0), ("lr_discriminator", -1e-3), ("epochs", 0), ("batch_size", 0),
     ("generator_steps_per_iteration", 0), ("max_steps_per_epoch", 0)],
)
def test_stage_config_validation(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        StageConfig(**{field: value})


def _run(cfg, data, path: Path | None, stage: StageConfig = STAGE, **kw):
    train, val = data
    return train_phase(cfg, 0, [], train, val, stage, UPGANLossWeights(), path, progress=False, **kw)


def test_resume_is_bit_identical(tiny_cfg, data, tmp_path: Path) -> None:
    g_ref, d_ref, h_ref = _run(tiny_cfg, data, tmp_path / "ref.pt")

    def stop_after_first(epoch: int, record: dict) -> None:
        if epoch == 0:
            raise Interrupt

    path = tmp_path / "resume.pt"
    with pytest.raises(Interrupt):
        _run(tiny_cfg, data, path, on_epoch_end=stop_after_first)
    state = torch.load(path, weights_only=True)
    assert state["epoch"] == 1 and len(state["history"]) == 1
    g_res, d_res, h_res = _run(tiny_cfg, data, path)
    assert h_res.resumed_from_epoch == 1
    assert h_res.records == h_ref.records
    for ref, res in ((g_ref, g_res), (d_ref, d_res)):
        assert ref.keys() == res.keys()
        for k in ref:
            assert torch.equal(ref[k], res[k]), k

    # A finished stage returns its history and weights without training again.
    calls: list[int] = []
    g_again, _, h_again = _run(tiny_cfg, data, path, on_epoch_end=lambda e, r: calls.append(e))
    assert calls == [] and h_again.records == h_ref.records
    assert all(torch.equal(g_again[k], g_ref[k]) for k in g_ref)

    # A different stage config is refused with a message naming the file.
    other = StageConfig(**{**STAGE.__dict__, "lr_generator": 1e-3})
    with pytest.raises(ValueError, match="resume.pt"):
        _run(tiny_cfg, data, path, stage=other)


def test_cosine_schedule_and_adam_betas(tiny_cfg, data, tmp_path: Path) -> None:
    stage = StageConfig(name="c", epochs=4, batch_size=8, lr_generator=2e-3, lr_discriminator=1e-3,
                        betas=(0.5, 0.99), device="cpu", max_steps_per_epoch=1)
    _, _, history = _run(tiny_cfg, data, tmp_path / "c.pt", stage=stage)
    lrs = history.metric("lr")
    expected = [1e-3 * (1 + math.cos(math.pi * e / 4)) for e in range(4)]
    assert lrs == pytest.approx(expected)
    assert all(a > b for a, b in zip(lrs[:-1], lrs[1:], strict=True))
    assert history.metric("lr_discriminator")[-1] == pytest.approx(expected[-1] / 2)
    state = torch.load(tmp_path / "c.pt", weights_only=True)
    for opt in state["optimizers"]:
        assert tuple(opt["param_groups"][0]["betas"]) == (0.5, 0.99)
    flat = StageConfig(**{**stage.__dict__, "cosine": False})
    _, _, history = _run(tiny_cfg, data, None, stage=flat)
    assert history.metric("lr") == [2e-3] * 4


def test_history_has_validation_metrics(tiny_cfg, data) -> None:
    _, _, history = _run(tiny_cfg, data, None, stage=StageConfig(**{**STAGE.__dict__, "epochs": 1}))
    record = history.last()
    for key in ("epoch", "lr", "g_loss", "d_loss", "train_ggd_nll", "val_mae", "val_psnr",
                "val_ssim", "val_sigma_mean"):
        assert key in record and math.isfinite(record[key]), key


class CountingL1(TrainingMethod):
    """A method with no discriminator, counting generator calls (engine generality)."""

    def __init__(self) -> None:
        self.net = nn.Conv2d(1, 1, 3, padding=1)
        self.calls = 0

    def generator_modules(self):
        return [self.net]

    def discriminator_modules(self):
        return []

    def generator_loss(self, inputs, targets):
        self.calls += 1
        fake = self.net(inputs)
        loss = F.l1_loss(fake, targets)
        return loss, {"l1": loss.detach()}, fake.detach()

    def discriminator_loss(self, inputs, targets, fake):
        raise AssertionError("no discriminator")

    def predict(self, inputs):
        return self.net(inputs)


def test_generator_steps_per_iteration_and_no_discriminator(data) -> None:
    method = CountingL1()
    stage = StageConfig(name="g3", epochs=2, batch_size=5, lr_generator=1e-2, device="cpu",
                        generator_steps_per_iteration=3)
    history = train_stage(method, data[0], data[1], stage, progress=False)
    assert method.calls == 2 * math.ceil(24 / 5) * 3
    assert "d_loss" not in history.last() and history.metric("train_l1")[1] < history.metric(
        "train_l1")[0]


def test_channels_last_is_the_same_computation(tiny_cfg, data) -> None:
    """NHWC networks and data (``channels_last``) train to the same numbers as NCHW, within
    float rounding, and repeat bit-identically; phase 1 covers a 2-channel input."""
    stage = StageConfig(**{**STAGE.__dict__, "epochs": 1})
    nhwc = StageConfig(**{**stage.__dict__, "channels_last": True})
    g0, _, _ = _run(tiny_cfg, data, None, stage=stage)
    train, val = data
    results = []
    for config in (stage, nhwc, nhwc):
        g1, _, history = train_phase(tiny_cfg, 1, [g0], train, val, config, UPGANLossWeights(),
                                     None, progress=False)
        results.append((g1, history.last()))
    (g_ref, h_ref), (g_a, h_a), (g_b, h_b) = results
    assert h_a == h_b and all(torch.equal(g_a[k], g_b[k]) for k in g_a)
    for key in ("g_loss", "d_loss", "val_mae", "val_ssim"):
        assert h_a[key] == pytest.approx(h_ref[key], rel=1e-3, abs=1e-5), key
    for key in g_ref:
        assert torch.allclose(g_a[key].float(), g_ref[key].float(), rtol=1e-3, atol=1e-4), key
