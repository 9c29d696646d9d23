"""Process-wide compute settings: how many CPU threads torch uses.

The thread count changes the order of floating-point reductions, hence the last digits of a
training run; a fixed count (torch's default or an int) keeps a configuration's results the
same from run to run. On some machines (virtual machines with shared or throttled cores in
particular) torch's multi-threaded CPU kernels run *slower* than one thread: ``"auto"`` times a
small convolution with one thread and with torch's default and keeps the faster, at the price
of a choice that may differ between runs.
"""

from __future__ import annotations

import logging
import math
import os
import time

import torch

logger = logging.getLogger(__name__)

TORCH_DEFAULT_THREADS = torch.get_num_threads()  # before anything here changes it


def _conv_seconds(threads: int, repeats: int = 5) -> float:
    torch.set_num_threads(threads)
    conv = torch.nn.Conv2d(16, 16, 3, padding=1)
    x = torch.rand(8, 16, 64, 64)
    with torch.no_grad():
        conv(x)
        start = time.perf_counter()
        for _ in range(repeats):
            conv(x)
    return (time.perf_counter() - start) / repeats


def check_cpu_threads(requested: object) -> None:
    """Raise unless ``requested`` is a valid ``runtime.cpu_threads`` (null, ``auto``, an int >= 1)."""
    if requested is None or requested == "auto":
        return
    if isinstance(requested, bool) or not isinstance(requested, int) or requested < 1:
        raise ValueError(f"runtime.cpu_threads must be 'auto', null or an int >= 1, got {requested!r}")


def free_cores() -> tuple[int, int, float] | None:
    """``(free, cores, load)``: the cores this process may use, the 1-minute load average and
    the cores left free by it (``cores - floor(load)``, at least 1: a core counts as busy only
    when the load average holds a whole core's worth of work, so the tail of a job that just
    ended does not count); None where the load average is unknown (Windows)."""
    try:
        load = float(os.getloadavg()[0])
    except (AttributeError, OSError):
        return None
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        cores = os.cpu_count() or 1
    return max(1, cores - math.floor(load)), cores, load


def warn_if_oversubscribed(threads: int) -> None:
    """Log one WARNING when ``threads`` exceeds the cores that other processes leave free:
    two multi-threaded torch jobs on the same cores can run many times slower than one."""
    free = free_cores()
    if free is None or threads <= free[0]:
        return
    n_free, cores, load = free
    logger.warning(
        "CPU oversubscribed: torch will use %d threads but only %d of the %d cores are free "
        "(1-minute load average %.1f); every job on them slows down. Run one torch job per "
        "machine, or set runtime.cpu_threads so that the threads of all jobs add up to the %d "
        "cores (see docs/getting_started.md, Troubleshooting)",
        threads, n_free, cores, load, cores,
    )


def configure_cpu_threads(requested: int | str | None = None) -> int:
    """Set torch's intra-op CPU threads and return the number used (logged; a warning when it
    exceeds the cores left free by other work, see :func:`warn_if_oversubscribed`).

    Args:
        requested: ``None`` (torch's default), a positive int, or ``"auto"`` (measure, see the
            module docstring).
    """
    check_cpu_threads(requested)
    threads = _apply_cpu_threads(requested)
    warn_if_oversubscribed(threads)
    return threads


def _apply_cpu_threads(requested: int | str | None) -> int:
    default = TORCH_DEFAULT_THREADS
    if requested is None:
        torch.set_num_threads(default)
        logger.info("CPU threads: %d (torch's default)", default)
        return default
    if requested == "auto":
        if default <= 1:
            torch.set_num_threads(default)
            return default
        t1, tn = _conv_seconds(1), _conv_seconds(default)
        chosen = 1 if t1 < tn else default
        logger.info("CPU threads: %d (conv step %.1f ms with 1 thread, %.1f ms with %d)",
                    chosen, 1e3 * t1, 1e3 * tn, default)
        torch.set_num_threads(chosen)
        return chosen
    assert isinstance(requested, int)
    torch.set_num_threads(requested)
    logger.info("CPU threads: %d (runtime.cpu_threads)", requested)
    return requested
