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
