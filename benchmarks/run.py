"""Performance benchmarks: prints one ``name: value`` line per figure.

    python benchmarks/run.py --quick      # < 2 min on a 2-core CPU: base sizes only
    python benchmarks/run.py              # base and paper sizes (use a GPU for the paper sizes)

Figures:
  (a) ``train_images_per_s[<method>,<size>]``: training throughput of an UP-GAN phase and of
      pix2pix through the training engine (data resident on the device);
  (b) ``data_preparation_volumes_per_min[<task>]``: generation + preparation per subject;
  (c) ``inference_seconds[256x256x150]``: one volume through every phase with σ;
  (d) ``overhead_fraction``: share of an engine step spent outside the model's
      forward/backward/optimiser work;
  (e) ``speedup_vs_naive``: naive step time / ours at the same architecture and batch, naive =
      FP32 eager, the official residual block that computes its main branch twice, batches read
      from per-slice files every step;
  plus model FLOPs per step, achieved FLOP/s and, on CUDA, the fraction of the bf16 peak.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from upgan.io.bundle import ModelBundle
from upgan.io.nifti import NiftiVolume
from upgan.losses import UPGANLossWeights
from upgan.models import UPGAN, CascadeConfig, UNetConfig, build_discriminator, build_generators
from upgan.models.patchgan import DiscriminatorConfig
from upgan.models.unet import ResidualBlock
from upgan.runtime import configure_cpu_threads
from upgan.training import SlicePairs, StageConfig, UPGANPhase, resolve_device, train_stage

BF16_PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0}  # dense bf16 tensor-core peaks

SIZES = {
    "base": {"size": 64, "unet": dict(base_width=16, depth=3, max_width=128, block="plain"),
             "disc": dict(base_width=16, n_layers=2), "pix2pix": dict(ngf=16, ndf=16, n_layers_d=2)},
    "paper": {"size": 256, "unet": dict(base_width=64, depth=4, max_width=512, block="residual",
                                        residual_shortcut="conv3x3"),
              "disc": dict(base_width=64, n_layers=3), "pix2pix": dict(ngf=64, ndf=64, n_layers_d=3)},
}


def emit(name: str, value) -> None:
    print(f"{name}: {value:.4g}" if isinstance(value, float) else f"{name}: {value}", flush=True)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _data(n: int, size: int, seed: int = 0) -> SlicePairs:
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(n, 1, size, size, generator=g)
    return SlicePairs(target + 0.1 * torch.randn(n, 1, size, size, generator=g), target)


def _cascade_cfg(size_key: str) -> CascadeConfig:
    s = SIZES[size_key]
    return CascadeConfig(n_phases=3, unet=UNetConfig(in_channels=1, **s["unet"]),
                         discriminator=DiscriminatorConfig(**s["disc"]))


def _upgan_phase0(cfg: CascadeConfig) -> UPGANPhase:
    torch.manual_seed(0)
    cascade = UPGAN(build_generators(cfg, 1), guidance=True)
    return UPGANPhase(cascade, 0, build_discriminator(cfg), UPGANLossWeights())


def _engine_seconds_per_step(method, data: SlicePairs, batch: int, steps: int, device: str, bf16: bool,
                             channels_last: bool = True) -> float:
    """Wall time per step of the training engine (warm-up pass of ``steps`` updates excluded).

    ``2 * steps`` generator updates, recorded at 0, ``steps`` and ``2 * steps`` (no validation
    data, so a record costs only a time stamp); the second half is timed."""
    stage = StageConfig(name="bench", steps=2 * steps, batch_size=batch, seed=0, device=device, bf16=bf16,
                        channels_last=channels_last, val_every=steps, log_every_n_steps=10**9)
    times = []
    history = train_stage(method, data, None, stage, progress=False,
                          on_record=lambda r: times.append(time.perf_counter()))
    del history
    return (times[2] - times[1]) / steps


def train_throughput(size_key: str, device: str, bf16: bool, steps: int) -> None:
    s = SIZES[size_key]
    batch = 8
    data = _data(batch * steps, s["size"])
    sec = _engine_seconds_per_step(_upgan_phase0(_cascade_cfg(size_key)), data, batch, steps, device, bf16)
    emit(f"train_images_per_s[upgan_phase0,{size_key}]", batch / sec)
    from upgan.methods.single import train_single

    stage = StageConfig(name="bench", steps=2 * steps, batch_size=batch, seed=0, device=device, bf16=bf16,
                        channels_last=True, log_every_n_steps=10**9,
                        lr_generator=2e-4, lr_discriminator=2e-4, betas=(0.5, 0.999))
    start = time.perf_counter()
    history = train_single("pix2pix", s["pix2pix"], data, None, stage, progress=False).history
    assert history.updates == 2 * steps
    sec = (time.perf_counter() - start) / (2 * steps)  # includes the warm-up pass: conservative
    emit(f"train_images_per_s[pix2pix,{size_key}]", batch / sec)


def flops_and_overhead(size_key: str, device: str, bf16: bool, steps: int, rounds: int = 3) -> None:
    """FLOPs of one UP-GAN phase-0 step, achieved FLOP/s, and the engine's overhead fraction:
    1 - (bare forward/backward/optimiser step) / (engine step), medians of ``rounds``
    interleaved measurements of each."""
    dev = resolve_device(device)
    s = SIZES[size_key]
    batch = 8
    data = _data(batch * steps, s["size"])
    method = _upgan_phase0(_cascade_cfg(size_key))
    _engine_seconds_per_step(method, data, batch, steps, device, bf16)  # warm-up
    method.to(dev)
    method.set_train_mode(True)
    opt_g = torch.optim.Adam([p for m in method.generator_modules() for p in m.parameters()], lr=1e-4)
    opt_d = torch.optim.Adam([p for m in method.discriminator_modules() for p in m.parameters()], lr=1e-4)
    # the same layout as the engine's step (channels_last networks and data)
    x = data.inputs[:batch].to(dev).contiguous(memory_format=torch.channels_last)
    y = data.targets[:batch].to(dev).contiguous(memory_format=torch.channels_last)
    ctx = torch.autocast("cuda", dtype=torch.bfloat16) if (bf16 and dev.type == "cuda") else torch.autocast("cpu", enabled=False)

    def step() -> None:
        with ctx:
            g_loss, _, fake = method.generator_loss(x, y)
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        with ctx:
            d_loss, _ = method.discriminator_loss(x, y, fake)
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()

    step()
    with FlopCounterMode(display=False) as counter:
        step()
    flops = counter.get_total_flops()
    engine_times, compute_times = [], []
    for _ in range(rounds):
        engine_times.append(_engine_seconds_per_step(method, data, batch, steps, device, bf16))
        method.set_train_mode(True)
        _sync(dev)
        start = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(dev)
        compute_times.append((time.perf_counter() - start) / steps)
    engine_sec, compute_sec = float(np.median(engine_times)), float(np.median(compute_times))
    emit(f"step_seconds_engine[{size_key}]", engine_sec)
    emit(f"step_seconds_bare_compute[{size_key}]", compute_sec)
    emit(f"model_gflops_per_step[upgan_phase0,{size_key}]", flops / 1e9)
    emit(f"achieved_tflops[upgan_phase0,{size_key}]", flops / compute_sec / 1e12)
    if dev.type == "cuda":
        name = torch.cuda.get_device_name(dev)
        peak = next((v for k, v in BF16_PEAK_TFLOPS.items() if k in name), None)
        if peak:
            emit(f"fraction_of_bf16_peak[upgan_phase0,{size_key}]", flops / compute_sec / 1e12 / peak)
    emit(f"overhead_fraction[{size_key}]", max(0.0, 1.0 - compute_sec / engine_sec))  # < 0: noise


class _NaiveResidualBlock(ResidualBlock):
    """The official code's block: the main branch is evaluated twice, one result discarded."""

    def forward(self, x):
        self.main(x)
        return self.main(x) + self.shortcut(x)


