"""Several training seeds per cell: pooling them, and multiplicity.

Each cell (task, method, patients) is trained once per seed; ``seed`` is empty for the
do-nothing ``input``, which trains nothing (it counts as one "seed"). Conventions:

* A subject's metric is the mean over the cell's seeds, so subjects stay the unit of every
  summary and test (the seeds make each subject's estimate less noisy; they are not extra
  subjects).
* The seed spread of a cell is the sample standard deviation (``ddof=1``) of its per-seed means
  over subjects: how far a retraining moves the headline number (0 with one seed).
* Holm's step-down adjustment is applied within each claim's family of tests (Holm 1979), a
  family spanning every task at full supervision (:func:`holm_families`):
  the p-values of a family sorted ascending, ``p_(i)`` becomes ``max_{j <= i} min(1, (m - j + 1)
  p_(j))`` with ``m`` the family's number of tests. NaN p-values are not tests.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pandas as pd

from upgan.evaluation.contract import INPUT, METRICS

CELL = ["task", "method", "n_train_patients"]


def seed_values(frame: pd.DataFrame) -> list[int]:
    """The distinct (non-empty) seeds of a table, ascending."""
    if "seed" not in frame.columns:
        return []
    return sorted(int(s) for s in frame["seed"].dropna().unique())


def n_seeds(group: pd.DataFrame) -> int:
    """Seeds of one cell's rows (an empty seed counts as one)."""
    if "seed" not in group.columns:
        return 1
    seeds = group["seed"]
    return int(seeds.dropna().nunique()) + int(seeds.isna().any())


def subject_means(metrics: pd.DataFrame, columns: tuple[str, ...] = (*METRICS, "bone_dice",
                                                                    "out_of_range_fraction")) -> pd.DataFrame:
    """One row per (cell, subject): each of ``columns`` averaged over the cell's seeds, with the
    cell's ``n_seeds``. Rows keep the order of first appearance."""
    keys = [*CELL, "subject_id"]
    present = [c for c in columns if c in metrics.columns]
    frame = metrics.copy()
    frame["subject_id"] = frame["subject_id"].astype(str)
    means = frame.groupby(keys, sort=False, dropna=False)[present].mean().reset_index()
    counts = {k: n_seeds(g) for k, g in frame.groupby(CELL, sort=False, dropna=False)}
    means["n_seeds"] = [counts[(t, m, n)] for t, m, n in zip(means["task"], means["method"],
                                                            means["n_train_patients"], strict=True)]
    return means


def seed_spread(group: pd.DataFrame, metric: str) -> float:
    """Sample std (ddof=1) over seeds of one cell's per-seed means of ``metric``; 0 with one seed."""
    if "seed" not in group.columns or group["seed"].dropna().nunique() < 2:
        return 0.0
    per_seed = group.dropna(subset=["seed"]).groupby("seed")[metric].mean()
    return float(per_seed.std(ddof=1))


def single_seed(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The rows of one training seed, and the seedless rows (``input``)."""
    if "seed" not in frame.columns:
        return frame
    keep = frame["seed"].isna() | (frame["seed"] == seed)
    return frame[keep]


def per_seed(frame: pd.DataFrame) -> Iterator[tuple[int, pd.DataFrame]]:
    """``(seed, rows of that seed plus the seedless rows)`` for every seed of ``frame``."""
    for seed in seed_values(frame):
        yield seed, single_seed(frame, seed)


def holm(p_values: np.ndarray | list[float]) -> np.ndarray:
    """Holm-adjusted p-values of one family, in the given order (NaN stays NaN, not counted)."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, math.nan)
    tested = np.flatnonzero(~np.isnan(p))
    m = tested.size
    if m == 0:
        return out
    order = tested[np.argsort(p[tested], kind="stable")]
    running = 0.0
    for rank, idx in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[idx]))
        out[idx] = running
    return out


def claim_family(method_b: str, roles: dict[str, str]) -> str:
    """The claim a test of the proposed method (or of any method against ``input``) belongs to:
    ``C0`` against ``input``, ``C1`` against a baseline, ``C2`` an ablation, ``C6`` a control."""
    if method_b == INPUT:
        return "C0"
    return {"baseline": "C1", "ablation": "C2", "control": "C6"}.get(roles.get(method_b, ""), "other")


def holm_families(significance: pd.DataFrame, roles: dict[str, str]) -> pd.Series:
    """The Holm family of every row of a tests table (columns ``task, n_train_patients,
    method_b``): the claim (:func:`claim_family`) when the row is at its task's full
    supervision (the largest ``n_train_patients`` of that task in the table), so that one family
    spans every task, method and metric of a claim (C1: every baseline x metric x task, PET->CT
    at 29 patients and the MRI tasks at 16 together); ``"<claim> n=<count>"`` for the smaller
    patient counts of the weak-supervision sweep (one family per claim and count; no claim is
    decided on them)."""
    if significance.empty:
        return pd.Series([], index=significance.index, dtype=object)
    full = significance.groupby("task")["n_train_patients"].transform("max")
    claim = significance["method_b"].map(lambda b: claim_family(str(b), roles))
    at_full = significance["n_train_patients"] == full
    scoped = claim + " n=" + significance["n_train_patients"].astype(int).astype(str)
    return claim.where(at_full, scoped).astype(object)


def holm_within_families(significance: pd.DataFrame, roles: dict[str, str]) -> pd.Series:
    """``p_holm`` of every row: Holm within (family, test), the family from the table's
    ``family`` column when it has one, else :func:`holm_families`."""
    out = pd.Series(np.nan, index=significance.index, dtype=float)
    if significance.empty:
        return out
    family = (significance["family"] if "family" in significance.columns
              else holm_families(significance, roles))
    for _, idx in significance.groupby([family, significance["test"]]).groups.items():
        out.loc[idx] = holm(significance.loc[idx, "p_value"].to_numpy(dtype=float))
    return out
