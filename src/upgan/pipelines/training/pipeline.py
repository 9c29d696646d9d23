"""training: every method for every task at full supervision, once per training seed (cells
``<task>.<method>.n<NN>.s<seed>``).

Nodes of a cascade's cell: ``train_phase_0 -> ... -> fine_tune -> summarise_phases`` (each phase
node takes the earlier phases' bundles from the catalog and writes its own); a single-generator
method's cell has one ``train`` node.
"""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from upgan import structure
from upgan.methods import get
from upgan.pipelines.binding import bind
from upgan.pipelines.training import nodes


def upgan_cell(task: str, method: str, n_train_patients: int, seed: int, n_phases: int) -> Pipeline:
    """The nodes of one UP-GAN cell; names are relative to the cell namespace, except the
    task's prepared data (:data:`TASK_DATA`, relative to the task namespace) and parameters."""
    data = ["train_slices", "val_slices", "split_manifest"]
    params = ["params:upgan", "params:training"]
    cell = (task, method, n_train_patients, seed)
    phase_nodes = [
        Node(
            bind(nodes.train_upgan_phase, *cell, n_phases, m),
            [*data, *params, *[f"generator_{k}" for k in range(m)]],
            [f"generator_{m}", f"history_phase_{m}"],
            name=f"train_phase_{m}",
            tags=[f"phase_{m}"],
        )
        for m in range(n_phases)
    ]
    fine = Node(
        bind(nodes.fine_tune_upgan, *cell, n_phases),
        [*data, *params, "params:preparation", "volume_manifest", *[f"generator_{k}" for k in range(n_phases)]],
        ["model", "history_fine_tune"],
        name="fine_tune",
        tags=["fine_tune"],
    )
    summary = Node(
        bind(nodes.summarise_phases, *cell),
        ["test_slices", "params:training", "model", *[f"generator_{k}" for k in range(n_phases)]],
        ["phase_summary", "phase_figure"],
        name="summarise_phases",
        tags=["evaluation"],
    )
    return Pipeline([*phase_nodes, fine, summary])


def cell_histories(method: str) -> list[str]:
    """The history datasets a method's cell writes (names relative to the cell namespace)."""
    if get(method).cascade:
        return [f"history_phase_{m}" for m in range(structure.n_phases())] + ["history_fine_tune"]
    return ["history_train"]


TASK_DATA = {"train_slices", "val_slices", "test_slices", "split_manifest", "volume_manifest"}
SHARED_PARAMS = {"params:upgan", "params:training", "params:baselines"}


def nest_cell(cell: Pipeline, task: str, method: str, n_train_patients: int, seed: int | None = None) -> Pipeline:
    """Put a cell template into ``<task>.<method>.n<NN>.s<seed>`` (nested, so Kedro-Viz can fold
    each level; no seed level for ``seed=None``): the task's data and preparation parameters get
    the task prefix only, the shared hyper-parameters none."""
    free = cell.inputs()
    task_data = TASK_DATA & free
    shared = SHARED_PARAMS & free
    task_params = shared | ({"params:preparation"} & free)
    if seed is not None:
        cell = Pipeline(cell, namespace=f"s{seed}", inputs=task_data, parameters=task_params)
    inner = Pipeline(cell, namespace=f"n{n_train_patients:02d}", inputs=task_data, parameters=task_params)
    inner = Pipeline(inner, namespace=method, inputs=task_data, parameters=task_params)
    return Pipeline(inner, namespace=task, parameters=shared)


def single_cell(task: str, method: str, n_train_patients: int, seed: int) -> Pipeline:
    """A single-generator method (a baseline or a control): one training node, same budget."""
    return Pipeline([
        Node(
            bind(nodes.train_single_cell, task, method, n_train_patients, seed),
            ["train_slices", "val_slices", "split_manifest", "params:baselines", "params:upgan",
             "params:training", "params:preparation", "volume_manifest"],
            ["model", "history_train"],
            name="train",
            tags=["train"],
        )
    ])


def method_cell(task: str, method: str, n_train_patients: int, seed: int) -> Pipeline:
    """The training nodes of any method's cell (names relative to the cell namespace), tagged
    ``training`` wherever they are used (Table 1 or the sweep)."""
    if get(method).cascade:
        cell = upgan_cell(task, method, n_train_patients, seed, structure.n_phases())
    else:
        cell = single_cell(task, method, n_train_patients, seed)
    return cell.tag("training")


def create_pipeline(**kwargs) -> Pipeline:
    """Every configured method for every configured task, at full supervision, once per seed."""
    cells = []
    for task in structure.tasks():
        n = structure.full_supervision(task)
        for method in structure.methods():
            for seed in structure.seeds():
                cell = nest_cell(method_cell(task, method, n, seed), task, method, n, seed)
                cells.append(cell.tag(["training", task, method, f"s{seed}"]))
    return Pipeline(cells)
