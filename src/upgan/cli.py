"""Project commands: Kedro's own ``kedro run``, with one difference -- a run refused because of
its configuration or its input data prints one line (the error and its hint), not a traceback.

Kedro loads this module (``<package>.cli``) and its ``run`` replaces the built-in one; the
options, behaviour and exit codes of a successful or crashing run are Kedro's. The errors the
project raises for bad settings or input (unknown parameters, bad values, missing or malformed
files) are ``ValueError`` or ``FileNotFoundError`` with a message that names the parameter or
file; they end the run with exit code 2. Set ``UPGAN_TRACEBACK=1`` to see the full traceback.
A run stopped by Ctrl-C or SIGTERM ends its MLflow runs KILLED and says so in one line (exit code
128 + the signal's number).
"""

from __future__ import annotations

import os
import signal
from typing import Any

import click
from kedro.framework.cli.project import run as kedro_run

from upgan.logs import plain_lines_off_terminal

USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, FileNotFoundError)
"""What a refused configuration or input raises (one line, exit code 2)."""


def user_error(error: BaseException) -> BaseException | None:
    """The outermost refused configuration or input in a chain of wrapped errors (Kedro wraps
    dataset errors; the project's message is the one that names the parameter or file, not
    the low-level error it was raised from), or ``None``."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, USER_ERRORS):
            return seen
        seen = seen.__cause__
    return None


def _store_failure(error: BaseException, env: str | None) -> str | None:
    from upgan.pipelines.store_errors import store_failure
    from upgan.structure import PROJECT_ROOT

    return store_failure(error, PROJECT_ROOT / "conf", env)


class RunCommand(click.Command):
    """``kedro run`` whose refused configurations and inputs print one line."""

    def invoke(self, ctx: click.Context) -> Any:
        from upgan.pipelines.interrupts import RunInterrupted, end_killed, sigterm_interrupts

        plain_lines_off_terminal()
        try:
            with sigterm_interrupts():
                return super().invoke(ctx)
        except KeyboardInterrupt as stop:  # Ctrl-C or SIGTERM: the MLflow runs end KILLED
            signum = stop.signum if isinstance(stop, RunInterrupted) else signal.SIGINT
            parent, cells = end_killed(_unfinished_cells())
            runs = (f"MLflow run {parent} and {cells} unfinished cell runs marked KILLED" if parent
                    else "no MLflow run was open")
            click.secho(f"Interrupted by {signal.Signals(signum).name}: {runs}; `kedro run` again resumes "
                        "from the checkpoints", fg="red", err=True)
            ctx.exit(128 + signum)
        except Exception as error:
            cause = user_error(error)
            store = None if cause is not None else _store_failure(error, ctx.params.get("env"))
            if os.environ.get("UPGAN_TRACEBACK") or (cause is None and store is None):
                raise
            click.secho(f"Error: {cause or store}", fg="red", err=True)
            click.echo("(the run stopped before or without writing results for this; "
                       "UPGAN_TRACEBACK=1 shows the traceback)", err=True)
            ctx.exit(2)


def _unfinished_cells() -> set[str]:
    """Namespaces the interrupted run had not finished (kept by the project's run guard hook)."""
    from kedro.framework.project import settings

    from upgan.hooks import RunGuardHooks

    guards = [hook for hook in settings.HOOKS if isinstance(hook, RunGuardHooks)]
    return guards[0].unfinished() if guards else set()


@click.group(name="upgan")
def cli() -> None:
    """Project commands."""


cli.add_command(RunCommand(name="run", params=kedro_run.params, callback=kedro_run.callback,
                           help=kedro_run.help, short_help=kedro_run.short_help))
