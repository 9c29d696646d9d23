"""Settings that are well-formed but cannot work, refused before any node runs (one line each,
naming the parameter): a batch larger than the training set, budgets no machine finishes, seeds
outside the range random generators take, a CUDA device on a machine without one.

Called by :func:`upgan.pipelines.parameters.validate_parameters`; the training engine checks the
batch size against the actual training slices again (real-data cohorts, sweep cells).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_STEPS = 10**8
"""Most generator updates a stage may take: at a millisecond each (a tiny network on a GPU) over a
day; anything above is a typo (``steps: 10**12``), not a plan."""
MAX_SEED = 2**31 - 1
"""Largest seed: numpy's legacy generators take seeds below 2^32 and the stages add offsets
(``seed + 1000 * phase``); 2^31 - 1 leaves room for both and fits every 32-bit API."""

_STEP_KEYS = (("training", "steps"), ("upgan", "fine_tune", "steps"))
_STAGE_BLOCKS = (("upgan", "phase"), ("upgan", "fine_tune"), ("baselines", "optimiser"))


def _get(params: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = params
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def _check_seed(value: Any, where: str) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and value > MAX_SEED:
        raise ValueError(f"parameter {where} = {value} is too large: seeds must lie in 0 … {MAX_SEED} "
                         "(the range numpy's and torch's generators take, with room for per-stage offsets)")


def check_seeds_in_range(params: Mapping[str, Any]) -> None:
    """Training seeds (``seeds``), cohort seeds and split seeds within 0 … :data:`MAX_SEED`."""
    for seed in params.get("seeds") or []:
        _check_seed(seed, "seeds")
    for layout, cohort in dict(params.get("cohorts") or {}).items():
        _check_seed(dict(cohort or {}).get("seed"), f"cohorts.{layout}.seed")
    for task, block in params.items():
        if isinstance(block, Mapping) and isinstance(block.get("split"), Mapping):
            _check_seed(block["split"].get("seed"), f"{task}.split.seed")


def check_budgets(params: Mapping[str, Any]) -> None:
    """``training.steps`` and ``upgan.fine_tune.steps`` at most :data:`MAX_STEPS`."""
    for path in _STEP_KEYS:
        value = _get(params, path)
        if isinstance(value, int) and not isinstance(value, bool) and value > MAX_STEPS:
            raise ValueError(f"parameter {'.'.join(path)} = {value} generator updates is more than any run "
                             f"can finish (at most {MAX_STEPS:.0e}); lower it")


def max_training_slices(params: Mapping[str, Any]) -> dict[str, int]:
    """An upper bound of each synthetic task's training slices: ``<task>.split.train`` volumes of
    at most ``max(simulation.shape)`` axial slices each (tasks on real data are left out)."""
    from upgan.tasks import get_task, task_names

    bounds = {}
    cohorts = dict(params.get("cohorts") or {})
    for task in params.get("tasks") or task_names():
        layout = get_task(task).layout.name
        cohort = dict(cohorts.get(layout) or {})
        shape = dict(cohort.get("simulation") or {}).get("shape")
        n_train = _get(params, (task, "split", "train"))
        if cohort.get("source", "synthetic") == "synthetic" and shape and isinstance(n_train, int):
            bounds[task] = int(n_train) * max(int(s) for s in shape)
    return bounds


def check_batch_sizes(params: Mapping[str, Any]) -> None:
    """Every stage's ``batch_size`` at most the training slices of the largest cell."""
    bounds = max_training_slices(params)
    if not bounds:
        return
    task, bound = min(bounds.items(), key=lambda item: item[1])
    baselines = dict(params.get("baselines") or {})
    blocks = [*_STAGE_BLOCKS, *[("baselines", name, "optimiser") for name in baselines if name != "optimiser"]]
    for path in blocks:
        size = _get(params, (*path, "batch_size"))
        if isinstance(size, int) and not isinstance(size, bool) and size > bound:
            raise ValueError(f"parameter {'.'.join(path)}.batch_size = {size} is larger than the training set "
                             f"(task {task}: at most {bound} slices of {_get(params, (task, 'split', 'train'))} "
                             "training volumes); lower it")


def check_device(params: Mapping[str, Any]) -> None:
    """``training.device`` names a device this machine has (``auto`` and ``cpu`` always do)."""
    device = _get(params, ("training", "device"))
    if not isinstance(device, str) or not device.startswith("cuda"):
        return
    import torch

    if not torch.cuda.is_available():
        raise ValueError(f"parameter training.device = {device!r} but this machine has no CUDA device "
                         "(torch.cuda.is_available() is False): use auto or cpu")
    index = device.partition(":")[2]
    if index and (not index.isdigit() or int(index) >= torch.cuda.device_count()):
        raise ValueError(f"parameter training.device = {device!r}: this machine has "
                         f"{torch.cuda.device_count()} CUDA device(s) (cuda:0 … cuda:{torch.cuda.device_count() - 1})")


def check_limits(params: Mapping[str, Any]) -> None:
    """All of the checks above (one-line ValueErrors naming the parameter)."""
    check_seeds_in_range(params)
    check_budgets(params)
    check_batch_sizes(params)
    check_device(params)