def speedup_vs_naive(size_key: str, device: str, bf16: bool, steps: int, rounds: int) -> None:
    """Naive step (official block computing its main branch twice, batches read from per-slice
    files, a host sync every step, FP32 eager, NCHW) against ours (the engine as configured:
    channels_last, bf16 on CUDA when asked), plus each change alone.

    The variants run interleaved for ``rounds`` rounds and each figure is the median, so a slow
    spell of a shared machine hits all of them alike.
    """
    dev = resolve_device(device)
    s = SIZES[size_key]
    batch = 8
    unet = {**s["unet"], "block": "residual"}
    cfg = CascadeConfig(n_phases=1, unet=UNetConfig(in_channels=1, **unet),
                        discriminator=DiscriminatorConfig(**s["disc"]))
    data = _data(batch * steps, s["size"])

    def manual(duplicate: bool, files: bool, sync: bool, tmp: Path) -> float:
        method = _upgan_phase0(cfg)
        if duplicate:
            for module in method.cascade.modules():
                if type(module) is ResidualBlock:
                    module.__class__ = _NaiveResidualBlock
        method.to(dev)
        method.set_train_mode(True)
        opt_g = torch.optim.Adam([p for m in method.generator_modules() for p in m.parameters()], lr=1e-4)
        opt_d = torch.optim.Adam([p for m in method.discriminator_modules() for p in m.parameters()], lr=1e-4)
        resident_x, resident_y = data.inputs.to(dev), data.targets.to(dev)

        def step(k: int) -> None:
            idx = list(range(k * batch, (k + 1) * batch))
            if files:
                x = torch.from_numpy(np.stack([np.load(tmp / f"in_{i}.npy") for i in idx])).to(dev)
                y = torch.from_numpy(np.stack([np.load(tmp / f"tg_{i}.npy") for i in idx])).to(dev)
            else:
                x, y = resident_x[idx], resident_y[idx]
            g_loss, _, fake = method.generator_loss(x, y)
            opt_g.zero_grad()
            g_loss.backward()
            opt_g.step()
            d_loss, _ = method.discriminator_loss(x, y, fake)
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
            if sync:
                float(g_loss.detach())
                float(d_loss.detach())

        step(0)
        _sync(dev)
        start = time.perf_counter()
        for k in range(steps):
            step(k)
        _sync(dev)
        return (time.perf_counter() - start) / steps

    variants = {
        "naive": lambda tmp: manual(True, True, True, tmp),
        "naive_without_duplicate_branch": lambda tmp: manual(False, True, True, tmp),
        "naive_with_resident_data": lambda tmp: manual(True, False, True, tmp),
        "naive_without_per_step_sync": lambda tmp: manual(True, True, False, tmp),
        "ours_without_channels_last": lambda tmp: _engine_seconds_per_step(
            _upgan_phase0(cfg), data, batch, steps, device, bf16, channels_last=False),
        "ours": lambda tmp: _engine_seconds_per_step(
            _upgan_phase0(cfg), data, batch, steps, device, bf16, channels_last=True),
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for i in range(len(data)):
            np.save(tmp / f"in_{i}.npy", data.inputs[i].numpy())
            np.save(tmp / f"tg_{i}.npy", data.targets[i].numpy())
        for _ in range(rounds):
            for name, run in variants.items():
                times[name].append(run(tmp))
    median = {name: float(np.median(values)) for name, values in times.items()}
    for name, value in median.items():
        emit(f"step_seconds_{name}[{size_key}]", value)
    emit(f"speedup_vs_naive[{size_key}]", median["naive"] / median["ours"])


def data_preparation_throughput(n_subjects: int) -> None:
    from upgan.io.cohort import SyntheticCohortSpec, discover_cohort, write_synthetic_cohort
    from upgan.preparation import PreparationConfig, prepare_subject
    from upgan.tasks import TASKS

    sims = {"pet_ct": {"shape": [64, 64, 32], "spacing_mm": [3.5, 3.5, 4.0]},
            "ixi_t1": {"shape": [64, 64, 40], "spacing_mm": [3.6, 3.6, 4.0]}}
    with tempfile.TemporaryDirectory() as tmp:
        for task in TASKS.values():
            start = time.perf_counter()
            spec = SyntheticCohortSpec(task.layout, n_subjects, 0, sims[task.layout.name])
            root = write_synthetic_cohort(Path(tmp) / f"{task.name}", spec, progress=False)
            index = discover_cohort(root, task.layout)
            paths = index.pivot(index="subject_id", columns="modality", values="path")
            for sid in paths.index:
                prepare_subject(task, sid, paths.loc[sid].to_dict(), PreparationConfig(slice_size=64), 0)
            minutes = (time.perf_counter() - start) / 60
            emit(f"data_preparation_volumes_per_min[{task.name},base]", n_subjects / minutes)


def inference_seconds(size_key: str, device: str) -> None:
    from upgan.predict import predict_volume

    cfg = _cascade_cfg(size_key)
    torch.manual_seed(0)
    states = {f"generator_{m}": g.state_dict() for m, g in enumerate(build_generators(cfg))}
    bundle = ModelBundle.pack(states, {"task": "mri_recon", "method": "upgan", "cascade": cfg.to_dict(),
                                       "preparation": {"slice_size": SIZES[size_key]["size"]}})
    rng = np.random.default_rng(0)
    volume = NiftiVolume(rng.random((256, 256, 150), dtype=np.float32) + 0.1, np.diag([0.94, 0.94, 1.2, 1.0]))
    seconds = {}
    for channels_last in (False, True, False, True):  # interleaved; the faster of two each
        start = time.perf_counter()
        predict_volume(bundle, volume, device=device, batch_size=32, channels_last=channels_last)
        _sync(resolve_device(device))
        elapsed = time.perf_counter() - start
        seconds[channels_last] = min(seconds.get(channels_last, math.inf), elapsed)
    emit(f"inference_seconds_without_channels_last[256x256x150,{size_key}]", seconds[False])
    emit(f"inference_seconds[256x256x150,{size_key}]", seconds[True])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="base sizes, few steps (< 2 min on 2 CPU cores)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast on CUDA")
    parser.add_argument("--sizes", default=None,
                        help="comma-separated sizes to measure (base, paper); default: base with "
                             "--quick, else base,paper. Inference uses the largest one.")
    args = parser.parse_args()
    threads = configure_cpu_threads("auto")
    dev = resolve_device(args.device)
    emit("machine", f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus, torch threads {threads}")
    emit("torch", torch.__version__)
    emit("device", torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu")
    steps = 6 if args.quick else 20
    sizes = (args.sizes.split(",") if args.sizes else ["base"] if args.quick else ["base", "paper"])
    unknown = sorted(set(sizes) - set(SIZES))
    if unknown:
        parser.error(f"unknown size(s) {', '.join(unknown)}; known: {', '.join(SIZES)}")
    for size in sizes:
        paper_cpu = size == "paper" and dev.type == "cpu"
        n = 2 if paper_cpu else steps
        train_throughput(size, args.device, args.bf16, n)
        flops_and_overhead(size, args.device, args.bf16, n, rounds=1 if paper_cpu else 3)
        speedup_vs_naive(size, args.device, args.bf16, n, rounds=1 if paper_cpu else 3)
    data_preparation_throughput(2 if args.quick else 6)
    inference_seconds("paper" if "paper" in sizes else "base", args.device)


if __name__ == "__main__":
    main()
