"""`kedro viz build` succeeds; namespaces become collapsible groups; datasets carry layers; the
default view with every group folded is readable (few elements), and no node lacks type hints."""

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
    assert {"pet_to_ct", "pet_to_ct.upgan", "pet_to_ct.upgan.n04", "pet_to_ct.upgan.n04.s2021",
            "mri_recon.pix2pix.n04.s2022"} <= groups
    # every group folded: the tasks, their three results, the report and its parameters
    top = main["modular_pipelines"]["__root__"]["children"]
    assert len(top) <= 40, len(top)
    names = {n["id"]: n["name"] for n in main["nodes"]}
    shown = {names[c["id"]] for c in top if c["id"] in names}
    assert {"pet_to_ct", "mri_recon", "mri_motion", "pet_to_ct.results", "table1"} <= shown
    assert not any(".n04." in name for name in shown)  # no cell's dataset is left loose
    assert "Could not extract type hints" not in result.stdout + result.stderr
    layers = {n.get("layer") for n in main["nodes"] if n.get("type") == "data"}
    assert {"raw", "model_input", "models", "model_output", "reporting"} <= layers
