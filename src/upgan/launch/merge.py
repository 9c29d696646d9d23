"""A study in parts: merge the reports of runs that trained disjoint seeds into the report of the
whole study (``upgan merge``).

A study whose cells do not fit one machine or one sitting can be run in parts -- the same
configuration environment, each part with its own ``seeds`` and data root -- and merged. The
merge reads each part's per-cell evaluation outputs (the files the pipelines write under
``08_reporting/evaluation/``, with the cells a part's report covered) and computes the report
exactly as one run over all the seeds would: the same tables, tests, claims, variants and
Figure 4, row for row (``tests/launch/test_merge.py`` checks this byte for byte against a run
with every seed). It refuses parts that are not parts of one study: a cell trained by two
parts, test data that differ (the do-nothing ``input`` rows must agree), a training budget or
set-up that differs, or cells of one patient count scored on different test subjects.

What a merge cannot recompute, it takes from the parts: the figures drawn from predicted images
and training histories (methods, convergence, calibration, phases) come from the part that
trained the study's first seed, as a single run draws them from its first seed. The merged data
root holds the per-cell evaluation files too, so it can itself be a part of a later merge.
``parts.csv`` records where each cell came from and the machine each part computed on
(``run_info.csv`` of every part); training on different CPU types is a source of variation the
seed-aware tests treat like another seed (docs/experiments.md, "Reproducibility").
"""

from __future__ import annotations

import logging
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from upgan.io.files import atomic_path
from upgan.reporting.convergence import sort_budget

logger = logging.getLogger(__name__)

PIPELINES = ("__default__", "weak_supervision")
SETUP_HEADING = "## Training set-up"
SETUP_TABLE = "| task | method | set-up |"
REGENERATED_FIGURES = ("variants_",)  # drawn again from the merged tables
"""Figures of ``08_reporting/figures`` the merge draws itself (the others are copied)."""


@dataclass
class Part:
    """One part of a study: its data root, its catalog and the cells its report covered."""

    root: Path
    catalog: Any
    cells: list[tuple[str, str, int, int]] = field(default_factory=list)
    references: list[tuple[str, str, int]] = field(default_factory=list)
    run_info: dict[str, str] = field(default_factory=dict)


def catalog_for(root: Path, env: str) -> Any:
    """The project's data catalog of ``env`` with ``data_root = root`` (the paths the pipelines
    write, without a Kedro session: nothing is tracked, no store is opened)."""
    from kedro.config import OmegaConfigLoader
    from kedro.io import DataCatalog

    from upgan.configuration import CONFIG_LOADER_ARGS
    from upgan.structure import PROJECT_ROOT

    with warnings.catch_warnings():  # Kedro re-registers its resolvers with a deprecated OmegaConf call
        warnings.simplefilter("ignore", UserWarning)
        loader = OmegaConfigLoader(conf_source=str(PROJECT_ROOT / "conf"), env=env,
                                   runtime_params={"data_root": str(root)}, **CONFIG_LOADER_ARGS)
        return DataCatalog.from_config(loader["catalog"])


def _prefix(pipeline: str) -> str:
    return "weak_supervision." if pipeline == "weak_supervision" else ""


def _cell(task: str, method: str, n: int, seed: int | None = None) -> str:
    name = f"{task}.{method}.n{n:02d}"
    return name if seed is None else f"{name}.s{seed}"


def _load(part: Part, name: str, what: str) -> Any:
    """Load dataset ``name`` of ``part``; a missing file is one error naming it."""
    dataset = part.catalog.get(name)
    if dataset is None or not dataset.exists():
        path = getattr(dataset, "_filepath", None) or name
        raise FileNotFoundError(f"part {part.root}: no {what} ({path}); is it the data root of a finished run?")
    return dataset.load()


def read_part(root: Path, env: str, pipeline: str) -> Part:
    """A part's cells (from its report's ``metrics_per_subject.csv``) and machine."""
    if not root.is_dir():
        raise FileNotFoundError(f"part {root}: no such folder (give the data root of each part)")
    part = Part(root=root, catalog=catalog_for(root, env))
    table = _load(part, f"{_prefix(pipeline)}metrics_per_subject", "report (metrics_per_subject.csv)")
    keys = table[["task", "method", "n_train_patients", "seed"]].drop_duplicates()
    for row in keys.itertuples(index=False):
        if pd.isna(row.seed):
            part.references.append((row.task, row.method, int(row.n_train_patients)))
        else:
            part.cells.append((row.task, row.method, int(row.n_train_patients), int(row.seed)))
    info = part.catalog.get("run_info")
    if info is not None and info.exists():
        part.run_info = dict(info.load().astype(str).itertuples(index=False, name=None))
    return part


