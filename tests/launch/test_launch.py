"""`upgan launch` end to end: the cells come from the pipeline's grid, finished cells are skipped,
a failed or cancelled cell is reported with its log and the others go on, a resubmitted cell
resumes from its checkpoints, and the results are bit-identical to `kedro run`'s, launched on
local processes or on a real SLURM."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from launch_helpers import CELLS, run_env

UPGAN_CELL = "pet_to_ct.upgan.n04.s2021"


def launch(project: Path, data_root: Path, *args: str, params: str = "", env: dict | None = None,
           wait: bool = True) -> subprocess.Popen | tuple[int, str]:
    command = [sys.executable, "-m", "upgan.console", "launch", "--env", "small", "--poll", "0.5", *args,
               "--params", f"data_root={data_root}" + (f",{params}" if params else "")]
    process = subprocess.Popen(command, cwd=project, env={**run_env(), **(env or {})}, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    if not wait:
        return process
    output, _ = process.communicate(timeout=1800)
    return process.returncode, output


def results(data_root: Path) -> dict[str, bytes]:
    """Every model bundle and per-subject metrics table a run wrote, by relative path."""
    files = [p for p in (data_root / "06_models").rglob("*.safetensors") if "checkpoints" not in p.parts]
    files += list((data_root / "08_reporting" / "evaluation").rglob("metrics.csv"))
    files.append(data_root / "08_reporting" / "metrics_per_subject.csv")
    return {str(p.relative_to(data_root)): p.read_bytes() for p in files if p.exists()}


def assert_same_results(launched: Path, direct: Path) -> None:
    expected, got = results(direct), results(launched)
    assert len(expected) >= 4 * 2 + 1, sorted(expected)  # bundles, metrics, the per-subject table
    assert sorted(got) == sorted(expected)
    different = [name for name in expected if got[name] != expected[name]]
    assert not different, f"not bit-identical to kedro run: {different}"


def states(project: Path, data_root: Path, executor: str = "local") -> dict[str, str]:
    rc, output = launch(project, data_root, "--executor", executor, "--dry-run")
    assert rc == 0, output[-3000:]
    found = re.findall(r"^(prepare|cell|report)\s+(\S+)\s+(.+)$", output, flags=re.MULTILINE)
    return {name: state.strip() for _, name, state in found}


def test_dry_run_lists_the_grid_with_states(small_project, tmp_path):
    listed = states(small_project, tmp_path / "data")
    assert listed == {"data_preparation": "to run", **dict.fromkeys(CELLS, "to run"), "report": "to run"}
    assert not (tmp_path / "data" / "06_models").exists()  # nothing ran


def test_local_launch_is_bit_identical_to_kedro_run_and_a_rerun_runs_nothing(small_project, direct, tmp_path):
    data_root = tmp_path / "local"
    rc, output = launch(small_project, data_root, "--executor", "local", "--max-parallel", "2")
    assert rc == 0, output[-3000:]
    assert "cells: 4 done, 0 running, 0 failed, 0 waiting (of 4)" in output
    assert_same_results(data_root, direct)
    assert set(states(small_project, data_root).values()) == {"finished"}
    rc, output = launch(small_project, data_root, "--executor", "local")
    assert rc == 0 and "nothing to do: the 4 cells are finished, and the report" in output, output[-3000:]


def test_two_launchers_on_one_data_root(small_project, tmp_path):
    data_root = tmp_path / "data"
    first = launch(small_project, data_root, "--executor", "local", "--namespaces", "pet_to_ct.unet_l1.n04.s2021",
                   wait=False)
    try:
        lock = data_root / "09_tracking" / "locks" / "launch.lock"
        deadline = time.monotonic() + 300
        while not (lock.exists() and str(first.pid) in lock.read_text()):
            assert first.poll() is None and time.monotonic() < deadline, first.stdout.read()[-3000:]
            time.sleep(0.2)
        rc, output = launch(small_project, data_root, "--executor", "local")
        assert rc == 2, output[-3000:]
        assert f"launch in {data_root} is in use by pid {first.pid} on host" in output
    finally:
        first.terminate()
        first.communicate(timeout=120)


@pytest.mark.usefixtures("slurm")
def test_slurm_launch_reports_a_failing_cell_and_a_rerun_completes_bit_identical(small_project, direct, slurm,
                                                                                  tmp_path):
    data_root = tmp_path / "slurm"
    broken = "pet_to_ct.unet_l1.n04.s2021"
    blocker = data_root / "06_models" / "pet_to_ct" / "unet_l1" / "n04" / "s2021"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("a file where the cell's model folder goes: the cell cannot save its model")
    rc, output = launch(small_project, data_root, "--executor", "slurm", "--max-parallel", "2", env=slurm.env)
    assert rc == 1, output[-3000:]
    failed = re.search(rf"^FAILED {re.escape(broken)}: .*\(log: (\S+)\)$", output, flags=re.MULTILINE)
    assert failed, output[-3000:]
    assert Path(failed.group(1)).is_file()
    assert "cells: 3 done, 0 running, 1 failed, 0 waiting (of 4)" in output
    listed = states(small_project, data_root, "slurm")
    assert listed[broken] == "to run" and listed["report"] == "to run"
    assert all(listed[c] == "finished" for c in CELLS if c != broken)
    blocker.unlink()
    rc, output = launch(small_project, data_root, "--executor", "slurm", env=slurm.env)
    assert rc == 0, output[-3000:]
    assert "launch: 1 of 4 cells to run" in output
    assert_same_results(data_root, direct)


@pytest.mark.usefixtures("slurm")
def test_slurm_cell_cancelled_mid_training_resumes_when_resubmitted(small_project, direct, slurm, tmp_path):
    data_root = tmp_path / "slurm_cancel"
    cell_folder = data_root / "06_models" / "pet_to_ct" / "upgan" / "n04" / "s2021"
    checkpoints = data_root / "06_models" / "checkpoints" / "pet_to_ct" / "upgan" / "n04" / "s2021"
    # the phases train as in the reference; the fine-tune would go on for ever
    launcher = launch(small_project, data_root, "--executor", "slurm", "--namespaces", UPGAN_CELL,
                      params="upgan.fine_tune.steps=1000000", env=slurm.env, wait=False)
    try:
        deadline = time.monotonic() + 600
        while not (cell_folder / "phase_1.safetensors").exists():
            assert launcher.poll() is None and time.monotonic() < deadline, launcher.stdout.read()[-3000:]
            time.sleep(0.3)
        time.sleep(1.0)
        jobs = subprocess.run(["squeue", "-h", "-o", "%i"], env=slurm.env, capture_output=True, text=True).stdout.split()
        assert len(jobs) == 1, jobs
        phases = {p.name: p.stat().st_mtime_ns for p in checkpoints.glob("phase_*.pt")}
        assert len(phases) == 2, phases
        subprocess.run(["scancel", jobs[0]], env=slurm.env, check=True)
        output, _ = launcher.communicate(timeout=300)
    finally:
        launcher.kill()
    assert launcher.returncode == 1, output[-3000:]
    assert re.search(rf"^FAILED {re.escape(UPGAN_CELL)}: .*(?i:cancel).*\(log: ", output, flags=re.MULTILINE), \
        output[-3000:]
    assert not (cell_folder / "model.safetensors").exists()
    rc, output = launch(small_project, data_root, "--executor", "slurm", "--namespaces", UPGAN_CELL, env=slurm.env)
    assert rc == 0, output[-3000:]
    assert "launch: 1 of 1 cells to run" in output and "report not written" in output
    # resumed: the phases' checkpoints were loaded, not trained again
    assert {p.name: p.stat().st_mtime_ns for p in checkpoints.glob("phase_*.pt")} == phases
    reference = direct / "06_models" / "pet_to_ct" / "upgan" / "n04" / "s2021" / "model.safetensors"
    assert (cell_folder / "model.safetensors").read_bytes() == reference.read_bytes()


def test_a_tracking_server_that_does_not_answer_is_refused_before_any_job(small_project, tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    rc, output = launch(small_project, tmp_path / "data", "--executor", "local", "--tracking-uri",
                        f"http://127.0.0.1:{port}")
    assert rc == 2, output[-3000:]
    assert f"the MLflow tracking server http://127.0.0.1:{port} does not answer" in output
    assert not (tmp_path / "data" / "09_tracking" / "launch").exists()  # no job was started
