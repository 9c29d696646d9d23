"""The documented commands are the current ones: Kedro 1.7's `--pipelines` (its `--pipeline` is
deprecated), and `make run|ui|viz` pass a configuration environment (`ENV=test`)."""

import os
import re
import shutil
import subprocess

import pytest

from upgan.structure import PROJECT_ROOT

DOCS = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_kedro_run_commands_use_pipelines(doc):
    deprecated = [line for line in doc.read_text().splitlines() if re.search(r"kedro run\b.*--pipeline\s", line)]
    assert deprecated == []


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.parametrize(("target", "expected"), [("viz", "kedro viz run --env test"),
                                                  ("ui", "python -m upgan.pipelines.mlflow_view --env test"),
                                                  ("run", "kedro run --env test")])
def test_make_targets_take_an_environment(tmp_path, target, expected):
    venv = tmp_path / "venv"  # never created: -n only prints the commands
    # under `make test` MAKEFLAGS/MAKELEVEL are inherited: a nested make would print directories
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    result = subprocess.run(["make", "--no-print-directory", "-n", target, "ENV=test", f"VENV={venv}"],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, check=True, env=env)
    command = result.stdout.splitlines()[-1]
    assert f"{venv}/bin/{expected}" in command
    if target == "viz":  # Kedro-Viz shapes the pipelines from KEDRO_ENV, not from --env
        assert "KEDRO_ENV=test " in command
