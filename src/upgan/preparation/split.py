"""Seeded patient-level split into train / val / test."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

SPLITS = ("train", "val", "test")


def split_subjects(
    subject_ids: Sequence[str], n_train: int, n_val: int, n_test: int, seed: int
) -> pd.DataFrame:
    """Assign subjects to splits by a seeded permutation of the sorted ids.

    Returns a manifest with columns ``subject_id, split, order`` where ``order`` is the subject's
    position in the permutation (training subsets for the weak-supervision sweep are prefixes of
    the training split in this order, so they are nested). Subjects beyond
    ``n_train + n_val + n_test`` are left out and listed with split ``unused``.
    """
    counts = {"train": n_train, "val": n_val, "test": n_test}
    for name, n in counts.items():
        if int(n) != n or n < 1:
            raise ValueError(f"split.{name} must be a positive integer, got {n!r}")
    ids = sorted(set(subject_ids))
    if len(ids) != len(subject_ids):
        raise ValueError("duplicate subject ids in the cohort")
    needed = n_train + n_val + n_test
    if len(ids) < needed:
        raise ValueError(
            f"the split needs {needed} subjects ({n_train} train + {n_val} val + {n_test} test) "
            f"but the cohort has {len(ids)}"
        )
    order = np.random.default_rng(seed).permutation(len(ids))
    labels = ["train"] * n_train + ["val"] * n_val + ["test"] * n_test
    labels += ["unused"] * (len(ids) - needed)
    rows = [
        {"subject_id": ids[i], "split": labels[rank], "order": rank} for rank, i in enumerate(order)
    ]
    return pd.DataFrame(rows).sort_values(["split", "order"]).reset_index(drop=True)
