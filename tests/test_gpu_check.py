"""`benchmarks/gpu_check.sh --dry-run`: the GPU check's steps at tiny sizes on the CPU, including
the paper env's code path end to end (`kedro run --env paper` merged with tiny sizes:
two generation workers, bf16/channels-last flags, the paper's block types at small width)."""

import os
import re
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
METHODS = ("medgan", "pan", "pix2pix", "unet_l1", "upgan", "upgan_no_guidance")


def test_gpu_check_dry_run_runs_the_paper_env_end_to_end():
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS="1", KEDRO_DISABLE_TELEMETRY="true")
    result = subprocess.run(["bash", str(PROJECT / "benchmarks" / "gpu_check.sh"), "--dry-run"], cwd=PROJECT,
                            env=env, capture_output=True, text=True, timeout=900)
    out = result.stdout
    assert result.returncode == 0, (out + result.stderr)[-4000:]
    assert "paper_smoke_exit_code: 0" in out and "== done" in out
    assert re.search(r"medgan_over_upgan_flops_per_generator_update\[base\]: [\d.]+", out)
    assert re.search(r"pet_ct\[test\]_volumes_per_cpu_minute: [\d.]+", out)
    for method in METHODS:  # every method of Table 1 trained and was scored on the test subjects
        assert re.search(rf"paper_smoke_test\[pet_to_ct,{method}\]: ssim [\d.]+ mae [\d.]+ bone_dice", out), method
    for stage in ("upgan.n04.s2021 phase 2", "upgan.n04.s2021 fine-tune", "medgan.n04.s2021 train"):
        assert re.search(rf"paper_smoke_updates_per_s\[pet_to_ct\.{re.escape(stage)}\]: [\d.]+", out), stage
