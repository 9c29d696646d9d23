"""MLflow's UI opens the project's experiment on the runs table, not the GenAI overview, checked
in a real headless Chromium on a real ``mlflow ui`` over a store written by a test-env run; and
the launcher never creates an experiment or a store."""

import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from upgan.pipelines.mlflow_view import experiment_with_runs, runs_url
from upgan.structure import PROJECT_ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1600,1000", "--virtual-time-budget=20000"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_runs_url_asks_for_model_training():
    assert runs_url("127.0.0.1", 5000, "3") == "http://127.0.0.1:5000/#/experiments/3/runs?workflowType=machine_learning"
    assert runs_url("h", 1, "3", "v") == "http://h:1/#/experiments/3/runs?workflowType=machine_learning&viewStateShareKey=v"
    assert runs_url("h", 1, None, "v") == "http://h:1/#/experiments?workflowType=machine_learning"


def test_looking_up_the_experiment_creates_nothing(tmp_path):
    assert experiment_with_runs(f"sqlite:///{tmp_path / 'mlflow.db'}", "upgan") is None
    assert list(tmp_path.iterdir()) == []


def _dom(url: str, profile) -> str:
    result = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
                            capture_output=True, text=True, timeout=180)
    return result.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (Debian package chromium)")
def test_make_ui_opens_on_the_runs_table_in_a_browser(default_run, tmp_path):
    root = default_run.parent  # the test run's folder: sqlite:///mlflow.db is here
    experiments_before = _experiments(root)
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "upgan.pipelines.mlflow_view", "--env", "test", "--port",
                               str(port), "--no-browser"], cwd=root, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        url = None
        deadline = time.monotonic() + 120
        while url is None and time.monotonic() < deadline:
            line = server.stdout.readline()
            match = re.search(r"runs table: (\S+)", line)
            url = match.group(1) if match else None
        assert url and url.endswith("/runs?workflowType=machine_learning&viewStateShareKey=upgan-compare"), url
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except OSError:
                time.sleep(1)
        shown = _dom(url, tmp_path / "profile_runs")
        unshared = _dom(url.split("&")[0], tmp_path / "profile_unshared")  # the runs table, MLflow's columns
        plain = _dom(url.split("/runs?")[0], tmp_path / "profile_plain")  # what MLflow shows by default
    finally:
        import os
        import signal

        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    assert ">Runs<" in shown and "Group: task" in shown  # the runs table, grouped by task and method
    # the test scores are columns without any picking; MLflow's own default shows none
    assert all(f">Test/{m}<" in shown for m in ("ssim", "psnr", "mae"))
    assert ">Runs<" in unshared and "all [test]" in unshared and ">Test/ssim<" not in unshared
    assert "Detect Issues" not in shown and ">Overview<" not in shown
    assert ">Overview<" in plain  # the check can fail: without the query MLflow opens the GenAI overview
    assert _experiments(root) == experiments_before  # nothing created


def _experiments(root) -> list[str]:
    from mlflow.tracking import MlflowClient

    return sorted(e.name for e in MlflowClient(f"sqlite:///{root / 'mlflow.db'}").search_experiments())


def test_make_ui_uses_the_launcher():
    assert "upgan.pipelines.mlflow_view" in (PROJECT_ROOT / "Makefile").read_text()
