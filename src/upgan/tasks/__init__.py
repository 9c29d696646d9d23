"""The translation tasks, one module each, resolved by name through one registry.

The paper's three tasks are registered on import; :func:`register_task` adds others.
"""

from upgan.tasks import mri_motion, mri_recon, pet_to_ct
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

for _module in (pet_to_ct, mri_recon, mri_motion):
    register_task(_module.TASK)

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
