"""Single-generator methods (the baselines and the plain-L1 control) trained by the one engine:
overfitting, rebuilding from the returned config, errors. The methods come from the registry."""

import json
import logging
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from upgan.methods import names
from upgan.methods.medgan import pretrain_feature_extractor
from upgan.methods.single import build_generator, resolve_params, train_single
from upgan.metrics import mae
from upgan.models import UnitRangeGenerator
from upgan.training import SlicePairs, StageConfig

SINGLE = names(kind="single")


def train_baseline(name, params, train, val, stage, checkpoint_path=None, progress=False):
    """``(states, config, history)`` of :func:`train_single`."""
    trained = train_single(name, params, train, val, stage, checkpoint_path, progress=progress)
    return trained.states, trained.config, trained.history

TINY = {
    "pix2pix": {"ngf": 8, "ndf": 8, "n_layers_d": 2},
    "pan": {"width": 8, "d_width": 8},
    "medgan": {
        "n_blocks": 2, "ngf": 8, "ndf": 8, "n_layers_d": 2,
        "feature_extractor": {"width": 8, "n_blocks": 3, "steps": 5},
    },
    "unet_l1": {"generator": {"base_width": 8, "depth": 2}},
}


def smooth_pairs(n: int = 4, size: int = 32, seed: int = 0) -> SlicePairs:
    """Low-frequency input in [0, 1]; target = 1 - (3x3 blur of it). Untrained MAE ~0.17."""
    g = torch.Generator().manual_seed(seed)
    x = F.interpolate(torch.rand(n, 1, size // 8, size // 8, generator=g), size=(size, size),
                      mode="bilinear", align_corners=False)
    y = 1.0 - F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    return SlicePairs(x, y)


def stage(steps: int, lr: float = 1e-3, lr_d: float | None = None, **kw) -> StageConfig:
    """``steps`` generator updates (MedGAN: 3 per iteration) on batches of 4."""
    return StageConfig(
        name="test", steps=steps, batch_size=4, lr_generator=lr,
        lr_discriminator=lr if lr_d is None else lr_d,
        betas=(0.5, 0.999), cosine=False, seed=3, device="cpu", **kw,
    )


# (generator updates, lr_G, lr_D, val_every) on the fixed batch of 4: one iteration per
# validation (MedGAN makes 3 generator updates per iteration). PAN gets more updates and a 10x
# slower D (its generator mostly sees the discriminator's features; with equal rates it reached
# 3x on some seeds only before its default L1 pixel term was added).
OVERFIT = {"pix2pix": (60, 1e-3, 1e-3, 1), "pan": (200, 1e-3, 1e-4, 1), "medgan": (120, 1e-3, 1e-3, 3),
           "unet_l1": (60, 1e-2, 1e-2, 1)}


def test_every_single_generator_method_is_tested():
    assert set(SINGLE) == set(TINY) == set(OVERFIT)
FACTOR = 3.0


@pytest.mark.parametrize("name", SINGLE)
def test_overfits_a_fixed_batch(name: str):
    data = smooth_pairs()
    steps, lr, lr_d, val_every = OVERFIT[name]
    states, config, history = train_baseline(
        name, TINY[name], data, data, stage(steps, lr, lr_d, val_every=val_every), progress=False
    )
    curve = history.metric("val_mae")  # eval-mode L1 to the target at 0 and after every iteration
    assert len(curve) == steps // val_every + 1 and history.updates == steps
    assert curve[0] > 0.15  # step 0: untrained
    assert min(curve) < curve[0] / FACTOR, (name, curve[0], min(curve))
    # the returned generator is the best-on-validation one
    assert history.selected()["val_mae"] == min(curve)
    g = build_generator(name, config)
    g.load_state_dict(states["generator"])
    with torch.no_grad():
        pred = g.eval()(data.inputs)
    assert mae(pred.clamp(0, 1), data.targets).mean().item() == pytest.approx(min(curve), abs=1e-6)


@pytest.mark.parametrize("name", SINGLE)
def test_returned_states_rebuild_the_generator(name: str):
    train, val = smooth_pairs(8, seed=1), smooth_pairs(4, seed=2)
    params = {**TINY[name]}
    if name == "medgan":
        params["feature_extractor"] = {"width": 4, "n_blocks": 2, "steps": 1}
    states, config, history = train_baseline(name, params, train, val, stage(4, val_every=1),
                                             progress=False)
    assert history.updates == 4
    json.dumps(config)  # JSON-able
    assert "generator" in states and ("discriminator" in states) == (name != "unet_l1")
    assert all(t.device.type == "cpu" for sd in states.values() for t in sd.values())
    g = build_generator(name, json.loads(json.dumps(config)))
    g.load_state_dict(states["generator"])
    assert not g.training
    with torch.no_grad():
        pred = g(val.inputs)
    assert pred.shape == val.targets.shape and torch.isfinite(pred).all()
    if isinstance(g, UnitRangeGenerator):  # a Tanh output mapped to [0, 1] (UP-GAN's head is linear)
        assert 0.0 <= pred.min() and pred.max() <= 1.0
    # the engine validated the kept (best) weights in eval mode, clipped, on the same slices
    assert mae(pred.clamp(0, 1), val.targets).mean().item() == pytest.approx(history.selected()["val_mae"], abs=1e-6)
    if name == "medgan":
        assert config["feature_extractor_source"] == "pretrained_autoencoder"
        assert config["feature_extractor_updates"] == 1
        assert "feature_extractor" in states and len(config["feature_extractor_sha256"]) == 64


def test_medgan_with_vgg_file_and_three_generator_steps(vgg19_state_file: Path, caplog):
    path = vgg19_state_file
    data = smooth_pairs(4)
    params = {"n_blocks": 1, "ngf": 4, "ndf": 4, "n_layers_d": 2,
              "feature_extractor": {"source": str(path)}}
    with caplog.at_level(logging.INFO, logger="upgan.methods.single"):
        states, config, history = train_baseline("medgan", params, data, None, stage(3), progress=False)
    assert "generator_steps_per_iteration 1 -> 3" in caplog.text
    assert history.updates == 3 and history.metric("step") == [0, 3]
    assert config["feature_extractor_source"] == str(path)
    assert len(config["feature_extractor_sha256"]) == 64
    assert "feature_extractor" not in states  # the file is referenced, not copied
    assert history.last()["train_style"] >= 0 and history.last()["train_content"] > 0


def test_resume_from_checkpoint_returns_the_same_weights(tmp_path: Path):
    data = smooth_pairs(4)
    ckpt = tmp_path / "medgan.pt"
    params = {"n_blocks": 1, "ngf": 4, "ndf": 4, "n_layers_d": 2,
              "feature_extractor": {"width": 4, "n_blocks": 2, "steps": 1}}
    first, cfg1, _ = train_baseline("medgan", params, data, None, stage(6), ckpt, progress=False)
    assert ckpt.exists() and (tmp_path / "medgan_feature_extractor.pt").exists()
    again, cfg2, history = train_baseline("medgan", params, data, None, stage(6), ckpt, progress=False)
    assert history.resumed_from_step == 6 and history.updates == 6 and cfg1 == cfg2
    for key, value in first["generator"].items():
        torch.testing.assert_close(again["generator"][key], value)


def test_feature_extractor_pretraining_is_seeded_and_learns(tmp_path: Path):
    from upgan.models import SmallVGG, SmallVGGDecoder

    targets = smooth_pairs(8).targets
    cfg = {"width": 4, "n_blocks": 2, "steps": 12, "batch_size": 4, "lr": 3e-3}
    a, history = pretrain_feature_extractor(targets, cfg, seed=5, device="cpu",
                                            checkpoint_path=tmp_path / "fe.pt")
    b, _ = pretrain_feature_extractor(targets, cfg, seed=5, device="cpu")
    assert history.updates == 12 and history.metric("step") == [0, 12]

    def reconstruction_l1(states=None) -> float:
        torch.manual_seed(5)  # the documented initialisation
        encoder, decoder = SmallVGG(1, 4, 2), SmallVGGDecoder(4, 2, 1)
        if states is not None:
            encoder.load_state_dict(states[0])
            decoder.load_state_dict(states[1])
        with torch.no_grad():
            return F.l1_loss(decoder(encoder(targets)[-1]), targets).item()

    trained = torch.load(tmp_path / "fe.pt", weights_only=True)["generator_states"]
    assert reconstruction_l1(trained) < 0.7 * reconstruction_l1()
    for (k, va), vb in zip(a.backbone.state_dict().items(), trained[0].values(), strict=True):
        torch.testing.assert_close(va, vb, msg=k)  # the returned encoder is the trained one
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        torch.testing.assert_close(va, vb, msg=k)
    assert not any(p.requires_grad for p in a.parameters())


def test_parameter_errors():
    data = smooth_pairs(4)
    with pytest.raises(ValueError, match=", ".join(names())):
        train_baseline("cyclegan", {}, data, None, stage(1), progress=False)
    with pytest.raises(ValueError, match="lambda_L1"):
        resolve_params("pix2pix", {"lambda_L1": 100}, (32, 32))
    with pytest.raises(ValueError, match="wdith"):
        resolve_params("medgan", {"feature_extractor": {"wdith": 8}}, (32, 32))
    with pytest.raises(ValueError, match="layer_weights"):
        resolve_params("pan", {"layer_weights": [1.0, 2.0]}, (32, 32))
    with pytest.raises(ValueError, match="ngf"):
        resolve_params("pix2pix", {"ngf": 0}, (32, 32))
    with pytest.raises(ValueError, match="divisible"):
        train_baseline("pix2pix", {"ngf": 4, "num_downs": 6}, data, None, stage(1), progress=False)


def test_input_sized_defaults():
    p = resolve_params("pix2pix", {}, (256, 256))
    assert p["num_downs"] == 8 and p["lambda_l1"] == 100.0 and p["dropout"] == 0.5
    pan = resolve_params("pan", {}, (256, 256))
    assert (pan["n_down"], pan["d_downsample"]) == (6, 5)
    assert resolve_params("pan", {}, (64, 64))["n_down"] == 4
    med = resolve_params("medgan", {}, (64, 64))
    assert med["num_downs"] == 6 and med["generator_steps_per_iteration"] == 3
    assert (med["lambda_perceptual"], med["lambda_style"], med["lambda_content"]) == (20.0, 1e-4, 1e-4)


def test_medgan_budget_counts_every_generator_update(vgg19_state_file: Path):
    """MedGAN's 3 generator updates per discriminator update count against the budget; the last
    iteration makes fewer, so 4 updates are 2 iterations of 3 + 1 (and 2 discriminator updates)."""
    from torch.optim.optimizer import register_optimizer_step_post_hook

    path = vgg19_state_file
    params = {"n_blocks": 1, "ngf": 4, "ndf": 4, "n_layers_d": 2, "feature_extractor": {"source": str(path)}}
    counts: dict[int, int] = {}

    def hook(optimizer, args, kwargs):
        counts[id(optimizer)] = counts.get(id(optimizer), 0) + 1

    handle = register_optimizer_step_post_hook(hook)
    try:
        _, _, history = train_baseline("medgan", params, smooth_pairs(4), smooth_pairs(4, seed=1),
                                       stage(4, val_every=2), progress=False)
    finally:
        handle.remove()
    assert sorted(counts.values()) == [2, 4]
    assert history.updates == 4 and history.metric("step") == [0, 3, 4]
