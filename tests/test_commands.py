"""The command lines a user types: `kedro` in the project and the `upgan` console script."""

import os
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, KEDRO_DISABLE_TELEMETRY="true")


def test_kedro_cli_lists_the_pipelines():
    result = subprocess.run([sys.executable, "-m", "kedro", "registry", "list"], cwd=PROJECT, env=ENV,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("__default__", "data_preparation", "training", "evaluation", "reporting", "weak_supervision"):
        assert f"- {name}" in result.stdout


def test_upgan_console_script_help():
    result = subprocess.run([sys.executable, "-m", "upgan.console", "predict", "--help"], env=ENV,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    assert "MODEL" in result.stdout.upper() and "OUTPUT_DIR" in result.stdout.upper()
