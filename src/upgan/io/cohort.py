"""Cohort folders on disk: the layout a user brings, which the synthetic generator also writes.

Layouts:
    ``pet_ct``: ``<root>/<subject>/pet.nii.gz`` (non-attenuation-corrected PET) and
    ``<root>/<subject>/ct.nii.gz`` (CT in HU), co-registered.
    ``ixi_t1``: IXI-style ``<root>/<subject>-T1.nii.gz``, e.g. ``IXI002-Guys-0828-T1.nii.gz``
    (subject id ``IXI002-Guys-0828``).

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
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from upgan.io.files import publish_dir
from upgan.io.nifti import NiftiVolume, VolumeError, is_nifti_path, load_header, save_nifti

logger = logging.getLogger(__name__)

LAYOUTS = ("pet_ct", "ixi_t1")
STAMP_FILE = "synthetic_cohort.json"
PET_CT_MODALITIES = ("pet", "ct")
IXI_SUFFIX = "-T1.nii.gz"
STAGING_OWNER = ".upgan-staging.json"
"""Written into a generation's staging folder: the generating process (pid, host)."""
STAGING_GRACE_S = 60.0
"""A staging folder without an owner file is stale once it is this old (seconds)."""


class CohortError(ValueError):
    """A cohort folder that does not match its layout."""


def check_layout(layout: str) -> str:
    """Return ``layout`` if known, else raise naming the known ones."""
    if layout not in LAYOUTS:
        raise CohortError(f"unknown cohort layout {layout!r}; known layouts: {', '.join(LAYOUTS)}")
    return layout


def _header_row(subject_id: str, modality: str, path: Path) -> dict[str, Any]:
    image = load_header(path)
    shape = tuple(int(s) for s in image.shape)
    if len(shape) == 4 and shape[3] == 1:
        shape = shape[:3]
    if len(shape) != 3:
        raise VolumeError(f"{path}: expected a 3D volume, got {len(shape)}D data of shape {shape}")
    affine = np.asarray(image.affine, dtype=np.float64)
    return {
        "subject_id": subject_id,
        "modality": modality,
        "path": str(path.resolve()),
        "shape": json.dumps(list(shape)),
        "affine": json.dumps(np.round(affine, 6).tolist()),
        "axcodes": "".join(nib.aff2axcodes(affine)),
    }


def discover_cohort(root: str | Path, layout: str, resample_ct_to_pet: bool = False) -> pd.DataFrame:
    """List and check the volumes of a cohort folder without loading their voxels.

    File names match in any letter case (``PET.nii.gz``, ``x-t1.NII``); hidden files and folders
    (names starting with ``.``, e.g. macOS ``._`` files) are skipped and counted in the log.

    Returns a table with one row per volume: ``subject_id, modality, path, shape, affine, axcodes``
    (shape and affine as JSON). Raises :class:`CohortError` or :class:`VolumeError` naming the
    folder or file for a missing folder, no matching files, the same volume twice (e.g. as
    ``.nii`` and ``.nii.gz``), an incomplete PET/CT pair, an unreadable header, non-3D data, or
    (unless ``resample_ct_to_pet``) a PET/CT pair whose shapes or affines differ.
    """
    check_layout(layout)
    root = Path(root)
    if not root.is_dir():
        raise CohortError(f"cohort folder {root} does not exist (layout {layout!r})")
    rows: list[dict[str, Any]] = []
    hidden = 0
    if layout == "pet_ct":
        entries, hidden = _visible(root)
        for subject in sorted(p for p in entries if p.is_dir()):
            files, n_hidden = _pet_ct_files(subject)
            hidden += n_hidden
            missing = [m for m in PET_CT_MODALITIES if m not in files]
            if len(missing) == 2:
                continue
            if missing:
                raise CohortError(
                    f"{subject}: PET/CT subject without {missing[0]}.nii.gz "
                    f"(expected {subject}/pet.nii.gz and {subject}/ct.nii.gz)"
                )
            pair = [_header_row(subject.name, m, files[m]) for m in PET_CT_MODALITIES]
            if not resample_ct_to_pet:
                _check_same_grid(subject, pair[0], pair[1])
            rows.extend(pair)
        expected = "<subject>/pet.nii.gz and <subject>/ct.nii.gz"
    else:
        entries, hidden = _visible(root)
        found: dict[str, Path] = {}
        for path in sorted(p for p in entries if p.is_file()):
            subject = _ixi_subject(path.name)
            if subject is not None:
                _add_unique(found, subject.lower(), path, f"subject {subject}")
        rows = [_header_row(_ixi_subject(p.name) or "", "t1", p) for p in found.values()]
        rows.sort(key=lambda row: row["subject_id"])
        expected = "IXI-style <subject>-T1.nii.gz files"
    if hidden:
        logger.info("Skipped %d hidden file(s) (names starting with '.') in %s", hidden, root)
    if not rows:
        raise CohortError(f"no volumes found in {root}: expected {expected} (layout {layout!r})")
    return pd.DataFrame(rows)


