"""Cohort folders on disk: the layout a user brings, which the synthetic generator also writes.

A :class:`CohortLayout` knows how a cohort folder names its subjects and files, and how to
simulate one subject of the embedded cohort; the paper's layouts are in :mod:`upgan.io.layouts`.
A user's folder is only ever read. The generator writes a fresh folder atomically and marks it
with ``synthetic_cohort.json`` so that it is recognised, reused when its configuration is
unchanged, and never confused with user data.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import socket
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from upgan.io.files import publish_dir
from upgan.io.nifti import NiftiVolume, is_nifti_path
from upgan.parallel import map_jobs

logger = logging.getLogger(__name__)

STAMP_FILE = "synthetic_cohort.json"
STAGING_OWNER = ".upgan-staging.json"
"""Written into a generation's staging folder: the generating process (pid, host)."""
COHORT_FORMAT = 2
"""Version of the generated data: 2 renders the anatomy with partial volume (format 1: point
sampling). A cohort of another format is regenerated."""
STAGING_GRACE_S = 60.0
"""A staging folder without an owner file is stale once it is this old (seconds)."""


class CohortError(ValueError):
    """A cohort folder that does not match its layout."""


class CohortLayout(ABC):
    """How a cohort folder is organised, named and simulated (subclasses are frozen dataclasses).

    Attributes:
        name: the layout's configuration name (its parameters are ``cohorts.<name>``).
        modalities: the modalities each subject has.
        expected: the file pattern, for messages (``<subject>/pet.nii.gz and ...``).
    """

    name: str
    modalities: tuple[str, ...]
    expected: str

    @abstractmethod
    def scan(self, root: Path, check_grids: bool = True) -> tuple[list[dict[str, Any]], int]:
        """The index rows of every volume in ``root`` (see :func:`discover_cohort`; co-registered
        modalities must share a grid when ``check_grids``), and how many hidden entries were
        skipped. Raises :class:`CohortError` naming the file for a layout violation."""

    @abstractmethod
    def subject_id(self, index: int) -> str:
        """The id of the generated cohort's subject ``index``."""

    @abstractmethod
    def simulation_type(self) -> type:
        """The dataclass of the ``simulation`` parameters of the generated cohort."""

    @abstractmethod
    def simulate(self, simulation: Mapping[str, Any], seed: int, index: int) -> dict[str, NiftiVolume]:
        """Subject ``index`` of the generated cohort: modality -> volume, as stored on disk."""

    @abstractmethod
    def write(self, volumes: Mapping[str, NiftiVolume], root: Path, subject: str) -> None:
        """Write a subject's volumes into ``root`` under the layout's file names."""


def discover_cohort(root: str | Path, layout: CohortLayout, resample_ct_to_pet: bool = False) -> pd.DataFrame:
    """List and check the volumes of a cohort folder without loading their voxels.

    File names match in any letter case (``PET.nii.gz``, ``x-t1.NII``); hidden files and folders
    (names starting with ``.``, e.g. macOS ``._`` files) are skipped and counted in the log.

    Returns a table with one row per volume: ``subject_id, modality, path, shape, affine, axcodes``
    (shape and affine as JSON). Raises :class:`CohortError` or :class:`VolumeError` naming the
    folder or file for a missing folder, no matching files, the same volume twice (e.g. as
    ``.nii`` and ``.nii.gz``), an incomplete PET/CT pair, an unreadable header, non-3D data, or
    (unless ``resample_ct_to_pet``) a PET/CT pair whose shapes or affines differ.
    """
    if not isinstance(layout, CohortLayout):
        raise TypeError(f"layout must be a CohortLayout (e.g. upgan.io.layouts.PET_CT), got {layout!r}")
    root = Path(root)
    if not root.is_dir():
        raise CohortError(f"cohort folder {root} does not exist (layout {layout.name!r})")
    rows, hidden = layout.scan(root, check_grids=not resample_ct_to_pet)
    if hidden:
        logger.info("Skipped %d hidden file(s) (names starting with '.') in %s", hidden, root)
    if not rows:
        raise CohortError(f"no volumes found in {root}: expected {layout.expected} (layout {layout.name!r})")
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Synthetic cohorts


@dataclass(frozen=True)
class SyntheticCohortSpec:
    """What to generate: the layout, how many subjects, the simulation settings and the seed."""

    layout: CohortLayout
    n_subjects: int
    seed: int
    simulation: dict[str, Any]

    def __post_init__(self) -> None:
        if not isinstance(self.layout, CohortLayout):
            raise TypeError(f"layout must be a CohortLayout (e.g. upgan.io.layouts.PET_CT), got {self.layout!r}")

    def fingerprint(self) -> dict[str, Any]:
        """JSON-able identity of the cohort, stored in the stamp file."""
        return {"format": COHORT_FORMAT, "layout": self.layout.name, "n_subjects": self.n_subjects, "seed": self.seed,
                "simulation": self.simulation}


