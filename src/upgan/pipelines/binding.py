"""Binding structural arguments (task, method, cell size, seed, phase) into node functions."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any


def bind(func: Callable[..., Any], *args: Any) -> Callable[..., Any]:
    """``func`` with its first ``len(args)`` arguments fixed, as a plain function that keeps
    ``func``'s name and docstring for logs and Kedro-Viz.

    Its signature (``__signature__``) and type hints (``__annotations__``, resolved in ``func``'s
    module) are those of the remaining arguments, so Kedro's input check and Kedro-Viz's type
    display see exactly what the node receives (a ``functools.partial`` has no type hints of its
    own, which Kedro-Viz reports for every node).
    """
    signature = inspect.signature(func)
    remaining = list(signature.parameters.values())[len(args):]
    hints = typing.get_type_hints(func)

    @functools.wraps(func)
    def node(*rest: Any, **kwargs: Any) -> Any:
        return func(*args, *rest, **kwargs)

    del node.__wrapped__  # inspection must see the remaining arguments, not the original ones
    node.__signature__ = signature.replace(parameters=remaining)  # type: ignore[attr-defined]
    node.__annotations__ = {name: hint for name, hint in hints.items()
                            if name == "return" or name in {p.name for p in remaining}}
    return node
