"""The "Training set-up" section of Table 1: the budget every method shares and, per cell, how
its method was set up, read from the cell's model bundle ``config``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from upgan.methods.registry import get
from upgan.reporting.formatting import method_labels, task_labels


def describe_method_setup(config: Mapping[str, Any]) -> str:
    """One line on how a cell's method was set up, from its model bundle's ``config``.

    MedGAN's line names the frozen feature extractor the run used (the in-pipeline pretrained
    autoencoder or a local VGG-19 file) and its weights' sha256.
    """
    try:
        spec = get(str(config.get("method", "")))
    except ValueError:
        return "(no description)"
    return spec.plugin.describe_bundle(config) or spec.summary


def training_setup_markdown(configs: list[dict], steps: int, fine_tune_steps: int, batch_size: int,
                            val_every: int | None, recipe: str) -> str:
    """The "Training set-up" section of Table 1: the budget every method shares and, per cell,
    :func:`describe_method_setup` of its model bundle."""
    check = f"every {val_every} updates" if val_every else "at the end"
    lines = [
        "", "## Training set-up", "",
        f"Budget in optimiser updates: every baseline generator (MedGAN's extra generator updates "
        f"included) and every UP-GAN phase generator makes {steps} updates on batches of "
        f"{batch_size} slices; UP-GAN's end-to-end fine-tuning adds {fine_tune_steps} (as in the "
        f"paper; UP-GAN loss recipe: {recipe}). Every stage is validated {check} and keeps its "
        "weights with the lowest validation MAE (the same rule for every method; test data "
        "choose nothing). Updates and kept steps per network: `budget.csv`; validation curves: "
        "`figures/convergence_<task>.png`. What each cell's model bundle records:", "",
        "| task | method | set-up |", "|---|---|---|",
    ]
    task_names, names = task_labels(), method_labels()
    task_order = {t: i for i, t in enumerate(task_names)}
    method_order = {m: i for i, m in enumerate(names)}
    ordered = sorted(configs, key=lambda c: (task_order.get(c.get("task"), 99),
                                             method_order.get(c.get("method"), 99)))
    for config in ordered:
        task, method = config.get("task", ""), config.get("method", "")
        lines.append(f"| {task_names.get(task, task)} (n = {config.get('n_train_patients')}) | "
                     f"{names.get(method, method)} | {describe_method_setup(config)} |")
    return "\n".join(lines) + "\n"
