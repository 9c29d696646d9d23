"""Helpers of the launch tests (a module of its own: test modules cannot import a conftest)."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
SMALL = {"tasks": ["pet_to_ct"], "methods": ["unet_l1", "upgan"]}
"""The launch tests' grid: the test env restricted to one task and two methods (a single-generator
method and the cascade: each kind of cell), two seeds -- 4 cells. Each launched job pays a Python
start-up; the test env's 38 cells would cost minutes more and exercise no other code."""
CELLS = [f"pet_to_ct.{m}.n04.s{s}" for m in SMALL["methods"] for s in (2021, 2022)]


def run_env() -> dict[str, str]:
    env = dict(os.environ, KEDRO_DISABLE_TELEMETRY="true", OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(PROJECT / "src"), os.environ.get("PYTHONPATH", "")]))
    env.pop("UPGAN_TRACEBACK", None)
    return env
