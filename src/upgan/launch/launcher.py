"""``upgan launch``: a pipeline's grid as one job per cell, through submitit.

The launcher reads the grid off the Kedro pipeline (:mod:`upgan.launch.grid`), runs the data
preparation as one job and waits for it, submits one job per unfinished cell (SLURM, local
subprocesses, or in this process), follows them, then runs the report as one job once every cell
has finished. All jobs log to one MLflow parent run, which the launcher opens and closes.

A launch holds the data root's ``launch`` lock (a second launcher is refused, naming the first);
every job holds the locks of what it writes (:class:`upgan.hooks.RunGuardHooks`), so a
``kedro run`` started meanwhile on the same data root is refused by the cells it would share. A
cell whose lock is held when the launcher looks (its job outlived a killed launcher) is followed,
not submitted again.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from upgan.launch import ledger
from upgan.launch.grid import Stage, done_with, finished, parameters_digest, select, split_stages
from upgan.launch.jobs import JobSpec, StageJob, quick_mlflow_failures
from upgan.launch.runs import absolute_sqlite, check_server, close_parent, open_parent
from upgan.locks import LOCK_FOLDER, DataRootLocks, LockHeld, describe, read_holder

logger = logging.getLogger("upgan.launch")

EXECUTORS = ("slurm", "local", "debug")


@dataclass
class LaunchOptions:
    """The command line of ``upgan launch``."""

    executor: str
    env: str = "local"
    pipeline: str = "__default__"
    namespaces: list[str] = field(default_factory=list)
    max_parallel: int | None = None
    gpus_per_cell: int = 0
    cpus_per_cell: int | None = None
    partition: str | None = None
    time_min: int = 24 * 60
    dry_run: bool = False
    wait: bool = True
    data_root: str = "data"
    tracking_uri: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    project_path: str = "."
    poll_s: float = 2.0


@dataclass
class Grid:
    """The launch's stages and what the launcher needs to run them."""

    prepare: Stage | None
    cells: list[Stage]
    report: Stage | None
    done: set[str]  # names of finished stages
    unselected: list[str]  # cells of the pipeline left out by --namespaces and not finished
    digest: str  # of the run's parameters (see upgan.launch.grid.parameters_digest)
    experiment: str
    tracking_uri: str


def load_grid(options: LaunchOptions) -> Grid:
    """Build the pipeline as ``kedro run`` would (same env, parameters and checks) and split it;
    a bad configuration raises here, before any job."""
    import mlflow
    from kedro.framework.project import pipelines
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    from upgan import structure
    from upgan.pipelines.parameters import check_methods, validate_parameters

    project = Path(options.project_path).resolve()
    bootstrap_project(project)
    runtime = {"data_root": options.data_root, **options.params}
    with KedroSession.create(project_path=project, env=options.env, runtime_params=runtime) as session:
        context = session.load_context()
        params = structure.parameters()
        validate_parameters(params)
        check_methods(params, [options.pipeline])
        if options.pipeline == "weak_supervision":
            structure.require_sweep()
        if options.pipeline not in pipelines:
            raise ValueError(f"unknown pipeline {options.pipeline!r}; known: {sorted(pipelines)}")
        prepare, cells, report = split_stages(pipelines[options.pipeline], structure.tasks())
        chosen = select(cells, options.namespaces)
        catalog = context.catalog
        digest = parameters_digest(params)
        done = {s.name for s in [prepare, *cells, report]
                if s is not None and finished(s, catalog, options.data_root, digest)}
        unselected = [c.name for c in cells if c not in chosen and c.name not in done]
        mlflow_conf = getattr(context, "mlflow", None)
        experiment = mlflow_conf.tracking.experiment.name if mlflow_conf is not None else "upgan"
        uri = options.tracking_uri or mlflow.get_tracking_uri()
    return Grid(prepare, chosen, report, done, unselected, digest, experiment, absolute_sqlite(uri))


def cell_holder(data_root: Path, name: str) -> str | None:
    """The description of the process holding cell ``name``'s lock now, else ``None``."""
    import fcntl

    path = data_root / LOCK_FOLDER / f"{name}.lock"
    if not path.exists():
        return None
    with open(path) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = read_holder(data_root, name)
            return describe(holder) if holder else "another process"
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


