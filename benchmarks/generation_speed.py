"""Synthetic cohort generation speed per process: prints ``name: value`` lines.

Each subject is simulated in this one process with ``--threads`` torch threads (1 by default:
a generation worker of an ``n_workers`` pool uses its share of the cores, see
:mod:`upgan.parallel`). The figures are per process and given as wall-clock and as this
process's CPU time (the latter is what to quote on a busy machine). The IXI figure includes the
TorchIO motion of the ``mri_motion`` task (``--no-motion`` leaves it out), as the paper's
motion cohort needs both.

    python benchmarks/generation_speed.py --env base --subjects 2
    python benchmarks/generation_speed.py --env paper --subjects 1 --profile
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import time
from pathlib import Path

import numpy as np
import torch
from kedro.config import OmegaConfigLoader

from upgan import simulation
from upgan.settings import CONFIG_LOADER_ARGS
from upgan.simulation import (
    PetCtSimulation,
    T1Simulation,
    simulate_pet_ct_subject,
    simulate_t1_subject,
)

PROJECT = Path(__file__).resolve().parents[1]


def _config(cls, params):
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in params.items()})


def _t1_with_motion(config: T1Simulation, motion: dict | None):
    def run(seed: int, index: int) -> None:
        t1 = simulate_t1_subject(config, seed, index)["t1"]
        if motion:
            s = config.spacing_mm
            simulation.simulate_motion(np.moveaxis(t1, 0, -1), (s[1], s[2], s[0]),
                                       degrees=float(motion["degrees"]),
                                       translation_mm=float(motion["translation_mm"]),
                                       num_transforms=int(motion["num_transforms"]), seed=index)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="base")
    parser.add_argument("--subjects", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of this process")
    parser.add_argument("--cohorts", default="pet_ct,ixi_t1")
    parser.add_argument("--no-motion", action="store_true")
    parser.add_argument("--profile", action="store_true", help="print the 12 costliest functions")
    parser.add_argument("--projector-device", default=None, help="PET projector: cpu, cuda or auto")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    params = OmegaConfigLoader(str(PROJECT / "conf"), env=args.env, **CONFIG_LOADER_ARGS)["parameters"]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {platform.processor() or platform.machine()} cpus={os.cpu_count()} "
          f"torch_threads={args.threads} load_1min={load:.2f} cuda={torch.cuda.is_available()}")
    motion = None if args.no_motion else params["mri_motion"]["preparation"]["motion"]
    runs = {
        "pet_ct": (PetCtSimulation, lambda c: (lambda s, i: simulate_pet_ct_subject(c, s, i))),
        "ixi_t1": (T1Simulation, lambda c: _t1_with_motion(c, motion)),
    }
    for name in args.cohorts.split(","):
        cls, make = runs[name]
        cohort = params["cohorts"][name]
        simulation_params = dict(cohort["simulation"])
        if name == "pet_ct" and args.projector_device:
            simulation_params["projector_device"] = args.projector_device
        config = _config(cls, simulation_params)
        run = make(config)
        run(0, 10_000)  # warm-up (imports, allocator), not timed
        profiler = cProfile.Profile() if args.profile else None
        wall, cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        for i in range(args.subjects):
            run(0, i)
        if profiler:
            profiler.disable()
        wall = (time.perf_counter() - wall) / args.subjects
        cpu = (time.process_time() - cpu) / args.subjects
        tag = f"{name}[{args.env}]" + ("+motion" if name == "ixi_t1" and motion else "")
        if name == "pet_ct" and getattr(config, "projector_device", "cpu") != "cpu":
            tag += f"@{config.projector_device}"
        print(f"{tag}_shape: {list(config.shape)}")
        print(f"{tag}_wall_seconds_per_subject: {wall:.2f}")
        print(f"{tag}_cpu_seconds_per_subject: {cpu:.2f}")
        print(f"{tag}_volumes_per_minute_per_process: {60.0 / wall:.2f}")
        print(f"{tag}_volumes_per_cpu_minute: {60.0 / cpu:.2f}")
        n = int(cohort["n_subjects"])
        print(f"{tag}_cohort_cpu_minutes: {n * cpu / 60:.1f} ({n} subjects)")
        print(f"{tag}_cohort_minutes_on_16_cores: {n * cpu / 60 / 16:.2f}")
        if profiler:
            pstats.Stats(profiler).sort_stats("tottime").print_stats(12)


if __name__ == "__main__":
    main()
