"""UP-GAN phases and fine-tuning on a tiny synthetic task."""

import dataclasses

import pytest
import torch

from upgan.losses import UPGANLossWeights
from upgan.metrics import mae
from upgan.models import UPGAN, CascadeConfig, build_discriminator, build_generators
from upgan.training import StageConfig, UPGANPhase, fine_tune, train_phase, train_stage

# 24 training slices in batches of 8: 6 updates are the old 2 epochs.
FAST = StageConfig(name="f", steps=6, batch_size=8, lr_generator=2e-3, lr_discriminator=2e-3,
                   device="cpu")
W = UPGANLossWeights()


def test_later_phase_leaves_earlier_generators_bit_identical(tiny_cfg, data, same_states) -> None:
    train, val = data
    g0, _, _ = train_phase(tiny_cfg, 0, [], train, val, FAST, W, progress=False)
    gens = build_generators(tiny_cfg)
    gens[0].load_state_dict(g0)
    cascade = UPGAN(gens)
    method = UPGANPhase(cascade, 1, build_discriminator(tiny_cfg), W)
    gens[0].train()  # the stage itself must keep frozen phases in eval mode
    before_g1 = {k: v.clone() for k, v in gens[1].state_dict().items()}
    trained: dict[int, dict] = {}  # G_1 at each record (the stage may keep its step-0 weights)

    def on_record(record: dict) -> None:
        trained[int(record["step"])] = {k: v.clone() for k, v in gens[1].state_dict().items()}
        assert same_states(gens[0].state_dict(), g0)  # frozen at every validation point too

    history = train_stage(method, train, val, FAST, progress=False, on_record=on_record)
    after = gens[0].state_dict()
    assert same_states(after, g0)  # parameters AND buffers (BN running stats)
    assert any(k.endswith("running_mean") for k in after)
    assert all(not p.requires_grad for p in gens[0].parameters())
    assert not same_states(trained[FAST.steps], before_g1)  # G_1 was trained
    assert same_states(gens[1].state_dict(), trained[history.selected_step])  # and the kept one is left


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


def test_fine_tune_changes_every_generator(tiny_cfg, data, tmp_path, same_states) -> None:
    """End to end, every generator and discriminator is trained (the weights of the last step,
    read from the stage's checkpoint; the stage itself returns the best-on-validation ones)."""
    train, val = data
    g0, d0, _ = train_phase(tiny_cfg, 0, [], train, val, FAST, W, progress=False)
    g1, d1, _ = train_phase(tiny_cfg, 1, [g0], train, val, FAST, W, progress=False)
    ft = StageConfig(**{**FAST.__dict__, "lr_generator": 5e-4, "lr_discriminator": 5e-4})
    gs_kept, ds_kept, history = fine_tune(tiny_cfg, [g0, g1], [d0, d1], train, val, ft, W,
                                          tmp_path / "ft.pt", progress=False)
    state = torch.load(tmp_path / "ft.pt", weights_only=True)
    assert state["step"] == ft.steps == history.updates
    gs, ds = state["generator_states"], state["discriminator_states"]
    if history.selected_step == ft.steps:
        assert all(same_states(a, b) for a, b in zip(gs, gs_kept, strict=True))
    if history.selected_step == 0:
        assert all(same_states(a, b) for a, b in zip([g0, g1], gs_kept, strict=True))
    for before, after in zip([g0, g1], gs, strict=True):
        params = [k for k in before if "running" not in k and "num_batches" not in k]
        assert all(not torch.equal(before[k], after[k]) for k in params)
    for before, after in zip([d0, d1], ds, strict=True):
        assert not same_states(before, after)
    assert "val_sigma_mean_phase0" in history.last() and "train_ggd_nll_phase1" in history.last()


def test_phase0_learns_easy_task(tiny_cfg, make_task) -> None:
    train, val = make_task(32, 0), make_task(8, 1)
    cfg = dataclasses.replace(tiny_cfg, unet=dataclasses.replace(tiny_cfg.unet, base_width=8))
    # 32 slices in batches of 4: 120 updates are the old 15 epochs, validated once per pass
    stage = StageConfig(name="easy", steps=120, batch_size=4, lr_generator=5e-3,
                        lr_discriminator=5e-3, device="cpu", seed=1, val_every=8)
    g, _, history = train_phase(cfg, 0, [], train, val, stage, W, progress=False)
    identity = mae(val.inputs, val.targets).mean().item()
    zero = mae(torch.zeros_like(val.targets), val.targets).mean().item()
    kept = history.selected()["val_mae"]
    assert kept == min(history.metric("val_mae"))
    assert kept < 0.5 * identity and kept < zero, (kept, identity, zero)
    assert kept < history[0]["val_mae"]  # step 0: the untrained generator
    # the returned generator is the kept one: its (clipped) validation MAE is the selected record's
    gens = build_generators(cfg)
    gens[0].load_state_dict(g)
    gens[0].eval()
    with torch.no_grad():
        pred = UPGAN(gens)(val.inputs, 1)[-1].image.clamp(0, 1)
    assert mae(pred, val.targets).mean().item() == pytest.approx(kept, abs=1e-5)


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


