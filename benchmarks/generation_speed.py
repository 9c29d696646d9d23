"""Synthetic cohort generation speed (volumes per minute, one process): prints ``name: value``.

    python benchmarks/generation_speed.py --env paper --subjects 2
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

from kedro.config import OmegaConfigLoader

from upgan.runtime import configure_cpu_threads
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--env", default="base")
    parser.add_argument("--subjects", type=int, default=2)
    args = parser.parse_args()
    threads = configure_cpu_threads("auto")
    params = OmegaConfigLoader(str(PROJECT / "conf"), env=args.env, **CONFIG_LOADER_ARGS)["parameters"]
    print(f"machine: {platform.processor() or platform.machine()} cpus={os.cpu_count()} torch_threads={threads}")
    for name, cls, simulate in (("pet_ct", PetCtSimulation, simulate_pet_ct_subject),
                                ("ixi_t1", T1Simulation, simulate_t1_subject)):
        config = _config(cls, params["cohorts"][name]["simulation"])
        start = time.perf_counter()
        for i in range(args.subjects):
            simulate(config, 0, i)
        per = (time.perf_counter() - start) / args.subjects
        print(f"{name}[{args.env}]_shape: {list(config.shape)}")
        print(f"{name}[{args.env}]_seconds_per_subject: {per:.2f}")
        print(f"{name}[{args.env}]_volumes_per_minute_per_process: {60.0 / per:.2f}")


if __name__ == "__main__":
    main()
