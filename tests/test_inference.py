"""Batched multi-phase inference."""

import torch

from upgan.inference import predict_phases
from upgan.models import UPGAN, CascadeConfig, UNetConfig, build_generators


def test_predict_phases_matches_eval_forward_and_restores_mode() -> None:
    torch.manual_seed(0)
    cfg = CascadeConfig(n_phases=3, unet=UNetConfig(in_channels=1, base_width=4, depth=2))
    cascade = UPGAN(build_generators(cfg))
    x = torch.rand(1, 1, 8, 8)
    cascade.train()
    cascade(x)  # update BN running statistics so eval differs from train mode
    inputs = torch.rand(11, 1, 8, 8)
    outs = predict_phases(cascade, inputs, batch_size=4, device="cpu")
    assert cascade.training and all(m.training for m in cascade.modules())
    assert len(outs) == 3
    cascade.eval()
    with torch.no_grad():
        reference = cascade(inputs)
    for out, ref in zip(outs, reference, strict=True):
        for got, want in zip(out, ref, strict=True):
            assert got.shape == (11, 1, 8, 8) and got.device.type == "cpu"
            torch.testing.assert_close(got, want)
    from_list = predict_phases(list(cascade.generators), inputs, batch_size=16, device="cpu")
    torch.testing.assert_close(from_list[-1].sigma, outs[-1].sigma)


def test_channels_last_gives_the_same_predictions_for_cascades_and_baselines() -> None:
    """NHWC inference equals NCHW up to float rounding, and leaves the inputs untouched."""
    import numpy as np

    from upgan.io.bundle import ModelBundle
    from upgan.methods import predict_bundle
    from upgan.methods.single import build_generator

    torch.manual_seed(0)
    cfg = CascadeConfig(n_phases=2, unet=UNetConfig(in_channels=1, base_width=4, depth=2))
    states = {f"generator_{m}": g.state_dict() for m, g in enumerate(build_generators(cfg))}
    cascade = ModelBundle.pack(states, {"task": "mri_recon", "method": "upgan", "cascade": cfg.to_dict()})
    network = {"method": "pix2pix", "in_channels": 1, "image_size": [32, 32],
               "params": {"ngf": 4, "ndf": 4, "n_layers_d": 1}}
    baseline = ModelBundle.pack({"generator": build_generator("pix2pix", network).state_dict()},
                                {"task": "mri_recon", "method": "pix2pix", "network": network})
    inputs = np.random.default_rng(0).random((5, 1, 32, 32), dtype=np.float32)
    kept = inputs.copy()
    for bundle in (cascade, baseline):
        nchw = predict_bundle(bundle, inputs, device="cpu", batch_size=2, channels_last=False)
        nhwc = predict_bundle(bundle, inputs, device="cpu", batch_size=2, channels_last=True)
        np.testing.assert_allclose(nhwc.image, nchw.image, rtol=1e-4, atol=1e-5)
        assert nhwc.image.shape == (5, 1, 32, 32) and nhwc.image.flags["C_CONTIGUOUS"]
        if nchw.sigma is not None:
            np.testing.assert_allclose(nhwc.sigma, nchw.sigma, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(inputs, kept)
