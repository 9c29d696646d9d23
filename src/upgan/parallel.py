"""Process pools for data generation and preparation that are safe after torch has started.

Forking a process whose torch (OpenMP) thread pool or CUDA context is already running leaves
the child with a broken copy of it (``RuntimeError: pool INTERNAL ASSERT FAILED ...
ParallelOpenMP.cpp ... Invalid thread pool!`` on the first multi-threaded op). The pools here
start their workers from a fresh interpreter (``spawn``; ``forkserver`` where asked), never by
forking the caller, and each worker sets its own torch thread count (its share of the cores) so
that ``n_workers`` workers do not oversubscribe the machine.

Results do not depend on the number of workers: every job is seeded by its own arguments, and
the simulation's kernels give the same bits with any thread count (tested).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")
START_METHODS = ("spawn", "forkserver")


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def threads_per_worker(n_workers: int, cores: int | None = None) -> int:
    """Each worker's torch threads: the cores shared out evenly, at least 1."""
    return max(1, (cores or available_cores()) // max(1, n_workers))


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)  # for libraries started after this


def worker_pool(n_workers: int, start_method: str = "spawn", threads: int | None = None) -> ProcessPoolExecutor:
    """A pool of ``n_workers`` fresh processes (``spawn`` or ``forkserver``, never ``fork``),
    each with ``threads`` torch threads (default: :func:`threads_per_worker`)."""
    if start_method not in START_METHODS:
        raise ValueError(f"start_method must be one of {START_METHODS} (fork is unsafe after torch "
                         f"has started threads), got {start_method!r}")
    if n_workers < 1:
        raise ValueError(f"n_workers must be >= 1, got {n_workers}")
    threads = threads or threads_per_worker(n_workers)
    logger.info("Starting %d %s worker process(es), %d torch thread(s) each", n_workers, start_method, threads)
    return ProcessPoolExecutor(max_workers=n_workers, mp_context=mp.get_context(start_method),
                               initializer=_init_worker, initargs=(threads,))


def map_jobs(function: Callable[..., T], jobs: Iterable[tuple[Any, ...]], n_workers: int = 1) -> Iterator[T]:
    """``function(*job)`` for each job, in order: in this process when ``n_workers`` is 1, else in
    a :func:`worker_pool` (``function`` must be importable, i.e. defined at a module's top level,
    and the jobs picklable). Results are yielded as they complete, in the jobs' order."""
    jobs = list(jobs)
    if n_workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield function(*job)
        return
    with worker_pool(min(n_workers, len(jobs))) as pool:
        yield from pool.map(function, *zip(*jobs, strict=True))


__all__ = ["available_cores", "map_jobs", "threads_per_worker", "worker_pool"]
