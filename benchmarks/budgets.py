"""Wall-clock budgets of whole pipeline runs: prints ``name: value`` lines.

    python benchmarks/budgets.py --pipeline data_preparation --env test
    python benchmarks/budgets.py --pipeline training --env base --namespaces pet_to_ct

Each run writes into a fresh temporary data root (nothing cached from earlier runs unless
``--data-root`` points at one), with MLflow tracking in the same folder.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

PROJECT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipeline", default="__default__")
    parser.add_argument("--env", default="base")
    parser.add_argument("--namespaces", default=None)
    parser.add_argument("--data-root", default=None, help="reuse this data root (e.g. prepared data)")
    args = parser.parse_args()
    data_root = Path(args.data_root or tempfile.mkdtemp(prefix="upgan-budget-"))
    cmd = [sys.executable, "-m", "kedro", "run", "--pipeline", args.pipeline, "--params",
           f"data_root={data_root}"]
    if args.env != "base":
        cmd += ["--env", args.env]
    if args.namespaces:
        cmd += ["--namespaces", args.namespaces]
    env = dict(os.environ, KEDRO_DISABLE_TELEMETRY="true", MLFLOW_TRACKING_URI=f"sqlite:///{data_root}/mlflow.db")
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=PROJECT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-5000:] + result.stderr[-5000:])
        raise SystemExit(result.returncode)
    label = f"{args.pipeline}[{args.env}{',' + args.namespaces if args.namespaces else ''}]"
    print(f"machine: {platform.node()} {platform.processor() or platform.machine()} cpus={os.cpu_count()}")
    print(f"torch: {torch.__version__}")
    print(f"{label}_seconds: {seconds:.1f}")
    print(f"data_root: {data_root}")


if __name__ == "__main__":
    main()
