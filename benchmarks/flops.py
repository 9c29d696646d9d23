"""FLOPs of one training iteration per method and op family (``torch.utils.flop_counter``).

Counts the work of the engine's own loss functions (forward and backward, discriminator update
included) at a given slice size and batch, on shape-only ``meta`` tensors (instant, no memory),
and prints ``name: value`` lines: GFLOP per iteration, per generator update, per op family
(convolutions, transposed convolutions, their backward, matrix products) and per network.

    python benchmarks/flops.py --size paper --batch 1
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import torch
from torch.utils.flop_counter import FlopCounterMode

from upgan.losses import UPGANLossWeights
from upgan.methods.medgan import MedGAN, MedGANMethod
from upgan.methods.pix2pix import Pix2Pix, Pix2PixMethod, conditional_patchgan
from upgan.models import (
    UPGAN,
    CascadeConfig,
    FeatureExtractor,
    SmallVGG,
    UNetConfig,
    build_discriminator,
    build_generators,
)
from upgan.models.patchgan import DiscriminatorConfig
from upgan.training import UPGANPhase

SIZES = {
    "base": {"size": 64, "unet": dict(base_width=16, depth=3, max_width=128, block="plain"),
             "disc": dict(base_width=16, n_layers=2), "medgan": dict(n_blocks=6, ngf=16, ndf=16, n_layers_d=2),
             "fe_width": 16},
    "gpu": {"size": 128, "unet": dict(base_width=32, depth=4, max_width=256, block="residual",
                                      residual_shortcut="conv3x3"),
            "disc": dict(base_width=64, n_layers=3), "medgan": dict(n_blocks=6, ngf=32, ndf=64, n_layers_d=3),
            "fe_width": 32},
    "paper": {"size": 256, "unet": dict(base_width=64, depth=4, max_width=512, block="residual",
                                        residual_shortcut="conv3x3"),
              "disc": dict(base_width=64, n_layers=3), "medgan": dict(n_blocks=6, ngf=64, ndf=64, n_layers_d=3),
              "fe_width": 32},
}


def _family(op: object) -> str:
    parts = str(op).split(".")
    name = parts[1] if len(parts) > 1 else parts[0]
    return {"convolution": "conv", "convolution_backward": "conv_backward", "mm": "matmul", "addmm": "matmul",
            "bmm": "matmul", "_scaled_dot_product_efficient_attention": "attention"}.get(name, name)


def _iteration(method, x, y, g_steps: int) -> None:
    """The engine's iteration: ``g_steps`` generator updates, then one discriminator update."""
    fake = None
    for _ in range(g_steps):
        loss, _, fake = method.generator_loss(x, y)
        loss.backward()
    d_loss, _ = method.discriminator_loss(x, y, fake)
    d_loss.backward()


def count(method, x, y, g_steps: int) -> tuple[float, dict[str, float], dict[str, float]]:
    """Total FLOPs of one iteration, per op family, and per top-level network."""
    counter = FlopCounterMode(display=False, depth=2)
    with counter:
        _iteration(method, x, y, g_steps)
    families: dict[str, float] = defaultdict(float)
    for op, n in counter.get_flop_counts()["Global"].items():
        families[_family(op)] += n
    networks = {name: float(sum(ops.values())) for name, ops in counter.get_flop_counts().items()
                if name != "Global" and "." not in name}
    return float(counter.get_total_flops()), dict(families), networks


def build(size_key: str, device: torch.device) -> dict[str, tuple[object, int]]:
    """The methods at ``size_key``: name -> (method, generator updates per iteration)."""
    s = SIZES[size_key]
    with device:
        cfg = CascadeConfig(n_phases=1, unet=UNetConfig(in_channels=1, **s["unet"]),
                            discriminator=DiscriminatorConfig(**s["disc"]))
        upgan = UPGANPhase(UPGAN(build_generators(cfg)), 0, build_discriminator(cfg), UPGANLossWeights(recipe="paper"))
        params = MedGAN().resolve(dict(s["medgan"]), (s["size"], s["size"]), {})
        extractor = FeatureExtractor(SmallVGG(1, s["fe_width"], 4), "pretrained_autoencoder")
        extractor.requires_grad_(False)
        medgan = MedGANMethod(MedGAN().build_generator(params, 1), conditional_patchgan(params, 1), extractor, params)
        p2p = Pix2Pix().resolve({k: v for k, v in s["medgan"].items() if k != "n_blocks"}, (s["size"],) * 2, {})
        pix2pix = Pix2PixMethod(Pix2Pix().build_generator(p2p, 1), conditional_patchgan(p2p, 1))
    return {"upgan_phase": (upgan, 1), "pix2pix": (pix2pix, 1),
            "medgan": (medgan, int(params["generator_steps_per_iteration"]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="paper", choices=sorted(SIZES))
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--device", default="meta", help="meta (shapes only, instant) or cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    n = SIZES[args.size]["size"]
    x = torch.rand(args.batch, 1, n, n, device=device)
    y = torch.rand(args.batch, 1, n, n, device=device)
    per_update = {}
    for name, (method, g_steps) in build(args.size, device).items():
        params = sum(p.numel() for m in method.generator_modules() for p in m.parameters())
        total, families, networks = count(method, x, y, g_steps)
        tag = f"{name}[{args.size},batch{args.batch}]"
        print(f"{tag}_generator_parameters_M: {params / 1e6:.1f}")
        print(f"{tag}_generator_updates_per_iteration: {g_steps}")
        print(f"{tag}_gflop_per_iteration: {total / 1e9:.1f}")
        per_update[name] = total / g_steps
        print(f"{tag}_gflop_per_generator_update: {per_update[name] / 1e9:.1f}")
        for family, value in sorted(families.items(), key=lambda kv: -kv[1]):
            print(f"{tag}_gflop[{family}]: {value / 1e9:.2f}")
        for network, value in sorted(networks.items(), key=lambda kv: -kv[1]):
            print(f"{tag}_gflop_in[{network}]: {value / 1e9:.2f}")
    print(f"medgan_over_upgan_flops_per_generator_update[{args.size}]: "
          f"{per_update['medgan'] / per_update['upgan_phase']:.2f}")


if __name__ == "__main__":
    main()
