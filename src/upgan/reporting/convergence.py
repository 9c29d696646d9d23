"""What training spent and where it stopped: the budget table (one row per trained network) and
the convergence figure (validation MAE against generator updates, every method of a task).

Both read the history tables the training nodes write (one row per validation record, labelled
``task, method, n_train_patients, seed, network, updates, selected_step``; then ``step``,
``val_mae`` and the other record columns).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pandas as pd
from matplotlib.figure import Figure

from upgan.reporting.figures import subplots
from upgan.reporting.formatting import method_labels, ordered

logger = logging.getLogger(__name__)

BUDGET_COLUMNS = ["task", "method", "n_train_patients", "seed", "network", "updates", "selected_step"]
"""Columns of ``budget.csv``."""

NETWORK_ORDER = ("feature_extractor", "generator", "phase_0", "phase_1", "phase_2", "phase_3",
                 "phase_4", "fine_tune")


def _network_key(name: str) -> tuple[int, str]:
    return (NETWORK_ORDER.index(name), name) if name in NETWORK_ORDER else (len(NETWORK_ORDER), name)


def budget_table(histories: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """One row per trained network: the updates it made and the step whose weights were kept.

    Raises ValueError when a history lacks the label columns or one network reports two
    different budgets.
    """
    frames = [h for h in histories if len(h)]
    if not frames:
        return pd.DataFrame(columns=BUDGET_COLUMNS)
    for h in frames:
        missing = [c for c in BUDGET_COLUMNS if c not in h.columns]
        if missing:
            raise ValueError(f"history table lacks {missing}; got {list(h.columns)}")
    rows = pd.concat([h[BUDGET_COLUMNS] for h in frames], ignore_index=True).drop_duplicates()
    keys = ["task", "method", "n_train_patients", "seed", "network"]
    clash = rows[rows.duplicated(keys, keep=False)]
    if len(clash):
        raise ValueError(f"networks with two budgets in the histories:\n{clash.to_string(index=False)}")
    return sort_budget(rows)


def sort_budget(rows: pd.DataFrame) -> pd.DataFrame:
    """``budget.csv``'s row order (task, patients, method, seed, then the networks in training
    order) and column types."""
    rows = rows.assign(_order=[_network_key(n) for n in rows["network"]])
    rows = rows.sort_values(["task", "n_train_patients", "method", "seed", "_order"], kind="stable")
    return rows.drop(columns="_order").astype(
        {"n_train_patients": int, "seed": int, "updates": int, "selected_step": int}
    ).reset_index(drop=True)


def convergence_figure(
    histories: Sequence[pd.DataFrame], input_mae: float | None = None, title: str = "",
    metric: str = "val_mae",
) -> Figure:
    """Validation ``metric`` against generator updates, one panel per method (shared y axis).

    UP-GAN-family panels draw each phase and the fine-tuning as consecutive segments (phase m
    over updates ``[m S, (m + 1) S]``, fine-tuning after the last phase), so the whole cascade's
    training reads left to right; a marker shows each stage's kept (best validation) step. The
    dashed line is the do-nothing input's value on the same validation slices, when given.
    """
    frames = [h for h in histories if len(h) and metric in h.columns]
    data = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    names = method_labels()
    methods = ordered(list(dict.fromkeys(data["method"].tolist())), names) if len(data) else []
    n = max(len(methods), 1)
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    fig, axes = subplots(rows, cols, figsize=(4.2 * cols, 3.9 * rows), sharey=True, squeeze=False)
    for ax in axes.ravel()[len(methods):]:
        ax.axis("off")
    for ax, method in zip(axes.ravel(), methods, strict=False):
        sub = data[data["method"] == method]
        offset = 0
        networks = sorted(dict.fromkeys(sub["network"].tolist()), key=_network_key)
        for network in networks:
            part = sub[(sub["network"] == network) & sub[metric].notna()].sort_values("step")
            if part.empty:
                continue
            x = part["step"].to_numpy() + offset
            (line,) = ax.plot(x, part[metric].to_numpy(), marker=".", lw=1.2, label=network)
            kept = part[part["step"] == part["selected_step"].iloc[0]]
            if len(kept):
                ax.plot(kept["step"].to_numpy() + offset, kept[metric].to_numpy(), "o", ms=7,
                        mfc="none", color=line.get_color())
            offset += int(part["updates"].iloc[0])
        if input_mae is not None:
            ax.axhline(input_mae, ls="--", color="0.4", lw=1, label="input (do nothing)")
        ax.set_title(names.get(method, method), fontsize=10)
        ax.set_xlabel("generator updates")
        ax.grid(alpha=0.3)
        # below the panel: inside it would cover the last (fine-tuning) segment
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, frameon=False)
    for ax in axes[:, 0]:
        ax.set_ylabel(f"validation {metric.removeprefix('val_').upper()}")
    if len(data):
        values = data[metric].dropna()
        if len(values):
            lo, hi = float(values.min()), float(values.quantile(0.9))
            if input_mae is not None:
                hi = max(hi, input_mae)
            ax0 = axes[0, 0]
            ax0.set_ylim(lo - 0.05 * (hi - lo + 1e-12), hi + 0.15 * (hi - lo + 1e-12))
    fig.suptitle(title + "\n(circles: the kept, best-on-validation weights of each stage)", fontsize=10)
    fig.tight_layout()
    return fig
