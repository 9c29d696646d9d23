"""The translation tasks, one module each, resolved by name through one registry.

Every module of this package that declares a ``TASK`` (:class:`TaskSpec`) is discovered and
registered on import, in the order of ``TaskSpec.order`` (adding a task means adding its module);
:func:`register_task` adds others from outside the package.
"""

import importlib
import pkgutil

from upgan.tasks.registry import (
    TASKS,
    cohort_layouts,
    get_layout,
    get_task,
    register_task,
    task_names,
    unregister_task,
)
from upgan.tasks.spec import Preview, TaskSpec


def _discover() -> list[TaskSpec]:
    """The ``TASK`` of every module of this package, in ``order`` (then name)."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        spec = getattr(importlib.import_module(f"{__name__}.{info.name}"), "TASK", None)
        if isinstance(spec, TaskSpec):
            found.append(spec)
    return sorted(found, key=lambda t: (t.order, t.name))


for _task in _discover():
    register_task(_task)

__all__ = [
    "TASKS",
    "Preview",
    "TaskSpec",
    "cohort_layouts",
    "get_layout",
    "get_task",
    "register_task",
    "task_names",
    "unregister_task",
]
