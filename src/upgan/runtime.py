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


def configure_cpu_threads(requested: int | str | None = None) -> int:
    """Set torch's intra-op CPU threads and return the number used (logged).

    Args:
        requested: ``None`` (torch's default), a positive int, or ``"auto"`` (measure, see the
            module docstring).
    """
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
    if isinstance(requested, bool) or not isinstance(requested, int) or requested < 1:
        raise ValueError(f"runtime.cpu_threads must be 'auto', null or an int >= 1, got {requested!r}")
    torch.set_num_threads(requested)
    return requested
