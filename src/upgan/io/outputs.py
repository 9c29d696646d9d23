"""The files ``upgan predict`` writes for one input volume, planned before any work and written
as a set: all of them or none.

Each output is marked in its NIfTI header (``descrip`` starts with :data:`OUTPUT_MARK`), so a
later run over the same folder recognises its own outputs and does not translate them again;
outputs written before the mark existed are recognised by their name beside their source.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib

from upgan.io.files import TEMP_PREFIX, publish_dir
from upgan.io.nifti import NiftiVolume, save_nifti

OUTPUT_MARK = "upgan predict"
"""Start of the NIfTI ``descrip`` field of every output (at most 80 bytes in the header)."""

_OUTPUT_SUFFIX = re.compile(r"^(?P<stem>.+)_(?:ct|t1|sigma|sigma_phase\d+)\.nii(?:\.gz)?$", re.IGNORECASE)


class OutputExistsError(ValueError):
    """An output file is already there and ``--overwrite`` was not given."""


class OutputWriteError(ValueError):
    """The outputs of a volume could not be written (disk full, no permission...); none were."""


def output_stem(path: Path) -> str:
    """``scan.nii.gz`` -> ``scan``."""
    name = path.name
    return name[: -len(".nii.gz")] if name.lower().endswith(".nii.gz") else name[: -len(".nii")]


def is_marked_output(path: Path) -> bool:
    """Whether the NIfTI header of ``path`` says that ``upgan predict`` wrote it."""
    try:
        header = nib.load(str(path)).header
        text = bytes(header["descrip"].item()).decode("ascii", "replace") if "descrip" in header else ""
    except Exception:  # unreadable files are reported later, when they are loaded as inputs
        return False
    return text.startswith(OUTPUT_MARK)


def is_output_of(path: Path, siblings: set[str]) -> bool:
    """Whether ``path`` is an output of ``upgan predict``: marked so in its header, or named
    ``<stem>_<target|sigma|sigma_phase<m>>.nii.gz`` beside an input ``<stem>.nii[.gz]``."""
    match = _OUTPUT_SUFFIX.match(path.name)
    if match and match["stem"].lower() in siblings:
        return True
    return is_marked_output(path)


def split_outputs(files: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """``files`` of one folder split into (inputs, earlier outputs of upgan predict)."""
    stems = {output_stem(p).lower() for p in files}
    outputs = [p for p in files if is_output_of(p, stems - {output_stem(p).lower()})]
    return [p for p in files if p not in outputs], outputs


@dataclass(frozen=True)
class OutputSet:
    """The outputs of one input volume: file name -> path, written together."""

    source: Path
    paths: dict[str, Path]


def plan_outputs(sources: Sequence[Path], output_dir: Path, names: Sequence[str],
                 overwrite: bool) -> list[OutputSet]:
    """The output files of every source (``<stem><name>`` for each of ``names``, e.g.
    ``_ct.nii.gz``), refusing two sources that would write the same file (``scan.nii`` and
    ``scan.nii.gz``), an output that would replace one of the sources, and, unless
    ``overwrite``, outputs that already exist."""
    plans, owner = [], {}
    inputs = {p.resolve() for p in sources}
    for source in sources:
        paths = {name: output_dir / f"{output_stem(source)}{name}" for name in names}
        for path in paths.values():
            key = str(path).lower()
            if key in owner:
                raise ValueError(f"{owner[key]} and {source} would both be written to {path.name}: rename one "
                                 "of them or translate them into different output folders")
            owner[key] = source
            if path.resolve() in inputs:
                raise ValueError(f"{path} is an input and would be overwritten by an output: use another "
                                 "output folder")
        plans.append(OutputSet(source, paths))
    if not overwrite:
        existing = [p for plan in plans for p in plan.paths.values() if p.exists()]
        if existing:
            more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
            raise OutputExistsError(f"{existing[0]}{more} already exist: give --overwrite to replace them, "
                                    "or another output folder")
    return plans


def _marked(volume: NiftiVolume, what: str) -> NiftiVolume:
    header = volume.header.copy() if volume.header is not None else nib.Nifti1Header()
    header["descrip"] = f"{OUTPUT_MARK}: {what}"[:79].encode("ascii", "replace")
    return NiftiVolume(volume.data, volume.affine, header)


def write_output_set(plan: OutputSet, volumes: Mapping[str, NiftiVolume], descriptions: Mapping[str, str]) -> list[Path]:
    """Write every output of ``plan`` (``volumes``: name -> volume) into a hidden staging folder
    beside them, then rename each into place: either every file of the set is new, or (on any
    error while writing) the folder is as it was. A full disk, a missing permission or another
    OS error is one :class:`OutputWriteError` naming the volume and the folder."""
    folder = next(iter(plan.paths.values())).parent
    staging = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}predict-", dir=folder))
        publish_dir(staging)
        staged = {name: save_nifti(_marked(volumes[name], descriptions[name]), staging / plan.paths[name].name)
                  for name in plan.paths}
        for name, path in staged.items():
            os.replace(path, plan.paths[name])
    except OSError as err:
        what = ("the disk is full" if err.errno in (errno.ENOSPC, errno.EDQUOT)
                else err.strerror or str(err))
        raise OutputWriteError(f"cannot write the outputs of {plan.source} into {folder}: {what}; none of "
                               "this volume's outputs were written (free space or choose another folder, "
                               "then run again)") from err
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return list(plan.paths.values())
