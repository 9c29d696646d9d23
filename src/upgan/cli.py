"""Project commands: Kedro's own ``kedro run``, with one difference -- a run refused because of
its configuration or its input data prints one line (the error and its hint), not a traceback.

Kedro loads this module (``<package>.cli``) and its ``run`` replaces the built-in one; the
options, behaviour and exit codes of a successful or crashing run are Kedro's. The errors the
project raises for bad settings or input (unknown parameters, bad values, missing or malformed
files) are ``ValueError`` or ``FileNotFoundError`` with a message that names the parameter or
file; they end the run with exit code 2. Set ``UPGAN_TRACEBACK=1`` to see the full traceback.
"""

from __future__ import annotations

import os
from typing import Any

import click
from kedro.framework.cli.project import run as kedro_run

from upgan.logs import plain_lines_off_terminal

USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, FileNotFoundError)
"""What a refused configuration or input raises (one line, exit code 2)."""


def _root_cause(error: BaseException) -> BaseException:
    """The innermost cause of a chain of wrapped errors (Kedro wraps dataset errors)."""
    while error.__cause__ is not None:
        error = error.__cause__
    return error


class RunCommand(click.Command):
    """``kedro run`` whose refused configurations and inputs print one line."""

    def invoke(self, ctx: click.Context) -> Any:
        plain_lines_off_terminal()
        try:
            return super().invoke(ctx)
        except Exception as error:
            cause = _root_cause(error)
            if os.environ.get("UPGAN_TRACEBACK") or not isinstance(cause, USER_ERRORS):
                raise
            click.secho(f"Error: {cause}", fg="red", err=True)
            click.echo("(the run stopped before or without writing results for this; "
                       "UPGAN_TRACEBACK=1 shows the traceback)", err=True)
            ctx.exit(2)


@click.group(name="upgan")
def cli() -> None:
    """Project commands."""


cli.add_command(RunCommand(name="run", params=kedro_run.params, callback=kedro_run.callback,
                           help=kedro_run.help, short_help=kedro_run.short_help))
