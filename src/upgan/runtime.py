"""Process-wide compute settings: how many CPU threads torch uses.

On some machines (virtual machines with shared or throttled cores in particular) torch's
multi-threaded CPU kernels run several times *slower* than one thread. ``cpu_threads: auto``
measures a small convolution with one thread and with torch's default and keeps the faster.
"""

from __future__ import annotations

import logging
import time

import torch

logger = logging.getLogger(__name__)


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


def configure_cpu_threads(requested: int | str | None = "auto") -> int:
    """Set torch's intra-op CPU threads and return the number used.

    Args:
        requested: a positive int, ``"auto"`` (measure, see the module docstring) or ``None``
            (leave torch's default).
    """
    default = torch.get_num_threads()
    if requested is None:
        return default
    if requested == "auto":
        if default <= 1:
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
