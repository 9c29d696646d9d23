"""Console logging of ``kedro run``: Rich's columns on a terminal, whole lines elsewhere.

Rich lays a log record out in columns as wide as the terminal; without one (output redirected to
a file, a pipe, CI) it assumes 80 columns and wraps every long line, splitting run ids and node
names. :func:`plain_lines_off_terminal` swaps such handlers for a plain one that writes each
record on one line. Kedro only accepts handler classes of ``logging`` and ``kedro.logging`` in
``conf/logging.yml``, so the swap is made in code when a run starts.
"""

from __future__ import annotations

import logging
import sys

PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
"""One line per record (the ``simple`` formatter of ``conf/logging.yml``)."""


def plain_lines_off_terminal(logger: logging.Logger | None = None) -> int:
    """Replace every Rich handler of ``logger`` (default: the root logger) whose console is not a
    terminal by a ``StreamHandler`` on the same stream with :data:`PLAIN_FORMAT`, keeping its
    level and filters. Returns how many were replaced."""
    logger = logger or logging.getLogger()
    replaced = 0
    for handler in list(logger.handlers):
        console = getattr(handler, "console", None)
        if console is None or console.is_terminal:
            continue
        plain = logging.StreamHandler(getattr(console, "file", None) or sys.stdout)
        plain.setLevel(handler.level)
        plain.setFormatter(logging.Formatter(PLAIN_FORMAT))
        for item in handler.filters:
            plain.addFilter(item)
        logger.removeHandler(handler)
        logger.addHandler(plain)
        replaced += 1
    return replaced