def _check_disjoint(parts: list[Part]) -> None:
    owner: dict[tuple, Path] = {}
    for part in parts:
        if any(part.root.resolve() == other.root.resolve() for other in parts if other is not part):
            raise ValueError(f"part {part.root} is given twice")
        for cell in part.cells:
            if cell in owner:
                raise ValueError(f"cell {_cell(*cell)} was trained by two parts ({owner[cell]} and {part.root}); "
                                 "parts of a study train disjoint seeds")
            owner[cell] = part.root


def _same_references(parts: list[Part], pipeline: str) -> dict[tuple, tuple[Part, pd.DataFrame]]:
    """The ``input`` reference of every (task, n), checked equal in every part that scored it:
    equal do-nothing scores mean the parts prepared the same test data."""
    chosen: dict[tuple, tuple[Part, pd.DataFrame]] = {}
    for part in parts:
        for ref in part.references:
            frame = _load(part, f"{_cell(*ref)}.metrics", f"metrics of {_cell(*ref)}")
            if ref not in chosen:
                chosen[ref] = (part, frame)
                continue
            first_part, first = chosen[ref]
            _compare_inputs(first, frame, ref, first_part.root, part.root)
    return chosen


def _compare_inputs(a: pd.DataFrame, b: pd.DataFrame, ref: tuple, root_a: Path, root_b: Path) -> None:
    subjects_a, subjects_b = sorted(a["subject_id"].astype(str)), sorted(b["subject_id"].astype(str))
    if subjects_a != subjects_b:
        raise ValueError(f"{_cell(*ref)}: parts {root_a} and {root_b} were scored on different test subjects "
                         f"({len(subjects_a)} vs {len(subjects_b)}); they are not parts of one study")
    a = a.set_index(a["subject_id"].astype(str))
    b = b.set_index(b["subject_id"].astype(str)).loc[a.index]
    for column in ("ssim", "psnr", "mae"):
        if not np.allclose(a[column].to_numpy(float), b[column].to_numpy(float), rtol=1e-9, atol=1e-12):
            worst = (a[column] - b[column]).abs().idxmax()
            raise ValueError(f"{_cell(*ref)}: the do-nothing {column} of subject {worst} is {a.at[worst, column]} in "
                             f"{root_a} but {b.at[worst, column]} in {root_b}: the parts prepared different data "
                             "(another cohort, split or preparation setting); they are not parts of one study")


def _check_budget(budget: pd.DataFrame, owner: Callable[[tuple], Path]) -> None:
    """Every seed of a method trained each network for the same number of updates."""
    if budget.empty:
        return
    keys = ["task", "method", "n_train_patients", "network"]
    spread = budget.groupby(keys)["updates"].nunique()
    for key in spread[spread > 1].index:
        rows = budget.set_index(keys).loc[[key]]
        found = ", ".join(f"s{int(r.seed)}: {int(r.updates)} ({owner((*key[:3], int(r.seed)))})"
                          for r in rows.itertuples())
        raise ValueError(f"{_cell(*key[:3])} network {key[3]}: the parts trained different budgets ({found}); "
                         "parts of a study share their configuration")


def _training_setup(part: Part) -> str:
    table = _load(part, "table1", "Table 1 (table1.md)")
    start = table.find(SETUP_HEADING)
    return table[start - 1:] if start > 0 else ""


def _shared_setup(setup: str) -> str:
    """The part of a training set-up every seed shares (the budget paragraph; the per-method rows
    that follow describe one seed's models, e.g. MedGAN's pretrained feature extractor)."""
    return setup.split(SETUP_TABLE)[0]


def _ordered(cells: list[tuple[str, str, int, int]], parts: list[Part]) -> list[tuple[str, str, int, int]]:
    """Cells in the order one run over all seeds gathers them: task and method in the order the
    parts list them (the configuration's), then patients and seed ascending."""
    tasks = list(dict.fromkeys(c[0] for p in parts for c in p.cells))
    methods = list(dict.fromkeys(c[1] for p in parts for c in p.cells))
    return sorted(cells, key=lambda c: (tasks.index(c[0]), methods.index(c[1]), c[2], c[3]))


@dataclass
class Merged:
    """What a merge computed, before it is written."""

    outputs: dict[str, Any]
    cells: dict[str, list[str]]
    parts: pd.DataFrame
    copies: list[tuple[Path, Path]]