# ---- loss recipes -----------------------------------------------------------------------------
@pytest.mark.parametrize("recipe", ["paper", "official"])
def test_both_recipes_train_a_phase_and_fine_tune_end_to_end(tiny_cfg, data, recipe: str) -> None:
    import math

    train, val = data
    weights = UPGANLossWeights(recipe=recipe)
    stage = StageConfig(**{**FAST.__dict__, "val_every": 3})
    g0, d0, history = train_phase(tiny_cfg, 0, [], train, val, stage, weights, progress=False)
    assert history.updates == 6 and history.metric("step") == [0, 3, 6]
    for record in history.records[1:]:
        for key in ("g_loss", "d_loss", "train_ggd_nll", "train_adv_g", "val_mae"):
            assert math.isfinite(record[key]), (recipe, key, record)
    assert all(torch.isfinite(v.float()).all() for v in g0.values())
    g1, d1, h1 = train_phase(tiny_cfg, 1, [g0], train, val, stage, weights, progress=False)
    assert h1.updates == 6 and all(math.isfinite(r["g_loss"]) for r in h1.records[1:])
    gs, _, ft = fine_tune(tiny_cfg, [g0, g1], [d0, d1], train, val,
                          StageConfig(**{**stage.__dict__, "steps": 3}), weights, progress=False)
    assert ft.updates == 3 and math.isfinite(ft.last()["g_loss"])


def test_the_recipes_train_differently(tiny_cfg, data, same_states) -> None:
    """Same seed, same data: the official recipe's L1 term and curriculum change the result."""
    train, val = data
    g_paper, _, h_paper = train_phase(tiny_cfg, 0, [], train, val, FAST, UPGANLossWeights(), progress=False)
    g_off, _, h_off = train_phase(tiny_cfg, 0, [], train, val, FAST,
                                  UPGANLossWeights(recipe="official"), progress=False)
    assert h_paper[0]["val_mae"] == h_off[0]["val_mae"]  # same initial weights
    assert h_paper.last()["g_loss"] != h_off.last()["g_loss"]
    assert not same_states(g_paper, g_off)


def test_phase_follows_the_official_curriculum_through_on_step(tiny_cfg, data) -> None:
    """The engine calls on_step before each update; the phase's lambdas follow ``at``: with 6
    updates, steps 0-1, 2-3 and 4-5 are the three periods of OFFICIAL_CURRICULUM."""
    train, _ = data
    seen: list[tuple[float, float, float]] = []

    class Recording(UPGANPhase):
        def generator_loss(self, inputs, targets):
            seen.append(self.lambdas)
            return super().generator_loss(inputs, targets)

    weights = UPGANLossWeights(lambda_adversarial=0.002, recipe="official")
    method = Recording(UPGAN(build_generators(tiny_cfg)), 0, build_discriminator(tiny_cfg), weights)
    train_stage(method, train, None, FAST, progress=False)
    a = 0.002
    assert seen == [(1.0, 1e-4, a)] * 2 + [(0.5, 1e-3, a)] * 2 + [(0.1, 1e-2, a)] * 2


def test_phase_loss_terms(tiny_cfg, data) -> None:
    """phase_loss is lambda_L1 * mean|image - target| + lambda_GGD * nll + lambda_adv * adv."""
    from upgan.losses import ggd_nll, lsgan_generator_loss

    train, _ = data
    torch.manual_seed(0)
    disc = build_discriminator(tiny_cfg)
    method = UPGANPhase(UPGAN(build_generators(tiny_cfg)), 0, disc, UPGANLossWeights(recipe="official"))
    x, y = train.inputs[:4], train.targets[:4]
    with torch.no_grad():
        out = method.forward_phase(x)
        l1 = (out.image - y).abs().mean()
        nll = ggd_nll(out.image, y, out.alpha, out.beta)
        adv = lsgan_generator_loss(disc(out.image))
        for lambdas, expected in [
            ((1.0, 0.0, 0.0), l1),
            ((0.0, 1.0, 0.0), nll),
            ((0.0, 0.0, 1.0), adv),
            ((0.5, 1e-3, 1e-3), 0.5 * l1 + 1e-3 * nll + 1e-3 * adv),
        ]:
            method.lambdas = lambdas
            total, got_nll, got_adv = method.phase_loss(out, x, y, disc)
            torch.testing.assert_close(total, expected, rtol=1e-6, atol=1e-7)
            torch.testing.assert_close(got_nll, nll)
            torch.testing.assert_close(got_adv, adv)
    # the paper recipe starts (and stays) at (0, lambda1, lambda2): no L1 term
    paper = UPGANPhase(UPGAN(build_generators(tiny_cfg)), 0, disc, UPGANLossWeights(1.0, 0.001))
    assert paper.lambdas == (0.0, 1.0, 0.001)
