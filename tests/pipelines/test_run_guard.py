"""Two `kedro run`s on one data root, and runs stopped by Ctrl-C or SIGTERM, with real processes.

A run that writes a cell holds the cell's lock for its whole length: a second run with other
settings on the same data root is refused at once (exit 2, one line naming the holder), where it
used to train the same cell at the same time and pair one run's model with the other's metrics.
A killed holder's lock is free at once. An interrupted run ends its MLflow runs KILLED.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from upgan.locks import LOCK_FOLDER, read_holder

PROJECT = Path(__file__).resolve().parents[2]
CELL = "pet_to_ct.unet_l1.n04.s2021"
FOREVER = "training.steps=1000000"  # a run that only ends when it is stopped
CASCADE = "pet_to_ct.upgan.n04.s2021"
CASCADE_FOREVER = "upgan.fine_tune.steps=1000000"  # phases done and recorded, then a fine-tune without end


def project_folder(folder: Path) -> Path:
    """A folder `kedro` accepts as this project (its pyproject and conf), so that the runs'
    relative MLflow store (sqlite:///mlflow.db) lands there, not in the source tree."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT / "pyproject.toml", folder / "pyproject.toml")
    (folder / "conf").symlink_to(PROJECT / "conf")
    (folder / "src").mkdir()  # the package itself comes from the environment
    return folder


def kedro_run(folder: Path, data_root: Path, *args: str, params: str = "") -> subprocess.Popen:
    env = dict(os.environ, KEDRO_DISABLE_TELEMETRY="true", OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(PROJECT / "src"), os.environ.get("PYTHONPATH", "")]))
    env.pop("UPGAN_TRACEBACK", None)
    command = [sys.executable, "-m", "kedro", "run", "--env", "test", *args,
               "--params", f"data_root={data_root}" + (f",{params}" if params else "")]
    return subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def finish(process: subprocess.Popen, timeout: float = 600) -> tuple[int, str]:
    output, _ = process.communicate(timeout=timeout)
    return process.returncode, output


def lock_taken(data_root: Path, name: str) -> bool:
    """True while another process holds lock ``name`` (tried without waiting, released at once)."""
    path = data_root / LOCK_FOLDER / f"{name}.lock"
    if not path.exists():
        return False
    with open(path) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def wait_for(condition, process: subprocess.Popen, what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"the run ended (rc {process.returncode}) before {what}:\n{process.stdout.read()[-3000:]}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.3)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> tuple[Path, Path]:
    """A project folder and a data root with PET->CT prepared (the cells' inputs)."""
    folder = project_folder(tmp_path_factory.mktemp("guard") / "project")
    data_root = folder / "data"
    rc, output = finish(kedro_run(folder, data_root, "--pipelines", "data_preparation", "--namespaces",
                                  "pet_to_ct"))
    assert rc == 0, output[-3000:]
    return folder, data_root


def test_a_second_run_on_a_busy_cell_is_refused_and_a_killed_holders_lock_is_free(prepared):
    folder, data_root = prepared
    first = kedro_run(folder, data_root, "--namespaces", CELL, params=FOREVER)
    try:
        wait_for(lambda: _running_parent(folder / "mlflow.db", first.pid), first, "the first run starts")
        # other settings, same cell: trained at once it would mix the two runs' results
        rc, output = finish(kedro_run(folder, data_root, "--namespaces", CELL, params="training.steps=3"))
        assert rc == 2, output[-3000:]  # before the locks: rc 0, both runs trained the cell at once
        error = next(line for line in output.splitlines() if line.startswith("Error:"))
        assert f"{CELL} in {data_root} is in use by pid {first.pid} on host" in error
        assert "kedro run" in error and "Traceback" not in output
        assert first.poll() is None  # the holder goes on
        assert read_holder(data_root, CELL)["pid"] == first.pid
    finally:
        first.kill()  # kill -9: no clean-up code runs
        first.communicate()
    # the dead holder's lock is free at once: the same run now goes ahead
    rc, output = finish(kedro_run(folder, data_root, "--namespaces", CELL, params="training.steps=3"))
    assert rc == 0, output[-3000:]
    assert read_holder(data_root, CELL)["pid"] not in (first.pid, None)
    assert not lock_taken(data_root, CELL)


def _runs(database: Path) -> dict[str, tuple[str, str | None]]:
    """run id -> (status, parent run id) of every run in the sqlite store."""
    with sqlite3.connect(database) as db:
        runs = db.execute("select run_uuid, status from runs").fetchall()
        parents = dict(db.execute("select run_uuid, value from tags where key = 'mlflow.parentRunId'"))
    return {run: (status, parents.get(run)) for run, status in runs}


def _running_parent(database: Path, pid: int) -> bool:
    if not database.exists():
        return False
    try:
        with sqlite3.connect(database) as db:
            found = db.execute(
                "select count(*) from runs join tags on runs.run_uuid = tags.run_uuid "
                "where runs.status = 'RUNNING' and tags.key = 'upgan.pid' and tags.value = ?", (str(pid),))
            return found.fetchone()[0] > 0
    except sqlite3.OperationalError:  # the store is being created
        return False


def _cell_runs(database: Path, parent_pid: int) -> int:
    """Child runs of cell CASCADE (recorded phases) in the store."""
    with sqlite3.connect(database) as db:
        found = db.execute("select count(*) from runs join tags on runs.run_uuid = tags.run_uuid "
                           "where tags.key = 'cell' and tags.value = ?", (CASCADE,))
        return found.fetchone()[0]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_ends_killed_in_mlflow(prepared, signum):
    folder, data_root = prepared
    database = folder / "mlflow.db"
    before = _runs(database) if database.exists() else {}
    run = kedro_run(folder, data_root, "--namespaces", CASCADE, params=CASCADE_FOREVER)
    try:
        wait_for(lambda: _running_parent(database, run.pid), run, "the MLflow parent run starts")
        cells = _cell_runs(database, run.pid)
        wait_for(lambda: _cell_runs(database, run.pid) > cells, run, "the cell records its phases")
        time.sleep(1.0)
        run.send_signal(signum)
        rc, output = finish(run, timeout=120)
    finally:
        run.kill()
    assert rc == 128 + signum, output[-3000:]
    # the line may follow a progress bar's unfinished line
    line = next(x[x.index("Interrupted by"):] for x in output.splitlines() if "Interrupted by" in x)
    assert line.startswith(f"Interrupted by {signal.Signals(signum).name}: MLflow run "), line
    new = {k: v for k, v in _runs(database).items() if k not in before}
    parents = [k for k, (_, parent) in new.items() if parent is None]
    assert len(parents) == 1 and parents[0] in line
    children = [k for k, (_, parent) in new.items() if parent == parents[0]]
    assert children, new  # the cell's child run holds its phases; its fine-tune was cut short
    assert "1 unfinished cell runs marked KILLED" in line
    assert {status for status, _ in new.values()} == {"KILLED"}, new
    assert not lock_taken(data_root, CASCADE)