def merge_parts(roots: list[Path], env: str = "local", pipeline: str = "__default__") -> Merged:
    """Read and check the parts and compute the merged report of ``pipeline`` (see the module
    docstring); nothing is written."""
    from upgan.pipelines.reporting import nodes as report
    from upgan.pipelines.weak_supervision import nodes as sweep

    if pipeline not in PIPELINES:
        raise ValueError(f"--pipeline must be one of {', '.join(PIPELINES)}, not {pipeline!r}")
    if len(roots) < 2:
        raise ValueError("give at least two parts to merge")
    parts = [read_part(Path(r), env, pipeline) for r in roots]
    _check_disjoint(parts)
    owner = {cell: part for part in parts for cell in part.cells}
    cells = _ordered(list(owner), parts)
    references = _same_references(parts, pipeline)
    subjects: dict[tuple[str, int], tuple[list[str], str]] = {}
    metrics, uncertainty = [], []
    for cell in cells:
        part = owner[cell]
        frame = _load(part, f"{_cell(*cell)}.metrics", f"metrics of {_cell(*cell)}")
        ids = sorted(frame["subject_id"].astype(str))
        first = subjects.setdefault((cell[0], cell[2]), (ids, _cell(*cell)))
        if first[0] != ids:
            raise ValueError(f"{_cell(*cell)} ({part.root}) was scored on other test subjects than {first[1]}; "
                             "the parts are not parts of one study")
        metrics.append(frame)
        uncertainty.append(_load(part, f"{_cell(*cell)}.uncertainty", f"uncertainty of {_cell(*cell)}"))
    tasks = list(dict.fromkeys(c[0] for c in cells))
    ref_keys = sorted(references, key=lambda r: (tasks.index(r[0]) if r[0] in tasks else len(tasks), r[2]))
    if pipeline == "__default__":  # one run gathers each task's references after its cells
        order: list[pd.DataFrame] = []
        for task in tasks:
            order += [m for c, m in zip(cells, metrics, strict=True) if c[0] == task]
            order += [references[r][1] for r in ref_keys if r[0] == task]
        metrics_frames = order
    else:  # the sweep gathers every reference after every cell
        metrics_frames = metrics + [references[r][1] for r in ref_keys]
    table, unc, head = report.collect_results(len(metrics_frames), *metrics_frames, *uncertainty)
    prefix = _prefix(pipeline)
    budget = pd.concat([_load(p, f"{prefix}budget", "budget.csv") for p in parts], ignore_index=True)
    budget = sort_budget(budget)
    _check_budget(budget, lambda cell: owner[cell].root)
    outputs: dict[str, Any] = {f"{prefix}metrics_per_subject": table, f"{prefix}uncertainty_table": unc,
                               f"{prefix}head_mae": head, f"{prefix}budget": budget}
    if pipeline == "__default__":
        setups = {p.root: _training_setup(p) for p in parts}
        setup = setups[owner[cells[0]].root]  # its per-method rows describe the first seed, as in one run
        for root, other in setups.items():
            if _shared_setup(other) != _shared_setup(setup):
                raise ValueError(f"part {root} was trained with another set-up than {owner[cells[0]].root} (the "
                                 "budgets of their table1.md 'Training set-up' differ); parts of a study share "
                                 "their configuration")
        summary, significance, claims, text = report.build_report(table, unc, head, setup, budget)
        variants, variants_text, figures = report.compare_variants(table, unc)
        outputs.update(summary=summary, significance=significance, claims=claims, table1=text, variants=variants,
                       variants_report=variants_text, variants_figures=figures)
    else:
        summary, significance, claims, text, figure = sweep.build_sweep_report(table, unc, budget)
        outputs.update({f"{prefix}summary": summary, f"{prefix}significance": significance,
                        f"{prefix}claims": claims, f"{prefix}tables": text, f"{prefix}figure": figure})
    return Merged(outputs=outputs, cells={str(p.root): [_cell(*c) for c in _ordered(p.cells, parts)] for p in parts},
                  parts=_parts_table(parts), copies=_copies(parts, cells, references, owner))


def _parts_table(parts: list[Part]) -> pd.DataFrame:
    keys = sorted({k for p in parts for k in p.run_info})
    rows = []
    for p in parts:
        seeds = sorted({c[3] for c in p.cells})
        rows.append({"part": str(p.root), "cells": len(p.cells), "seeds": " ".join(map(str, seeds)),
                     **{k: p.run_info.get(k, "") for k in keys}})
    return pd.DataFrame(rows)


