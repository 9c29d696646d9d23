"""UP-GAN phases and fine-tuning on a tiny synthetic task."""

import dataclasses

import pytest
import torch

from upgan.losses import UPGANLossWeights
from upgan.metrics import mae
from upgan.models import UPGAN, CascadeConfig, build_discriminator, build_generators
from upgan.training import StageConfig, UPGANPhase, fine_tune, train_phase, train_stage

FAST = StageConfig(name="f", epochs=2, batch_size=8, lr_generator=2e-3, lr_discriminator=2e-3,
                   device="cpu")
W = UPGANLossWeights()


def _states_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_later_phase_leaves_earlier_generators_bit_identical(tiny_cfg, data) -> None:
    train, val = data
    g0, _, _ = train_phase(tiny_cfg, 0, [], train, val, FAST, W, progress=False)
    gens = build_generators(tiny_cfg)
    gens[0].load_state_dict(g0)
    cascade = UPGAN(gens)
    method = UPGANPhase(cascade, 1, build_discriminator(tiny_cfg), W)
    gens[0].train()  # the stage itself must keep frozen phases in eval mode
    before_g1 = {k: v.clone() for k, v in gens[1].state_dict().items()}
    train_stage(method, train, val, FAST, progress=False)
    after = gens[0].state_dict()
    assert _states_equal(after, g0)  # parameters AND buffers (BN running stats)
    assert any(k.endswith("running_mean") for k in after)
    assert all(not p.requires_grad for p in gens[0].parameters())
    assert not _states_equal(gens[1].state_dict(), before_g1)


def test_phase_input_is_precomputed_from_frozen_phases(tiny_cfg, data) -> None:
    train, _ = data
    gens = build_generators(tiny_cfg)
    method = UPGANPhase(UPGAN(gens), 1, build_discriminator(tiny_cfg), W)
    prepared = method.prepare_inputs(train.inputs)
    assert prepared.shape == (len(train), 2, 16, 16)
    gens[0].eval()
    with torch.no_grad():
        expected = method.cascade.phase_input(train.inputs, method.cascade(train.inputs, 1)[-1])
    torch.testing.assert_close(prepared, expected)


def test_fine_tune_changes_every_generator(tiny_cfg, data) -> None:
    train, val = data
    g0, d0, _ = train_phase(tiny_cfg, 0, [], train, val, FAST, W, progress=False)
    g1, d1, _ = train_phase(tiny_cfg, 1, [g0], train, val, FAST, W, progress=False)
    ft = StageConfig(**{**FAST.__dict__, "lr_generator": 5e-4, "lr_discriminator": 5e-4})
    gs, ds, history = fine_tune(tiny_cfg, [g0, g1], [d0, d1], train, val, ft, W, progress=False)
    for before, after in zip([g0, g1], gs, strict=True):
        params = [k for k in before if "running" not in k and "num_batches" not in k]
        assert all(not torch.equal(before[k], after[k]) for k in params)
    for before, after in zip([d0, d1], ds, strict=True):
        assert not _states_equal(before, after)
    assert "val_sigma_mean_phase0" in history.last() and "train_ggd_nll_phase1" in history.last()


def test_phase0_learns_easy_task(tiny_cfg, make_task) -> None:
    train, val = make_task(32, 0), make_task(8, 1)
    cfg = dataclasses.replace(tiny_cfg, unet=dataclasses.replace(tiny_cfg.unet, base_width=8))
    stage = StageConfig(name="easy", epochs=15, batch_size=4, lr_generator=5e-3,
                        lr_discriminator=5e-3, device="cpu", seed=1)
    _, _, history = train_phase(cfg, 0, [], train, val, stage, W, progress=False)
    identity = mae(val.inputs, val.targets).mean().item()
    zero = mae(torch.zeros_like(val.targets), val.targets).mean().item()
    final = history.last()["val_mae"]
    assert final < 0.5 * identity and final < zero, (final, identity, zero)
    assert final < history[0]["val_mae"]


def test_bad_configs_raise_before_training(tiny_cfg, data) -> None:
    train, val = data
    with pytest.raises(ValueError, match="lambda_fidelity"):
        UPGANLossWeights(lambda_fidelity=-0.1)
    with pytest.raises(ValueError, match="lr_generator"):
        StageConfig(lr_generator=0.0)
    with pytest.raises(ValueError, match="n_phases"):
        CascadeConfig(n_phases=0)
    with pytest.raises(ValueError, match="phase 1 needs generators 0..0, got 0"):
        train_phase(tiny_cfg, 1, [], train, val, FAST, W, progress=False)
    g0, _, _ = train_phase(tiny_cfg, 0, [], train, None, FAST, W, progress=False)
    with pytest.raises(ValueError, match="phase 0 needs no previous generators, got 1"):
        train_phase(tiny_cfg, 0, [g0], train, val, FAST, W, progress=False)
    with pytest.raises(ValueError, match="does not exist"):
        train_phase(tiny_cfg, 2, [g0, g0], train, val, FAST, W, progress=False)
    with pytest.raises(ValueError, match=">= 0"):
        train_phase(tiny_cfg, -1, [], train, val, FAST, W, progress=False)
    with pytest.raises(ValueError, match="generators 0..1, got 1"):
        fine_tune(tiny_cfg, [g0], [], train, val, FAST, W, progress=False)
    two_channel = type(train)(train.inputs.repeat(1, 2, 1, 1), train.targets)
    with pytest.raises(ValueError, match="input channels"):
        train_phase(tiny_cfg, 0, [], two_channel, None, FAST, W, progress=False)