def make_executor(options: LaunchOptions, folder: Path) -> Any:
    """A submitit executor for ``options.executor`` with the cells' resources."""
    import submitit

    executor = submitit.AutoExecutor(folder=str(folder), cluster=options.executor)
    parameters: dict[str, Any] = {"timeout_min": options.time_min, "name": "upgan"}
    if options.executor == "slurm":
        parameters.update(slurm_partition=options.partition, slurm_array_parallelism=options.max_parallel or 64,
                          slurm_additional_parameters={"requeue": True})
        if options.gpus_per_cell:
            parameters["gpus_per_node"] = options.gpus_per_cell
        if options.cpus_per_cell:
            parameters["cpus_per_task"] = options.cpus_per_cell
        parameters = {k: v for k, v in parameters.items() if v is not None}
    elif options.executor == "local":
        parameters["gpus_per_node"] = options.gpus_per_cell
    executor.update_parameters(**parameters)
    return executor


def _gpu_pool() -> list[int]:
    """The GPUs a local launch shares out (``CUDA_VISIBLE_DEVICES``, else every CUDA device)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [int(x) for x in visible.split(",") if x.strip().isdigit()]
    try:
        import torch

        return list(range(torch.cuda.device_count()))
    except ImportError:
        return []


class Follower:
    """Submits jobs (at most ``max_parallel`` at once for local and debug executors; SLURM
    throttles its own array) and reports cells done / running / failed while they run."""

    def __init__(self, options: LaunchOptions, executor: Any, say: Callable[[str], None]) -> None:
        self.options, self.executor, self.say = options, executor, say
        gpus = options.gpus_per_cell if options.executor == "local" else 0
        self.gpu_pool = _gpu_pool() if gpus else []
        if gpus and len(self.gpu_pool) < gpus:
            raise ValueError(f"--gpus-per-cell {gpus}: only {len(self.gpu_pool)} GPUs visible on this machine")
        default = len(self.gpu_pool) // gpus if gpus else 1
        self.max_parallel = 1 if options.executor == "debug" else (options.max_parallel or default)
        self.running: dict[str, tuple[Any, tuple[int, ...]]] = {}
        self.failed: dict[str, str] = {}
        self.succeeded: list[str] = []

    def _submit(self, spec: JobSpec) -> Any:
        if self.gpu_pool:
            taken = {g for _, gpus in self.running.values() for g in gpus}
            free = [g for g in self.gpu_pool if g not in taken][: self.options.gpus_per_cell]
            self.executor.update_parameters(visible_gpus=tuple(free))
            job = self.executor.submit(StageJob(), spec)
            return job, tuple(free)
        return self.executor.submit(StageJob(), spec), ()

    def run(self, specs: list[JobSpec], label: str = "cells", extra: Callable[[], int] | None = None,
            followed: int = 0) -> None:
        """Run ``specs`` to the end (each failure recorded with its log), showing progress."""
        pending = list(specs)
        if self.options.executor == "slurm" and pending:  # one array; SLURM throttles it
            with self.executor.batch():
                jobs = [self.executor.submit(StageJob(), spec) for spec in pending]
            self.running.update({spec.stage: (job, ()) for spec, job in zip(pending, jobs, strict=True)})
            ledger.record(self.options.data_root, {spec.stage: job.job_id for spec, job in zip(pending, jobs,
                                                                                              strict=True)})
            pending = []
        shown = None
        while pending or self.running or (extra and extra()):
            while pending and len(self.running) < self.max_parallel:
                spec = pending.pop(0)
                self.running[spec.stage] = self._submit(spec)
                if self.options.executor == "debug":  # runs here, now
                    self._collect(spec.stage)
            for name in [n for n, (job, _) in self.running.items() if job.done()]:
                self._collect(name)
            elsewhere = extra() if extra else 0  # followed cells (an earlier launch's jobs) still running
            state = (len(self.succeeded) + followed - elsewhere, len(self.running) + elsewhere, len(self.failed),
                     len(pending))
            if state != shown:
                shown = state
                self.say(f"{label}: {state[0]} done, {state[1]} running, {state[2]} failed, {state[3]} waiting "
                         f"(of {len(specs) + followed})")
            if pending or self.running or (extra and extra()):
                time.sleep(self.options.poll_s)

    def _collect(self, name: str) -> None:
        job, _ = self.running.pop(name)
        try:
            job.result()
        except Exception as error:  # noqa: BLE001 (a failed job is reported; the others go on)
            self.failed[name] = f"{failure_reason(job.job_id, error)} (log: {job.paths.stderr})"
            self.say(f"FAILED {name}: {self.failed[name]}")
            return
        self.succeeded.append(name)


def failure_reason(job_id: str, error: BaseException) -> str:
    """One line on why a job failed: the SLURM state of a job that ended without a result
    (cancelled, killed, out of memory), else the last error line of the job's traceback."""
    text = str(error)
    state = re.search(r"state: ([A-Z_]+[^)\n]*)", text)
    if state:
        return f"job {job_id} ended {state.group(1).strip()}"
    lines = [x.strip() for x in text.splitlines() if x.strip()]
    errors = [x for x in lines if re.match(r"^[\w.]+(Error|Exception|Interrupt|Exit)\b", x)]
    return (errors or lines or [type(error).__name__])[-1][:300]


