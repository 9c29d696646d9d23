"""The cohort layouts of the paper's data: PET/CT subject folders and IXI T1 files.

``pet_ct``: ``<root>/<subject>/pet.nii.gz`` (non-attenuation-corrected PET) and
``<root>/<subject>/ct.nii.gz`` (CT in HU), co-registered.
``ixi_t1``: IXI-style ``<root>/<subject>-T1.nii.gz``, e.g. ``IXI002-Guys-0828-T1.nii.gz``
(subject id ``IXI002-Guys-0828``).

File names match in any letter case; hidden entries (names starting with ``.``) are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from upgan.io.cohort import CohortError, CohortLayout, ras_affine
from upgan.io.nifti import NiftiVolume, VolumeError, load_header, save_nifti


def header_row(subject_id: str, modality: str, path: Path) -> dict[str, Any]:
    """One cohort-index row from a volume's header (no voxels are read)."""
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


def visible_entries(folder: Path) -> tuple[list[Path], int]:
    """The entries of ``folder`` whose names do not start with '.', and how many do."""
    entries = list(folder.iterdir())
    shown = [p for p in entries if not p.name.startswith(".")]
    return shown, len(entries) - len(shown)


def nifti_stem(name: str) -> str | None:
    """``name`` without its NIfTI suffix (any letter case), or None for other files."""
    lower = name.lower()
    for suffix in (".nii.gz", ".nii"):
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return None


def add_unique(found: dict[str, Path], key: str, path: Path, what: str) -> None:
    """Record ``path`` under ``key``; refuse a second file for the same ``what``."""
    if key in found:
        raise CohortError(
            f"{what} has two files, {found[key]} and {path}: keep one of them (e.g. delete the "
            ".nii or the .nii.gz copy)"
        )
    found[key] = path


def tuples(params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters with lists as tuples (as the simulation configs take them)."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}


def ixi_orient(volume: np.ndarray, affine_ras: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Store a RAS volume the way IXI T1 arrays are laid out: axes (A->P, S->I, L->R), i.e. 'PIR'."""
    start = nib.orientations.axcodes2ornt(("R", "A", "S"))
    target = nib.orientations.axcodes2ornt(("P", "I", "R"))
    transform = nib.orientations.ornt_transform(start, target)
    data = nib.orientations.apply_orientation(volume, transform)
    affine = affine_ras @ nib.orientations.inv_ornt_aff(transform, volume.shape)
    return np.ascontiguousarray(data), affine


@dataclass(frozen=True)
class PetCtLayout(CohortLayout):
    """One folder per subject holding ``pet.nii.gz`` and ``ct.nii.gz`` on the same grid."""

    name: str = "pet_ct"
    modalities: tuple[str, ...] = ("pet", "ct")
    expected: str = "<subject>/pet.nii.gz and <subject>/ct.nii.gz"

    def scan(self, root: Path, check_grids: bool = True) -> tuple[list[dict[str, Any]], int]:
        entries, hidden = visible_entries(root)
        rows: list[dict[str, Any]] = []
        for subject in sorted(p for p in entries if p.is_dir()):
            files, n_hidden = self._files(subject)
            hidden += n_hidden
            missing = [m for m in self.modalities if m not in files]
            if len(missing) == len(self.modalities):
                continue
            if missing:
                raise CohortError(
                    f"{subject}: PET/CT subject without {missing[0]}.nii.gz "
                    f"(expected {subject}/pet.nii.gz and {subject}/ct.nii.gz)"
                )
            pair = [header_row(subject.name, m, files[m]) for m in self.modalities]
            if check_grids:
                self._check_same_grid(subject, pair[0], pair[1])
            rows.extend(pair)
        return rows, hidden

    def _files(self, subject: Path) -> tuple[dict[str, Path], int]:
        """The PET and CT files of a subject folder (by modality) and its number of hidden files."""
        entries, hidden = visible_entries(subject)
        files: dict[str, Path] = {}
        for path in sorted(p for p in entries if p.is_file()):
            stem = nifti_stem(path.name)
            if stem is not None and stem.lower() in self.modalities:
                add_unique(files, stem.lower(), path, f"{subject}: {stem.lower().upper()}")
        return files, hidden

    @staticmethod
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

    def subject_id(self, index: int) -> str:
        return f"sub-{index:03d}"

    def simulation_type(self) -> type:
        from upgan.simulation import PetCtSimulation

        return PetCtSimulation

    def simulate(self, simulation: Mapping[str, Any], seed: int, index: int) -> dict[str, NiftiVolume]:
        from upgan.simulation import simulate_pet_ct_subject

        config = self.simulation_type()(**tuples(simulation))
        volumes = simulate_pet_ct_subject(config, seed, index)
        affine = ras_affine(config.shape, config.spacing_mm)
        return {"ct": NiftiVolume(volumes["ct"], affine), "pet": NiftiVolume(volumes["pet"], affine)}

    def write(self, volumes: Mapping[str, NiftiVolume], root: Path, subject: str) -> None:
        for modality, volume in volumes.items():
            save_nifti(volume, root / subject / f"{modality}.nii.gz")


@dataclass(frozen=True)
class IxiT1Layout(CohortLayout):
    """IXI-style files ``<subject>-T1.nii.gz`` in one folder, stored in IXI's 'PIR' voxel order."""

    name: str = "ixi_t1"
    modalities: tuple[str, ...] = ("t1",)
    expected: str = "IXI-style <subject>-T1.nii.gz files"
    suffix: str = "-T1"

    def scan(self, root: Path, check_grids: bool = True) -> tuple[list[dict[str, Any]], int]:
        entries, hidden = visible_entries(root)
        found: dict[str, Path] = {}
        for path in sorted(p for p in entries if p.is_file()):
            subject = self._subject(path.name)
            if subject is not None:
                add_unique(found, subject.lower(), path, f"subject {subject}")
        rows = [header_row(self._subject(p.name) or "", self.modalities[0], p) for p in found.values()]
        rows.sort(key=lambda row: row["subject_id"])
        return rows, hidden

    def _subject(self, name: str) -> str | None:
        """The subject id of an IXI-style ``<subject>-T1.nii[.gz]`` name, or None."""
        stem = nifti_stem(name)
        n = len(self.suffix)
        if stem is None or not stem.lower().endswith(self.suffix.lower()) or len(stem) == n:
            return None
        return stem[:-n]

    def subject_id(self, index: int) -> str:
        return f"IXI{index:03d}-SYN-{index:04d}"

    def simulation_type(self) -> type:
        from upgan.simulation import T1Simulation

        return T1Simulation

    def simulate(self, simulation: Mapping[str, Any], seed: int, index: int) -> dict[str, NiftiVolume]:
        from upgan.simulation import simulate_t1_subject

        config = self.simulation_type()(**tuples(simulation))
        volumes = simulate_t1_subject(config, seed, index)
        data, affine = ixi_orient(volumes["t1"], ras_affine(config.shape, config.spacing_mm))
        return {self.modalities[0]: NiftiVolume(data, affine)}

    def write(self, volumes: Mapping[str, NiftiVolume], root: Path, subject: str) -> None:
        save_nifti(volumes[self.modalities[0]], root / f"{subject}{self.suffix}.nii.gz")


PET_CT = PetCtLayout()
IXI_T1 = IxiT1Layout()