def _copies(parts: list[Part], cells: list[tuple], references: dict, owner: dict) -> list[tuple[Path, Path]]:
    """Files carried over unchanged (relative to ``08_reporting``): every merged cell's
    evaluation folder, each reference's, the figures of every part (those drawn from the
    first seed taken from the part that trained it)."""
    copies: list[tuple[Path, Path]] = []
    for cell in cells:
        rel = Path("evaluation") / _cell(*cell)
        copies.append((owner[cell].root / "08_reporting" / rel, rel))
    for ref, (part, _) in references.items():
        rel = Path("evaluation") / _cell(*ref)
        copies.append((part.root / "08_reporting" / rel, rel))
    first = owner[cells[0]] if cells else parts[0]
    seen: set[str] = set()
    for part in [first, *[p for p in parts if p is not first]]:
        folder = part.root / "08_reporting" / "figures"
        for path in sorted(folder.glob("*.png")) if folder.is_dir() else []:
            if path.name in seen or path.name.startswith(REGENERATED_FIGURES):
                continue
            seen.add(path.name)
            copies.append((path, Path("figures") / path.name))
    return copies


def write_merged(merged: Merged, out: Path, env: str = "local", overwrite: bool = False) -> list[Path]:
    """Write the merged report to data root ``out`` (its ``08_reporting``), each file atomically
    through the project's catalog; refused when ``out`` is one of the parts, or already holds a
    report and ``overwrite`` is not set. Returns the files written."""
    out = Path(out)
    for root in merged.cells:
        if Path(root).resolve() == out.resolve():
            raise ValueError(f"--out {out} is one of the parts; give the merged report its own data root")
    catalog = catalog_for(out, env)
    existing = [name for name in merged.outputs if catalog.exists(name)]
    if existing and not overwrite:
        raise ValueError(f"--out {out} already holds a report ({', '.join(sorted(existing)[:3])}…); give an empty "
                         "data root or --overwrite")
    written: list[Path] = []
    reporting = out / "08_reporting"
    for source, rel in merged.copies:
        target = reporting / rel
        if source.is_dir():
            for path in sorted(p for p in source.rglob("*") if p.is_file()):
                written.append(_copy(path, target / path.relative_to(source)))
        elif source.is_file():
            written.append(_copy(source, target))
    for name, data in merged.outputs.items():
        catalog.save(name, data)
    prefix = "weak_supervision/" if any(k.startswith("weak_supervision.") for k in merged.outputs) else ""
    with atomic_path(reporting / f"{prefix}parts.csv") as tmp:
        merged.parts.to_csv(tmp, index=False)
    written.append(reporting / f"{prefix}parts.csv")
    return written


def _copy(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
    return target


def add_parser(sub: Any) -> None:
    """Add ``merge`` to the ``upgan`` command's sub-commands."""
    p = sub.add_parser(
        "merge", help="merge the reports of a study run in parts (disjoint seeds) into one report",
        description="Merge the reports of runs that trained disjoint seeds of one study (same env, each part "
                    "with its own `seeds` and data root) into the report one run over all the seeds writes: "
                    "tables, seed-aware tests, claims, variants, figures.")
    p.add_argument("parts", nargs="+", help="the data root of each part (the folder holding its 08_reporting)")
    p.add_argument("--out", required=True, help="data root of the merged report (its 08_reporting is written)")
    p.add_argument("--env", default="local", help="the configuration environment the parts ran with")
    p.add_argument("--pipeline", default="__default__", choices=list(PIPELINES),
                   help="Table 1 (__default__) or the weak-supervision sweep")
    p.add_argument("--overwrite", action="store_true", help="replace a report already in --out")


def run(args: Any) -> int:
    """Run ``upgan merge`` (exit 0 done, 2 refused)."""
    import sys

    try:
        merged = merge_parts([Path(p) for p in args.parts], env=args.env, pipeline=args.pipeline)
        written = write_merged(merged, Path(args.out), env=args.env, overwrite=args.overwrite)
    except (ValueError, FileNotFoundError) as error:
        print(f"Error: {error}", file=sys.stderr, flush=True)  # noqa: T201 (one line, as `kedro run` prints it)
        return 2
    n_cells = sum(len(c) for c in merged.cells.values())
    seeds = sorted({int(s) for p in merged.parts["seeds"] for s in str(p).split()})
    logger.info("merged %d cells of %d parts (seeds %s) into %s: %d files",
                n_cells, len(merged.cells), ", ".join(map(str, seeds)), Path(args.out) / "08_reporting",
                len(written) + len(merged.outputs))
    return 0
