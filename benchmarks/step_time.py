"""Time per generator update of UP-GAN's phase, pix2pix and MedGAN (the engine's loss functions,
Adam as the engine builds it), eager and with ``torch.compile``: prints ``name: value`` lines,
with the achieved TFLOP/s from :mod:`flops`' counts. On CUDA with ``--bf16``, autocast as the
engine does it.

    python benchmarks/step_time.py --size paper --batch 8 --device cuda --bf16 --compile
    python benchmarks/step_time.py --size base --batch 2 --device cpu --steps 2
"""

from __future__ import annotations

import argparse
import time

import torch
from flops import build, count

from upgan.training.stage import adam, autocast


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def seconds_per_update(method, g_steps: int, x, y, device: torch.device, bf16: bool, steps: int) -> float:
    """Median seconds per generator update over ``steps`` iterations after two warm-up ones."""
    g_opt = adam([p for m in method.generator_modules() for p in m.parameters() if p.requires_grad], 1e-4, (0.5, 0.999))
    d_opt = adam([p for m in method.discriminator_modules() for p in m.parameters()], 1e-4, (0.5, 0.999))
    times = []
    for i in range(steps + 2):
        _sync(device)
        start = time.perf_counter()
        fake = None
        for _ in range(g_steps):
            with autocast(device, bf16):
                loss, _, fake = method.generator_loss(x, y)
            g_opt.zero_grad(set_to_none=True)
            loss.backward()
            g_opt.step()
        with autocast(device, bf16):
            d_loss, _ = method.discriminator_loss(x, y, fake)
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()
        _sync(device)
        if i >= 2:
            times.append((time.perf_counter() - start) / g_steps)
    return sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="paper")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile'd networks")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--methods", default="upgan_phase,pix2pix,medgan")
    args = parser.parse_args()
    device = torch.device(args.device)
    from flops import SIZES

    n = SIZES[args.size]["size"]
    x_meta = torch.rand(args.batch, 1, n, n, device="meta")
    flops = {name: count(m, x_meta, x_meta, g)[0] / g for name, (m, g) in build(args.size, torch.device("meta")).items()}
    x = torch.rand(args.batch, 1, n, n, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.rand(args.batch, 1, n, n, device=device).contiguous(memory_format=torch.channels_last)
    variants = ["eager", "compiled"] if args.compile else ["eager"]
    for variant in variants:
        torch.manual_seed(0)
        for name, (method, g_steps) in build(args.size, device).items():
            if name not in args.methods.split(","):
                continue
            for module in [*method.generator_modules(), *method.discriminator_modules()]:
                module.to(memory_format=torch.channels_last)
                if variant == "compiled":
                    module.compile()
            s = seconds_per_update(method, g_steps, x, y, device, args.bf16, args.steps)
            tag = f"{name}[{args.size},batch{args.batch},{device.type}{',bf16' if args.bf16 else ''},{variant}]"
            print(f"{tag}_ms_per_generator_update: {1e3 * s:.1f}")
            print(f"{tag}_generator_updates_per_s: {1 / s:.2f}")
            print(f"{tag}_achieved_tflops: {flops[name] * args.batch / s / 1e12:.3f}")


if __name__ == "__main__":
    main()