def _visible(folder: Path) -> tuple[list[Path], int]:
    """The entries of ``folder`` whose names do not start with '.', and how many do."""
    entries = list(folder.iterdir())
    shown = [p for p in entries if not p.name.startswith(".")]
    return shown, len(entries) - len(shown)


def _nifti_stem(name: str) -> str | None:
    """``name`` without its NIfTI suffix (any letter case), or None for other files."""
    lower = name.lower()
    for suffix in (".nii.gz", ".nii"):
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return None


def _ixi_subject(name: str) -> str | None:
    """The subject id of an IXI-style ``<subject>-T1.nii[.gz]`` name, or None."""
    stem = _nifti_stem(name)
    if stem is None or not stem.lower().endswith("-t1") or len(stem) == 3:
        return None
    return stem[:-3]


def _add_unique(found: dict[str, Path], key: str, path: Path, what: str) -> None:
    """Record ``path`` under ``key``; refuse a second file for the same ``what``."""
    if key in found:
        raise CohortError(
            f"{what} has two files, {found[key]} and {path}: keep one of them (e.g. delete the "
            ".nii or the .nii.gz copy)"
        )
    found[key] = path


def _pet_ct_files(subject: Path) -> tuple[dict[str, Path], int]:
    """The PET and CT files of a subject folder (by modality) and how many hidden files it has."""
    entries, hidden = _visible(subject)
    files: dict[str, Path] = {}
    for path in sorted(p for p in entries if p.is_file()):
        stem = _nifti_stem(path.name)
        if stem is not None and stem.lower() in PET_CT_MODALITIES:
            _add_unique(files, stem.lower(), path, f"{subject}: {stem.lower().upper()}")
    return files, hidden


def _check_same_grid(subject: Path, pet: Mapping[str, Any], ct: Mapping[str, Any]) -> None:
    if pet["shape"] != ct["shape"]:
        raise CohortError(
            f"{subject}: PET shape {pet['shape']} differs from CT shape {ct['shape']}; co-register "
            "the pair or set resample_ct_to_pet: true to resample the CT onto the PET grid"
        )
    if not np.allclose(json.loads(pet["affine"]), json.loads(ct["affine"]), atol=1e-3):
        raise CohortError(
            f"{subject}: PET and CT affines differ; co-register the pair or set "
            "resample_ct_to_pet: true to resample the CT onto the PET grid"
        )


# --------------------------------------------------------------------------------------------
# Synthetic cohorts


@dataclass(frozen=True)
class SyntheticCohortSpec:
    """What to generate: the layout, how many subjects, the simulation settings and the seed."""

    layout: str
    n_subjects: int
    seed: int
    simulation: dict[str, Any]

    def fingerprint(self) -> dict[str, Any]:
        """JSON-able identity of the cohort, stored in the stamp file."""
        return {"format": 1, **asdict(self)}


def ras_affine(shape: tuple[int, int, int], spacing_mm: tuple[float, float, float]) -> np.ndarray:
    """RAS+ affine with the given voxel size, centred on the volume's middle voxel."""
    affine = np.diag([*spacing_mm, 1.0])
    affine[:3, 3] = -np.asarray(spacing_mm) * (np.asarray(shape) - 1) / 2.0
    return affine


