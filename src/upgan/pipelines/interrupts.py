"""An interrupted run ends KILLED in MLflow: Ctrl-C (SIGINT) and SIGTERM alike.

Kedro lets a ``KeyboardInterrupt`` pass its error hooks, and MLflow's exit handler then ends
whatever run is still active as FINISHED; SIGTERM ends the process with no handler at all, leaving
the runs RUNNING. :func:`sigterm_interrupts` turns SIGTERM into :class:`RunInterrupted` (a
``KeyboardInterrupt``), and :func:`end_killed` ends the active MLflow runs (the Kedro run's parent
run and an open cell run) and the parent's running child runs as KILLED.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager

logger = logging.getLogger(__name__)


class RunInterrupted(KeyboardInterrupt):
    """The run was stopped by a signal (``signum``)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`RunInterrupted` in the main thread (as Ctrl-C
    raises ``KeyboardInterrupt``); the previous handler comes back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise RunInterrupted(signum)

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def end_killed(unfinished: Collection[str] = ()) -> tuple[str | None, int]:
    """End the active MLflow runs KILLED, with the outermost one's child runs that are RUNNING or
    belong to a cell in ``unfinished`` (a cell whose earlier stages ended their child run);
    returns the outermost run's id (``None`` when none was active) and the number of child runs
    marked. Never raises: a store that fails is logged."""
    import mlflow
    from mlflow.entities import RunStatus
    from mlflow.tracking import MlflowClient

    killed = RunStatus.to_string(RunStatus.KILLED)
    parent, marked = None, 0
    try:
        while (run := mlflow.active_run()) is not None:
            parent = run.info.run_id
            mlflow.end_run(killed)
        if parent is not None:
            client = MlflowClient()
            experiment = client.get_run(parent).info.experiment_id
            children = client.search_runs(
                [experiment], f"tags.`mlflow.parentRunId` = '{parent}'", max_results=5000)
            end = int(time.time() * 1000)
            for child in children:
                if child.info.status == "RUNNING" or child.data.tags.get("cell") in unfinished:
                    if child.info.status != killed:
                        client.set_terminated(child.info.run_id, killed, end)
                    marked += 1
    except Exception as error:  # noqa: BLE001 (the process is ending: say it, never mask the stop)
        logger.warning("could not mark the interrupted MLflow runs KILLED: %s", error)
    return parent, marked
