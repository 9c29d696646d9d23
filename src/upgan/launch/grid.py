"""The grid a launch runs, read off the Kedro pipeline that ``kedro run`` would run (so there is
one grid: the one :mod:`upgan.structure` builds the pipelines from).

A pipeline's nodes fall in three stages: a task's data preparation (nodes of a task's namespace
that read nothing a cell wrote), the experiment cells (``<task>.<method>.n<NN>[.s<seed>]``, see
:data:`upgan.pipelines.tracking.CELL`), and the report (every other node: per-task summaries,
Table 1's report outside any namespace, the sweep's under ``weak_supervision``). Cells depend only on the
preparation, the report on the cells, so the cells can run as separate jobs in any order.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from upgan.pipelines.tracking import CELL

PREPARE, CELL_STAGE, REPORT = "prepare", "cell", "report"


@dataclass(frozen=True)
class Stage:
    """A set of nodes run as one job: the data preparation, one cell, or the report."""

    kind: str
    name: str
    nodes: tuple[str, ...]
    outputs: tuple[str, ...]


def split_stages(pipeline: Any, tasks: Iterable[str]) -> tuple[Stage | None, list[Stage], Stage | None]:
    """The preparation stage (``None`` without one), the cells (sorted by name) and the report
    (``None`` without one) of a Kedro ``pipeline``; ``tasks`` are the task names.

    A node of a task's namespace belongs to the preparation unless it reads, directly or through
    other nodes, what a cell wrote (a per-task summary): then it belongs to the report."""
    tasks = set(tasks)
    groups: dict[tuple[str, str], list[Any]] = {}
    after_cells: set[str] = set()  # datasets written by cells or by nodes that read them
    for node in pipeline.nodes:  # topologically sorted
        namespace = node.namespace or ""
        if CELL.match(namespace):
            key = (CELL_STAGE, namespace)
            after_cells.update(node.outputs)
        elif namespace in tasks and not after_cells & set(node.inputs):
            key = (PREPARE, "data_preparation")
        else:
            key = (REPORT, "report")
            after_cells.update(node.outputs)
        groups.setdefault(key, []).append(node)

    def stage(key: tuple[str, str]) -> Stage | None:
        nodes = groups.get(key)
        if not nodes:
            return None
        outputs = sorted({o for n in nodes for o in n.outputs})
        return Stage(key[0], key[1], tuple(n.name for n in nodes), tuple(outputs))

    cells = [stage(k) for k in sorted(groups) if k[0] == CELL_STAGE]
    return stage((PREPARE, "data_preparation")), [c for c in cells if c], stage((REPORT, "report"))


def select(cells: list[Stage], prefixes: Iterable[str] | None) -> list[Stage]:
    """The cells whose name starts with one of ``prefixes`` (all cells for none); a prefix that
    selects nothing is an error listing a few cells."""
    prefixes = [p for p in (prefixes or []) if p]
    if not prefixes:
        return cells
    chosen = [c for c in cells if any(c.name == p or c.name.startswith(p.rstrip(".") + ".") for p in prefixes)]
    missing = [p for p in prefixes if not any(c.name == p or c.name.startswith(p.rstrip(".") + ".") for c in cells)]
    if missing:
        examples = ", ".join(c.name for c in cells[:4])
        raise ValueError(f"--namespaces {missing} select no cell of the pipeline (cells are named like {examples})")
    return chosen


DONE_FOLDER = Path("09_tracking") / "launch" / "done"
"""Where a launch's jobs record the stages they finished (``<stage>.json``: the parameters' digest)."""


def parameters_digest(parameters: Mapping[str, Any]) -> str:
    """A digest of the run's parameters: a stage done with other parameters is not done."""
    text = json.dumps(parameters, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def mark_done(data_root: str | Path, stage: str, digest: str) -> None:
    """Record that ``stage`` finished with parameters ``digest`` (written atomically)."""
    path = Path(data_root) / DONE_FOLDER / f"{stage}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"parameters": digest, "finished": time.time()}))
    tmp.replace(path)


def done_with(data_root: str | Path, stage: str, digest: str) -> bool:
    """True when a launch job recorded ``stage`` finished with parameters ``digest``."""
    try:
        record = json.loads((Path(data_root) / DONE_FOLDER / f"{stage}.json").read_text())
    except (OSError, ValueError):
        return False
    return record.get("parameters") == digest


def finished(stage: Stage, catalog: Any, data_root: str | Path, digest: str) -> bool:
    """True when a launch job finished ``stage`` with the same parameters and every output of it
    that the catalog keeps on disk still exists."""
    if not done_with(data_root, stage.name, digest):
        return False
    kept = [name for name in stage.outputs if _persistent(catalog, name)]
    return all(catalog.exists(name) for name in kept)


def _persistent(catalog: Any, name: str) -> bool:
    from kedro.io import MemoryDataset

    try:
        dataset = catalog.get(name)
    except Exception:  # noqa: BLE001 (a name no pattern resolves: kept in memory by Kedro)
        return False
    if dataset is None or isinstance(dataset, MemoryDataset):
        return False
    return type(dataset).__module__.split(".")[0] != "kedro_mlflow"  # tracked, not a file to resume from
