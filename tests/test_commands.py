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


def test_make_ui_and_viz_put_the_venv_on_path():
    """`make ui` (the MLflow UI launcher) and `kedro viz` start helpers by name: without the venv on PATH
    they fail with FileNotFoundError('mlflow') unless the venv is activated."""
    bin_dir = os.path.abspath(PROJECT / ".venv" / "bin")
    for target, command in (("ui", "upgan.pipelines.mlflow_view"), ("viz", "kedro viz run")):
        result = subprocess.run(["make", "-n", target], cwd=PROJECT, env=ENV, capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        line = next(x for x in result.stdout.splitlines() if command in x)
        assert line.startswith(f"PATH={bin_dir}:"), line
    readme = (PROJECT / "README.md").read_text()
    section = readme.split("## Plain Kedro commands", 1)[1].split("\n## ", 1)[0]
    assert "make ui" in section and "make viz" in section


def test_a_refused_configuration_prints_one_line_not_a_traceback(tmp_path):
    """`kedro run` with a typo'd parameter ends with exit code 2 and one error line naming the
    parameter and its hint (no traceback box), before MLflow opens a run."""
    command = [sys.executable, "-m", "kedro", "run", "--env", "test", "--pipeline", "data_preparation",
               "--params", f"data_root={tmp_path / 'data'},upgan.phse.steps=5"]
    env = dict(ENV, OMP_NUM_THREADS="1")
    env.pop("UPGAN_TRACEBACK", None)
    result = subprocess.run(command, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    assert "Error: unknown parameter upgan.phse" in output and "did you mean upgan.phase?" in output
    assert "Traceback" not in output and "╭" not in output
    assert "Mlflow run" not in output  # refused before a run was opened
    verbose = subprocess.run(command, cwd=PROJECT, env=dict(env, UPGAN_TRACEBACK="1"), capture_output=True,
                             text=True, timeout=300)
    assert verbose.returncode != 0 and "unknown parameter upgan.phse" in verbose.stdout + verbose.stderr
    assert "Traceback" in verbose.stdout + verbose.stderr or "╭" in verbose.stdout + verbose.stderr
