"""A paper-shaped pipeline smoke: ``kedro run --env paper`` for one task, every method, on a
small cohort, in a private folder (its own data root and MLflow store; the project's are not
touched). Prints ``name: value`` lines: the wall time and every cell's test metrics.

    python benchmarks/paper_smoke.py            # GPU: paper widths, 256x256x48, 150 updates
    python benchmarks/paper_smoke.py --tiny     # CPU/CI: the paper's code path at tiny sizes

``--tiny`` keeps what makes the paper env the paper env (multi-worker generation, bf16 and
channels-last flags, the residual conv3x3-shortcut U-Net, 3-layer PatchGANs, MedGAN's 6
u-blocks, the paper's loss recipe and optimisers) and shrinks sizes, widths and budgets.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

PROJECT = Path(__file__).resolve().parents[1]
RATE = re.compile(r"stage (?P<stage>[^:\n]+): (?P<n>\d+) updates in \S+ s: (?P<rate>[\d.]+) updates/s "
                  r"\((?P<path>\w+) data")

TINY: dict[str, Any] = {
    "cohorts": {"pet_ct": {"n_subjects": 8, "n_workers": 2,
                           "simulation": {"shape": [32, 32, 12], "spacing_mm": [8.0, 8.0, 16.0]}}},
    "pet_to_ct": {"split": {"train": 4, "val": 1, "test": 3}, "preparation": {"slice_size": 32}},
    "upgan": {"generator": {"base_width": 4, "max_width": 16}, "discriminator": {"base_width": 4},
              "fine_tune": {"steps": 2, "batch_size": 2}, "phase": {"batch_size": 2}},
    "training": {"steps": 2, "val_every": 1000},
    "baselines": {"optimiser": {"batch_size": 2}, "pix2pix": {"ngf": 4, "ndf": 4}, "pan": {"width": 4, "d_width": 4},
                  "medgan": {"ngf": 4, "ndf": 4, "feature_extractor": {"width": 4, "steps": 2}}},
    "weak_supervision": {"counts": [2, 4]},
}
GPU: dict[str, Any] = {
    "cohorts": {"pet_ct": {"n_subjects": 10, "simulation": {"shape": [256, 256, 48]}}},
    "pet_to_ct": {"split": {"train": 6, "val": 1, "test": 3}},
    "upgan": {"fine_tune": {"steps": 150}},
    "training": {"steps": 150, "val_every": 75},
    "baselines": {"medgan": {"feature_extractor": {"steps": 100}}},
    "weak_supervision": {"counts": [3, 6]},
}


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` deep-merged into a copy of ``base``."""
    out = dict(base)
    for key, value in over.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def paper_conf(root: Path, overrides: dict[str, Any]) -> Path:
    """A copy of conf/ whose ``paper`` env holds the paper's parameters merged with ``overrides``
    (each top-level key stays in its own file) and an MLflow store under ``root``."""
    conf = root / "conf"
    shutil.copytree(PROJECT / "conf", conf, ignore=shutil.ignore_patterns("local"))
    (conf / "local").mkdir(exist_ok=True)
    paper = conf / "paper"
    placed = set()
    for path in sorted(paper.glob("parameters*.yml")):
        params = yaml.safe_load(path.read_text()) or {}
        mine = {k: v for k, v in overrides.items() if k in params}
        placed |= set(mine)
        path.write_text(yaml.safe_dump(merge(params, mine), sort_keys=False))
    rest = {k: v for k, v in overrides.items() if k not in placed}
    if rest:
        (paper / "parameters_smoke.yml").write_text(yaml.safe_dump(rest, sort_keys=False))
    (paper / "mlflow.yml").write_text(yaml.safe_dump({
        "server": {"mlflow_tracking_uri": f"sqlite:///{root / 'mlflow.db'}"},
        "tracking": {"experiment": {"name": "upgan-paper-smoke",
                                    "create_experiment_kwargs": {"artifact_location": str(root / "mlruns")}}}}))
    return conf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="tiny sizes (CPU, CI)")
    parser.add_argument("--task", default="pet_to_ct")
    parser.add_argument("--keep", type=Path, default=None, help="run in this folder and keep it")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="upgan-paper-smoke-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        conf = paper_conf(root, TINY if args.tiny else GPU)
        command = [sys.executable, "-m", "kedro", "run", "--conf-source", str(conf), "--env", "paper",
                   "--namespaces", args.task, "--params", f"data_root={root / 'data'}"]
        start = time.perf_counter()
        env = dict(os.environ, COLUMNS="1000", KEDRO_DISABLE_TELEMETRY="true")  # one log record per line
        result = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - start
        log = root / "kedro_run.log"
        log.write_text(result.stdout + result.stderr)
        print(f"paper_smoke_mode: {'tiny' if args.tiny else 'gpu'}")
        print(f"paper_smoke_exit_code: {result.returncode}")
        print(f"paper_smoke_wall_seconds: {wall:.1f}")
        if result.returncode != 0:
            print((result.stdout + result.stderr)[-4000:], file=sys.stderr)
            sys.exit(result.returncode)
        for match in RATE.finditer(log.read_text()):
            print(f"paper_smoke_updates_per_s[{match['stage']}]: {match['rate']} ({match['n']} updates, "
                  f"{match['path']} data)")
        tables = sorted((root / "data" / "08_reporting" / "evaluation").glob("*/metrics.csv"))
        if not tables:
            sys.exit("paper_smoke: no cell wrote its metrics")
        metrics = pd.concat([pd.read_csv(t) for t in tables])
        for method, cell in metrics.groupby("method"):
            print(f"paper_smoke_test[{args.task},{method}]: ssim {cell['ssim'].mean():.4f} mae "
                  f"{cell['mae'].mean():.1f} bone_dice {cell['bone_dice'].mean():.3f} ({len(cell)} subjects)")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
