"""No `kedro` command edits the project's tracked files: telemetry consent is set in the project
(a tracked `.telemetry` file, as Kedro documents), so kedro-telemetry neither asks nor appends a
`[tool.kedro_telemetry]` project id to pyproject.toml, even without KEDRO_DISABLE_TELEMETRY."""

import os
import shutil
import subprocess
import sys

import pytest
import yaml

from upgan.structure import PROJECT_ROOT


def test_the_project_declines_telemetry():
    assert yaml.safe_load((PROJECT_ROOT / ".telemetry").read_text()) == {"consent": False}


@pytest.mark.skipif(shutil.which("git") is None or not (PROJECT_ROOT / ".git").exists(),
                    reason="needs git and a git checkout of the project")
def test_a_plain_kedro_command_leaves_git_status_clean(tmp_path):
    files = subprocess.run(["git", "ls-files", "-z"], cwd=PROJECT_ROOT, capture_output=True, check=True).stdout
    clone = tmp_path / "project"
    for name in filter(None, files.decode().split("\0")):
        if (PROJECT_ROOT / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT_ROOT / name, clone / name)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "clone"]):
        subprocess.run([*git, *args], cwd=clone, check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("KEDRO_DISABLE_TELEMETRY", "DO_NOT_TRACK")}
    env["PYTHONPATH"] = str(clone / "src")
    result = subprocess.run([sys.executable, "-m", "kedro", "registry", "list"], cwd=clone, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    status = subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True, check=True)
    assert status.stdout == ""