def _spec(options: LaunchOptions, stage: Stage, data_root: Path, grid: Grid, parent: str | None) -> JobSpec:
    return JobSpec(project_path=str(Path(options.project_path).resolve()), env=options.env,
                   pipeline=options.pipeline, stage=stage.name, nodes=stage.nodes, data_root=str(data_root),
                   tracking_uri=grid.tracking_uri, parent_run_id=parent, params=dict(options.params))


def launch(options: LaunchOptions, say: Callable[[str], None] = logger.info) -> int:
    """Run (or, with ``dry_run``, list) the grid; returns the exit code (0 all done, 1 a stage
    failed; a refused launch raises ValueError: exit 2)."""
    if options.executor not in EXECUTORS:
        raise ValueError(f"--executor must be one of {list(EXECUTORS)}, got {options.executor!r}")
    if not options.wait and options.executor != "slurm":
        raise ValueError("--no-wait needs --executor slurm: local and debug jobs end with the launcher")
    data_root = Path(options.data_root).resolve()
    options = replace(options, data_root=str(data_root))
    quick_mlflow_failures()
    locks = DataRootLocks(data_root)
    if not options.dry_run:
        locks.acquire(["launch"], "this launch")
    try:
        return _launch(options, data_root, say)
    finally:
        locks.release()


def _launch(options: LaunchOptions, data_root: Path, say: Callable[[str], None]) -> int:
    grid = load_grid(options)
    if not options.dry_run:
        check_server(grid.tracking_uri)
    open_cells = {c.name for c in grid.cells if c.name not in grid.done}
    busy = {c: f"SLURM job {j} of an earlier launch" for c, j in ledger.active(data_root, open_cells).items()}
    busy.update({c: h for c in open_cells if c not in busy and (h := cell_holder(data_root, c))})
    to_run = [c for c in grid.cells if c.name not in grid.done and c.name not in busy]
    if options.dry_run:
        for stage in [grid.prepare, *grid.cells, grid.report]:
            if stage is not None:
                state = "finished" if stage.name in grid.done else ("running: " + busy[stage.name]
                                                                    if stage.name in busy else "to run")
                say(f"{stage.kind:8s} {stage.name:45s} {state}")
        say(f"{len(grid.cells) - len(to_run) - len(busy)} of {len(grid.cells)} cells finished, "
            f"{len(busy)} running elsewhere, {len(to_run)} to run")
        return 0
    report_due = grid.report is not None and not grid.unselected and grid.report.name not in grid.done
    prepare_due = grid.prepare is not None and grid.prepare.name not in grid.done
    if not (to_run or busy or report_due or (prepare_due and grid.cells)):
        say(f"nothing to do: the {len(grid.cells)} cells are finished" + (", and the report" if grid.report else ""))
        return 0
    folder = data_root / "09_tracking" / "launch" / time.strftime("%Y%m%d-%H%M%S")
    executor = make_executor(options, folder)
    follower = Follower(options, executor, say)
    parent = open_parent(grid, options)
    say(f"launch: {len(to_run)} of {len(grid.cells)} cells to run ({len(busy)} running elsewhere) on "
        f"{options.executor}; MLflow parent run {parent} in {grid.tracking_uri}; job logs in {folder}")
    status = "FAILED"
    try:
        if grid.prepare is not None and grid.prepare.name not in grid.done:
            follower.run([_spec(options, grid.prepare, data_root, grid, parent)], label="data preparation")
            if follower.failed:
                return 1
            follower.succeeded.clear()
        specs = [_spec(options, c, data_root, grid, parent) for c in to_run]
        if not options.wait:
            return _submit_and_leave(options, executor, specs, grid, data_root, parent, say)
        follower.run(specs, extra=lambda: _still_busy(data_root, busy), followed=len(busy))
        for name in busy:  # followed, not run here: did they finish?
            if not done_with(data_root, name, grid.digest):
                follower.failed[name] = f"{busy[name]} ended without finishing the cell (its log is in that launch)"
                say(f"FAILED {name}: {follower.failed[name]}")
        if follower.failed:
            say(f"{len(follower.failed)} cells failed (their logs above); `upgan launch` with the same "
                "options reruns only the unfinished cells, then the report")
            return 1
        if grid.report is not None and grid.unselected:
            say(f"report not written: {len(grid.unselected)} cells of the grid are outside --namespaces and "
                "unfinished")
        elif grid.report is not None and (to_run or busy or grid.report.name not in grid.done):
            follower.succeeded.clear()
            follower.run([_spec(options, grid.report, data_root, grid, parent)], label="report")
            if follower.failed:
                return 1
        status = "FINISHED"
        written = f"report written under {data_root / '08_reporting'}" if grid.report and not grid.unselected \
            else "no report"
        say(f"launch done: {len(to_run)} cells run, {written}")
        return 0
    except KeyboardInterrupt:
        status = "KILLED"
        _stop(options, follower, say)
        raise
    finally:
        if options.wait:
            close_parent(grid, parent, status, follower.failed)


