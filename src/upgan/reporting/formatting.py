"""Names as tables and figures show them: method and task labels from the registries, metric
labels, and the table order."""

from __future__ import annotations

from collections.abc import Mapping

from upgan.evaluation import INPUT
from upgan.methods.registry import labels
from upgan.tasks import TASKS

INPUT_LABEL = "input (do nothing)"
"""Label of the do-nothing reference row."""

METRIC_LABELS: dict[str, str] = {"ssim": "SSIM", "psnr": "PSNR", "mae": "MAE"}


def method_labels() -> dict[str, str]:
    """Table rows in order (configuration name -> label): the do-nothing ``input``, then every
    registered method in table order."""
    return {INPUT: INPUT_LABEL, **labels()}


def task_labels() -> dict[str, str]:
    """Table column groups in the paper's order (task name -> label)."""
    return {name: spec.label or name for name, spec in TASKS.items()}


def ordered(values: list[str], order: Mapping[str, str]) -> list[str]:
    """Known names in the order of ``order``'s keys, then unknown ones in their given order."""
    return [v for v in order if v in values] + [v for v in values if v not in order]