def ras_affine(shape: tuple[int, int, int], spacing_mm: tuple[float, float, float]) -> np.ndarray:
    """RAS+ affine with the given voxel size, centred on the volume's middle voxel."""
    affine = np.diag([*spacing_mm, 1.0])
    affine[:3, 3] = -np.asarray(spacing_mm) * (np.asarray(shape) - 1) / 2.0
    return affine


def _write_subject(spec: SyntheticCohortSpec, index: int, root: Path) -> str:
    subject = spec.layout.subject_id(index)
    spec.layout.write(spec.layout.simulate(spec.simulation, spec.seed, index), root, subject)
    return subject


def is_synthetic_cohort(root: str | Path) -> bool:
    """True when ``root`` was written by :func:`write_synthetic_cohort`."""
    return (Path(root) / STAMP_FILE).exists()


def _staging_name(root: Path) -> re.Pattern[str]:
    """Names of the staging folders of ``root``: ``mkdtemp(prefix=".<root name>-")``."""
    return re.compile(rf"\.{re.escape(root.name)}-[a-z0-9_]{{8}}")


def pid_alive(pid: int) -> bool:
    """True when process ``pid`` exists on this machine (also another user's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _is_stale(staging: Path) -> bool:
    """True for the staging folder of a generation that was killed (its process is gone)."""
    try:
        owner = json.loads((staging / STAGING_OWNER).read_text())
        pid, host = int(owner["pid"]), str(owner["host"])
    except (OSError, ValueError, KeyError, TypeError):  # no owner yet, or an older upgan's
        return time.time() - staging.stat().st_mtime > STAGING_GRACE_S
    return host == socket.gethostname() and not pid_alive(pid)


def remove_stale_staging(root: str | Path) -> list[Path]:
    """Delete the staging folders that killed generations of ``root`` left beside it (only
    upgan's own ``.<root name>-XXXXXXXX`` folders whose process is gone); each is logged."""
    root = Path(root)
    if not root.parent.is_dir():
        return []
    pattern = _staging_name(root)
    removed = []
    for entry in sorted(root.parent.iterdir()):
        if pattern.fullmatch(entry.name) and entry.is_dir() and not entry.is_symlink() and _is_stale(entry):
            shutil.rmtree(entry)
            logger.info("Removed %s, the staging folder of an interrupted cohort generation", entry)
            removed.append(entry)
    return removed


def write_synthetic_cohort(
    root: str | Path,
    spec: SyntheticCohortSpec,
    n_workers: int = 1,
    progress: bool = True,
) -> Path:
    """Generate ``spec`` into ``root`` unless an identical cohort is already there.

    The cohort is written into a temporary sibling folder and moved into place when complete,
    so an interrupted run never leaves a half-written cohort that looks valid; the staging
    folders that killed runs left behind are removed first (:func:`remove_stale_staging`). A non-empty
    ``root`` that was not generated by upgan is refused: it may be user data.
    """
    if spec.n_subjects < 1:
        raise CohortError(f"n_subjects must be >= 1, got {spec.n_subjects}")
    root = Path(root)
    remove_stale_staging(root)
    stamp = root / STAMP_FILE
    if stamp.exists():
        if json.loads(stamp.read_text()) == spec.fingerprint():
            logger.info("Reusing the synthetic %s cohort in %s", spec.layout.name, root)
            return root
        logger.info("Synthetic cohort settings changed: regenerating %s", root)
    elif root.exists() and any(root.iterdir()):
        raise CohortError(
            f"refusing to generate a synthetic cohort into {root}: the folder holds files that "
            "upgan did not generate (your own data?). Point `synthetic_dir` elsewhere."
        )
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}-", dir=root.parent))
    try:
        publish_dir(staging)  # mkdtemp's folder is private (0700): give it the umask's mode
        owner = staging / STAGING_OWNER
        owner.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
        bar = tqdm(total=spec.n_subjects, desc=f"simulate {spec.layout.name}", disable=not progress)
        jobs = [(spec, index, staging) for index in range(spec.n_subjects)]
        for _ in map_jobs(_write_subject, jobs, n_workers):  # fresh worker processes, never fork
            bar.update()
        bar.close()
        (staging / STAMP_FILE).write_text(json.dumps(spec.fingerprint(), indent=2))
        owner.unlink()
        if root.exists():
            shutil.rmtree(root)
        os.replace(staging, root)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    logger.info("Wrote %d synthetic %s subjects to %s", spec.n_subjects, spec.layout.name, root)
    return root


__all__ = [
    "COHORT_FORMAT",
    "CohortError",
    "CohortLayout",
    "SyntheticCohortSpec",
    "discover_cohort",
    "is_nifti_path",
    "is_synthetic_cohort",
    "ras_affine",
    "remove_stale_staging",
    "write_synthetic_cohort",
]