def _still_busy(data_root: Path, busy: dict[str, str]) -> int:
    """How many of the cells followed (run by an earlier launch's jobs) are still running."""
    jobs = ledger.active(data_root, set(busy))
    return sum(name in jobs or cell_holder(data_root, name) is not None for name in busy)


def _stop(options: LaunchOptions, follower: Follower, say: Callable[[str], None]) -> None:
    """The launcher was interrupted: local jobs stop with it; SLURM jobs go on (said so)."""
    jobs = {name: job for name, (job, _) in follower.running.items()}
    if options.executor == "slurm":
        say(f"launcher stopped; {len(jobs)} SLURM jobs go on ({', '.join(j.job_id for j in jobs.values())}): "
            "`upgan launch` again follows them and writes the report, `scancel` stops them")
        return
    for job in jobs.values():
        job.cancel(check=False)
    say(f"launcher stopped: {len(jobs)} local cell jobs stopped; `upgan launch` again resumes them")


def _submit_and_leave(options: LaunchOptions, executor: Any, specs: list[JobSpec], grid: Grid,
                      data_root: Path, parent: str, say: Callable[[str], None]) -> int:
    """``--no-wait`` on SLURM: submit the cells as one array and the report as a job that starts
    when they all succeeded; print the job ids and return."""
    ids: list[str] = []
    if specs:
        with executor.batch():
            jobs = [executor.submit(StageJob(), spec) for spec in specs]
        ids = [job.job_id for job in jobs]
        ledger.record(data_root, {spec.stage: job.job_id for spec, job in zip(specs, jobs, strict=True)})
        for spec, job in zip(specs, jobs, strict=True):
            say(f"submitted {spec.stage}: job {job.job_id}")
    if grid.report is not None and not grid.unselected:
        if ids:
            array = ids[0].split("_")[0]
            executor.update_parameters(slurm_additional_parameters={"requeue": True, "dependency": f"afterok:{array}"})
        report = executor.submit(StageJob(), _spec(options, grid.report, data_root, grid, parent))
        say(f"submitted report: job {report.job_id} (starts when every cell job succeeded)")
    say(f"not waiting: the report job ends the MLflow parent run {parent}; if a cell fails, `upgan launch` "
        "with the same options submits what is left")
    return 0


def interrupt_on_sigterm() -> None:
    """SIGTERM stops the launcher like Ctrl-C (its jobs are handled by :func:`_stop`)."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, handler)


__all__ = ["EXECUTORS", "LaunchOptions", "LockHeld", "launch"]