def ixi_orient(volume: np.ndarray, affine_ras: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Store a RAS volume the way IXI T1 arrays are laid out: axes (A->P, S->I, L->R), i.e. 'PIR'."""
    start = nib.orientations.axcodes2ornt(("R", "A", "S"))
    target = nib.orientations.axcodes2ornt(("P", "I", "R"))
    transform = nib.orientations.ornt_transform(start, target)
    data = nib.orientations.apply_orientation(volume, transform)
    affine = affine_ras @ nib.orientations.inv_ornt_aff(transform, volume.shape)
    return np.ascontiguousarray(data), affine


def _simulate_subject(spec: SyntheticCohortSpec, index: int) -> dict[str, NiftiVolume]:
    from upgan import simulation  # imported lazily: process-pool workers import it themselves

    if spec.layout == "pet_ct":
        config = simulation.PetCtSimulation(**_tuples(spec.simulation))
        volumes = simulation.simulate_pet_ct_subject(config, spec.seed, index)
        affine = ras_affine(config.shape, config.spacing_mm)
        return {
            "ct": NiftiVolume(volumes["ct"], affine),
            "pet": NiftiVolume(volumes["pet"], affine),
        }
    config = simulation.T1Simulation(**_tuples(spec.simulation))
    volumes = simulation.simulate_t1_subject(config, spec.seed, index)
    data, affine = ixi_orient(volumes["t1"], ras_affine(config.shape, config.spacing_mm))
    return {"t1": NiftiVolume(data, affine)}


def _tuples(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}


def synthetic_subject_id(layout: str, index: int) -> str:
    """Subject ids of the generated cohort: ``sub-000`` (PET/CT), ``IXI000-SYN-0000`` (IXI)."""
    return f"sub-{index:03d}" if layout == "pet_ct" else f"IXI{index:03d}-SYN-{index:04d}"


def _write_subject(spec: SyntheticCohortSpec, index: int, root: Path) -> str:
    volumes = _simulate_subject(spec, index)
    subject = synthetic_subject_id(spec.layout, index)
    if spec.layout == "pet_ct":
        for modality, volume in volumes.items():
            save_nifti(volume, root / subject / f"{modality}.nii.gz")
    else:
        save_nifti(volumes["t1"], root / f"{subject}{IXI_SUFFIX}")
    return subject


def is_synthetic_cohort(root: str | Path) -> bool:
    """True when ``root`` was written by :func:`write_synthetic_cohort`."""
    return (Path(root) / STAMP_FILE).exists()


def _staging_name(root: Path) -> re.Pattern[str]:
    """Names of the staging folders of ``root``: ``mkdtemp(prefix=".<root name>-")``."""
    return re.compile(rf"\.{re.escape(root.name)}-[a-z0-9_]{{8}}")


def _pid_alive(pid: int) -> bool:
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
    return host == socket.gethostname() and not _pid_alive(pid)


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
    check_layout(spec.layout)
    if spec.n_subjects < 1:
        raise CohortError(f"n_subjects must be >= 1, got {spec.n_subjects}")
    root = Path(root)
    remove_stale_staging(root)
    stamp = root / STAMP_FILE
    if stamp.exists():
        if json.loads(stamp.read_text()) == spec.fingerprint():
            logger.info("Reusing the synthetic %s cohort in %s", spec.layout, root)
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
        indices = range(spec.n_subjects)
        bar = tqdm(total=spec.n_subjects, desc=f"simulate {spec.layout}", disable=not progress)
        if n_workers > 1:
            with ProcessPoolExecutor(max_workers=n_workers) as pool:
                for _ in pool.map(_write_subject, [spec] * len(indices), indices, [staging] * len(indices)):
                    bar.update()
        else:
            for index in indices:
                _write_subject(spec, index, staging)
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
    logger.info("Wrote %d synthetic %s subjects to %s", spec.n_subjects, spec.layout, root)
    return root


__all__ = [
    "LAYOUTS",
    "CohortError",
    "SyntheticCohortSpec",
    "check_layout",
    "discover_cohort",
    "is_nifti_path",
    "is_synthetic_cohort",
    "ras_affine",
    "remove_stale_staging",
    "synthetic_subject_id",
    "write_synthetic_cohort",
]
