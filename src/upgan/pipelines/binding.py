"""Binding structural arguments (task, method, cell size, phase) into node functions."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial, update_wrapper
from typing import Any


def bind(func: Callable[..., Any], *args: Any) -> Callable[..., Any]:
    """``partial(func, *args)`` that keeps ``func``'s name and docstring for logs and Kedro-Viz.

    ``__wrapped__`` is removed so that signature inspection (Kedro's parameter validation)
    sees the partial's remaining arguments, not the original ones.
    """
    bound = update_wrapper(partial(func, *args), func)
    del bound.__wrapped__
    return bound
