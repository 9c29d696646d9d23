"""Known keys of nested parameter blocks: unknown ones fail with their dotted name.

A schema maps each known key to the schema of its block, or to ``None`` for a value (a leaf).
"""

from __future__ import annotations

from collections.abc import Mapping
from difflib import get_close_matches
from typing import Any, Union

Schema = Mapping[str, Union["Schema", None]]


def _dotted(where: str, key: object) -> str:
    return f"{where}.{key}" if where else str(key)


def check_keys(values: Any, schema: Schema, where: str = "") -> None:
    """Raise ValueError naming the first block of ``values`` (under the dotted name ``where``)
    with a key ``schema`` does not know, listing the known ones; ``None`` blocks are allowed."""
    if values is None:
        return
    if not isinstance(values, Mapping):
        raise ValueError(f"parameter {where or 'parameters'} must be a block of "
                         f"{', '.join(_dotted(where, k) for k in schema)}, got {values!r}")
    unknown = sorted(str(k) for k in values if k not in schema)
    if unknown:
        raise ValueError(unknown_keys_message(unknown, schema, where))
    for key, sub in schema.items():
        if sub is not None and key in values:
            check_keys(values[key], sub, _dotted(where, key))


def unknown_keys_message(unknown: list[str], known: Mapping[str, Any] | list[str], where: str = "") -> str:
    """``unknown parameter upgan.phse; known: upgan.n_phases, ... (did you mean upgan.phase?)``."""
    names = [_dotted(where, k) for k in unknown]
    message = (f"unknown parameter{'s' if len(names) > 1 else ''} {', '.join(names)}; known: "
               f"{', '.join(_dotted(where, k) for k in known)}")
    guesses = [_dotted(where, g) for k in unknown for g in get_close_matches(k, list(known), n=1)]
    return message + (f" (did you mean {', '.join(guesses)}?)" if guesses else "")
