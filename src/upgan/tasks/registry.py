"""The task registry: every list of tasks (and of cohort layouts) derives from it.

A task added with :func:`register_task` -- from the core or from outside it, e.g. a test -- gets
its namespace in every pipeline once the ``tasks`` parameter lists it, and its parameter
blocks (``<task>.split``, ``<task>.preparation``, ``cohorts.<layout>``) are known to the
parameter checks.
"""

from __future__ import annotations

from upgan.io.cohort import CohortLayout
from upgan.tasks.spec import TaskSpec

TASKS: dict[str, TaskSpec] = {}
"""Registered tasks by name, in registration order (read it; add with :func:`register_task`)."""


def register_task(spec: TaskSpec, replace: bool = False) -> TaskSpec:
    """Add ``spec`` to the registry (``replace``: overwrite a task of the same name).

    A task's cohort layout must not clash with a registered one of the same name.
    """
    if not isinstance(spec, TaskSpec):
        raise TypeError(f"register_task takes a TaskSpec, got {spec!r}")
    if spec.name in TASKS and not replace:
        raise ValueError(f"task {spec.name!r} is already registered (pass replace=True to overwrite it)")
    for other in TASKS.values():
        if other.name != spec.name and other.layout.name == spec.layout.name and other.layout != spec.layout:
            raise ValueError(f"task {spec.name!r}: cohort layout {spec.layout.name!r} differs from the one "
                             f"of task {other.name!r} of the same name; give the new layout another name")
    TASKS[spec.name] = spec
    return spec


def unregister_task(name: str) -> TaskSpec:
    """Remove a task from the registry and return it."""
    get_task(name)
    return TASKS.pop(name)


def get_task(name: str) -> TaskSpec:
    """Look a task up by name; an unknown name fails with the list of known ones."""
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}") from None


def task_names() -> list[str]:
    """Names of the registered tasks, in registration order."""
    return list(TASKS)


def cohort_layouts() -> dict[str, CohortLayout]:
    """The cohort layouts of the registered tasks, by name (first use first)."""
    layouts: dict[str, CohortLayout] = {}
    for spec in TASKS.values():
        layouts.setdefault(spec.layout.name, spec.layout)
    return layouts


def get_layout(name: str) -> CohortLayout:
    """A registered task's cohort layout by name; an unknown name fails with the known ones."""
    layouts = cohort_layouts()
    try:
        return layouts[name]
    except KeyError:
        raise ValueError(f"unknown cohort layout {name!r}; known layouts: {', '.join(layouts)}") from None
