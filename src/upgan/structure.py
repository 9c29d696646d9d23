"""The parts of the configuration that shape the pipelines (tasks, methods, phases, sweep grid).

Why this module reads configuration itself: Kedro builds the pipelines (``register_pipelines``)
before it hands parameters to nodes, and a pipeline's shape -- which tasks and methods have
cells, how many phase nodes a cascade has -- depends on parameters. So these few structural
parameters are read here, from the same configuration environment as the run: the hook
:class:`upgan.hooks.ProjectStructureHooks` records the run's parameters as soon as the Kedro
context exists and asks Kedro to rebuild the pipelines when they changed. Nodes receive the
structure through their bound arguments (task, method, patients, M, phase), never by reading
these parameters again: this module is the one channel for them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kedro.config import OmegaConfigLoader

from upgan.configuration import CONFIG_LOADER_ARGS
from upgan.schema import unknown_keys_message
from upgan.tasks import get_task, task_names

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
_active: dict[str, Any] = {"env": None, "parameters": None}
_warned: set[str] = set()  # warnings already logged for the recorded parameters


def _warn_once(message: str) -> None:
    """Log ``message`` as a warning once per recorded parameter set (pipelines are built twice)."""
    if message not in _warned:
        _warned.add(message)
        logger.warning(message)


def activate(env: str | None, parameters: Mapping[str, Any]) -> bool:
    """Record the run's parameters; True when they differ from the ones recorded before."""
    changed = _active["parameters"] is not None and dict(_active["parameters"]) != dict(parameters)
    _active.update(env=env, parameters=dict(parameters))
    _warned.clear()
    return changed


def parameters() -> dict[str, Any]:
    """The recorded run parameters, or those of ``$KEDRO_ENV`` (default ``local``) over base."""
    if _active["parameters"] is None:
        env = os.environ.get("KEDRO_ENV") or "local"
        loader = OmegaConfigLoader(conf_source=str(PROJECT_ROOT / "conf"), env=env, **CONFIG_LOADER_ARGS)
        _active.update(env=env, parameters=dict(loader["parameters"]))
    return _active["parameters"]


def tasks() -> list[str]:
    """Tasks the default pipelines cover (``tasks`` parameter, default every registered task),
    each checked against the registry."""
    names = list(parameters().get("tasks", task_names()))
    for name in names:
        get_task(name)
    return names


def n_phases() -> int:
    """Number of UP-GAN phases M (``upgan.n_phases``)."""
    m = parameters().get("upgan", {}).get("n_phases", 3)
    if int(m) != m or m < 1:
        raise ValueError(f"upgan.n_phases must be an integer >= 1, got {m!r}")
    return int(m)


def methods() -> list[str]:
    """Methods trained and evaluated for every task (``methods`` parameter)."""
    from upgan.methods import check_method

    names = list(parameters().get("methods", ["upgan"]))
    if len(set(names)) != len(names):
        raise ValueError(f"methods lists a method twice: {names}")
    for name in names:
        check_method(name)
    return names


def seeds() -> list[int]:
    """Training seeds (``seeds``): every training cell runs once per seed; the seed drives the
    networks' initialisation and the batch shuffling (data, split and test subjects stay fixed)."""
    return check_seeds(parameters().get("seeds", [2021]))


def check_seeds(values: Any) -> list[int]:
    """``values`` as a list if it is a non-empty list of distinct integers >= 0, else ValueError."""
    if not isinstance(values, (list, tuple)) or not values:
        raise ValueError(f"seeds must be a non-empty list of integers >= 0, got {values!r}")
    for seed in values:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seeds must be integers >= 0, got {seed!r} in {list(values)}")
    if len(set(values)) != len(values):
        raise ValueError(f"seeds lists a seed twice: {list(values)}")
    return list(values)


def full_supervision(task: str) -> int:
    """Training patients of a task's full-supervision cell (``<task>.split.train``)."""
    return int(parameters()[task]["split"]["train"])


def _sweep_tasks(requested: list[str]) -> list[str]:
    """The sweep's tasks that ``tasks`` also lists; the others are dropped with a warning."""
    configured = tasks()
    dropped = [t for t in requested if t not in configured]
    if dropped:
        _warn_once(
            f"weak_supervision.tasks {dropped} not in `tasks` {configured}: dropped from the "
            "sweep (list them in `tasks` to sweep them)"
        )
    return [t for t in requested if t in configured]


def weak_supervision_grid() -> tuple[list[str], list[int], list[str]]:
    """Tasks, patient counts and methods of the sweep (``weak_supervision`` parameters), checked
    against the training splits so that a bad grid fails before any training.

    Only the sweep's tasks that ``tasks`` lists are swept (the data preparation of the others
    is not in the pipelines); none left gives an empty sweep (see :func:`require_sweep`)."""
    from upgan.methods import check_method

    params = parameters()
    grid = params.get("weak_supervision")
    if not grid:
        return [], [], []
    unknown = sorted(set(grid) - {"tasks", "counts", "methods"})
    if unknown:
        raise ValueError(unknown_keys_message(unknown, ["tasks", "counts", "methods"], "weak_supervision"))
    tasks = list(grid.get("tasks", task_names()[:1]))  # default: the first task (the paper sweeps PET->CT)
    counts = list(grid.get("counts", []))
    methods = list(grid.get("methods", []))
    for task in tasks:
        get_task(task)
    for method in methods:
        check_method(method)
    if len(set(methods)) != len(methods):
        raise ValueError(f"weak_supervision.methods lists a method twice: {methods}")
    if not counts or not methods or not tasks:
        raise ValueError("weak_supervision needs non-empty tasks, counts and methods")
    for n in counts:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"weak_supervision.counts must be positive integers, got {n!r}")
    if len(set(counts)) != len(counts):
        raise ValueError(f"weak_supervision.counts has duplicates: {counts}")
    tasks = _sweep_tasks(tasks)
    if not tasks:
        return [], [], []
    for task in tasks:
        available = full_supervision(task)
        too_many = [n for n in counts if n > available]
        if too_many:
            raise ValueError(
                f"weak_supervision.counts {too_many} exceed the {available} training patients of "
                f"{task} ({task}.split.train)"
            )
    return tasks, sorted(counts), methods


def require_sweep() -> None:
    """Raise one clear error when the weak-supervision sweep has no cell to run."""
    if weak_supervision_grid()[0]:
        return
    grid = parameters().get("weak_supervision")
    if not grid:
        raise ValueError("the weak_supervision pipeline is empty: no weak_supervision parameters "
                         "(tasks, counts, methods) are configured")
    raise ValueError(
        f"the weak_supervision pipeline is empty: weak_supervision.tasks "
        f"{list(grid.get('tasks', task_names()[:1]))} names none of the tasks in `tasks` {tasks()}; "
        "add the sweep's task to `tasks` or set weak_supervision.tasks to configured tasks"
    )
