"""`kedro viz build` succeeds; namespaces become collapsible groups; datasets carry layers."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

PROJECT_PATH = Path(__file__).resolve().parents[2]


def test_kedro_viz_build(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    for name in ("conf", "src"):
        shutil.copytree(PROJECT_PATH / name, project / name, ignore=shutil.ignore_patterns("__pycache__", "local"))
    shutil.copy(PROJECT_PATH / "pyproject.toml", project)
    (project / "conf" / "local").mkdir()
    env = dict(os.environ, KEDRO_DISABLE_TELEMETRY="true", KEDRO_ENV="test")
    result = subprocess.run([sys.executable, "-m", "kedro", "viz", "build"], cwd=project, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    main = json.loads((project / "build" / "api" / "main").read_text())
    groups = set(main["modular_pipelines"])
    assert {"pet_to_ct", "pet_to_ct.upgan", "pet_to_ct.upgan.n04", "mri_recon.pix2pix.n04"} <= groups
    layers = {n.get("layer") for n in main["nodes"] if n.get("type") == "data"}
    assert {"raw", "model_input", "models", "model_output", "reporting"} <= layers
