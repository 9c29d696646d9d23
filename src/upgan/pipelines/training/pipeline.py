"""training: every method for every task at full supervision, once per training seed (cells
``<task>.<method>.n<NN>.s<seed>``).

Each method's plug-in shapes its cell (:meth:`upgan.methods.MethodPlugin.cell_steps`): a cascade's
is ``train_phase_0 -> ... -> fine_tune -> summarise_phases``, a single-generator method's one
``train`` node; every node runs :func:`nodes.run_cell_step`.
"""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from upgan import structure
from upgan.methods import get
from upgan.methods.registry import CellStep
from upgan.pipelines.binding import bind
from upgan.pipelines.training import nodes


def cell_histories(method: str) -> list[str]:
    """The history datasets a method's cell writes (names relative to the cell namespace)."""
    plugin = get(method).plugin
    return [h for step in plugin.cell_steps(structure.parameters()) for h in step.histories]


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


def _step_node(task: str, method: str, n_train_patients: int, seed: int, step: CellStep) -> Node:
    """A cell step as a node; the step that writes ``model`` also reads ``volume_manifest`` to
    record the training inputs' statistics in the bundle (:func:`nodes.run_model_step`)."""
    if "model" in step.outputs:
        return Node(bind(nodes.run_model_step, task, method, n_train_patients, seed, step),
                    [*step.inputs, "volume_manifest"], list(step.outputs), name=step.name, tags=list(step.tags))
    return Node(bind(nodes.run_cell_step, task, method, n_train_patients, seed, step), list(step.inputs),
                list(step.outputs), name=step.name, tags=list(step.tags))


def method_cell(task: str, method: str, n_train_patients: int, seed: int) -> Pipeline:
    """The training nodes of any method's cell, as its plug-in shapes them (names relative to the
    cell namespace), tagged ``training`` wherever they are used (Table 1 or the sweep)."""
    steps = get(method).plugin.cell_steps(structure.parameters())
    cell = Pipeline([_step_node(task, method, n_train_patients, seed, step) for step in steps])
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
