"""An MLflow store that fails during a run (its sqlite file deleted or made read-only while the
run writes to it) as one line instead of SQLAlchemy's traceback (used by :mod:`upgan.cli`)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from upgan.pipelines.tracking_store import project_tracking_uri, sqlite_file


def _chain(error: BaseException | None) -> list[BaseException]:
    seen: list[BaseException] = []
    while error is not None and error not in seen:
        seen.append(error)
        error = error.__cause__ or error.__context__
    return seen


def store_failure(error: BaseException, conf_source: Path, env: str | None = None) -> str | None:
    """The one-line message for ``error`` when it is a sqlite error of the project's MLflow store
    (``None`` otherwise): the store was deleted, or cannot be written any more."""
    failures = [e for e in _chain(error) if isinstance(e, sqlite3.Error)
                or type(e).__module__.startswith("sqlalchemy")]
    if not failures:
        return None
    database = sqlite_file(project_tracking_uri(conf_source, env))
    if database is None:
        return None
    detail = str(failures[-1]).splitlines()[0]
    if not database.exists():
        what = f"the MLflow store {database.resolve()} was deleted during the run"
    else:
        what = f"the MLflow store {database.resolve()} failed during the run ({detail})"
    return (f"{what}; the outputs written so far are on disk and complete. Run again: a new store is "
            "created and finished cells and stages are resumed, not retrained")
