"""Bound node functions carry the type hints and signature of the arguments they still take:
Kedro checks node inputs against the signature, and Kedro-Viz reads the type hints of every node
(a bare ``functools.partial`` has none: one warning per node)."""

from __future__ import annotations

import inspect
import typing

import pandas as pd

from upgan.pipelines.binding import bind


def _node(task: str, n_train_patients: int, frame: pd.DataFrame, *rest: pd.DataFrame) -> pd.DataFrame:
    """Concatenate."""
    return pd.concat([frame, *rest]).assign(task=task, n=n_train_patients)


def test_bound_function_has_the_remaining_signature_and_hints():
    bound = bind(_node, "pet_to_ct", 4)
    assert list(inspect.signature(bound).parameters) == ["frame", "rest"]
    hints = typing.get_type_hints(bound)
    assert hints == {"frame": pd.DataFrame, "rest": pd.DataFrame, "return": pd.DataFrame}
    assert bound.__name__ == "_node" and bound.__doc__ == "Concatenate."
    out = bound(pd.DataFrame({"a": [1]}), pd.DataFrame({"a": [2]}))
    assert out["a"].tolist() == [1, 2] and set(out["task"]) == {"pet_to_ct"}


def test_every_node_of_every_pipeline_has_readable_type_hints(kedro_project):
    from kedro.framework.project import pipelines

    for name in ("__default__", "weak_supervision"):
        for node in pipelines[name].nodes:
            typing.get_type_hints(node.func)  # what Kedro-Viz does; raised for partials before
            params = inspect.signature(node.func).parameters
            positional = [p for p in params.values() if p.kind != p.VAR_POSITIONAL]
            assert len(positional) <= len(node.inputs), node.name
