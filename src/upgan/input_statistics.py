"""What a model's training inputs looked like, recorded in its bundle, and how far a new input is
from it (``upgan predict`` refuses an input of another kind and warns about odd geometry).

Recorded per training volume, on the raw input files: the intensity histogram on the scale the
model sees (the volume divided by its robust maximum, :class:`~upgan.preparation.PercentileScale`;
foreground voxels above :data:`FOREGROUND`), that robust maximum in the file's units, the voxel
size and the shape. The distance between two histograms is the total variation distance (half
the L1 distance of the bin shares, 0 = same distribution, 1 = disjoint). On the embedded cohort
a PET volume lies 0.03-0.10 from the mean PET histogram and a T1 volume 0.42-0.50 from it (a CT
0.57-0.64); a T1 lies 0.05-0.13 from the mean T1 histogram.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from upgan.io.nifti import NiftiVolume
from upgan.preparation import PercentileScale

EDGES = np.linspace(0.0, 1.5, 31)
"""Histogram bins on the normalised scale (robust maximum = 1)."""
FOREGROUND = 0.05
"""Voxels at or below this share of the robust maximum are background (air), left out."""
REFUSE_DISTANCE = 0.3
"""An input whose histogram lies farther than this (or twice the farthest training volume) from
the training mean is refused: it is another kind of image."""
WARN_FACTOR = 2.0
"""Voxel size or shape outside [range / factor, range * factor] of the training volumes: warning."""
KEY = "input_statistics"
"""Key of the record in a bundle's config."""


@dataclass(frozen=True)
class InputStatistics:
    """Summary of a model's training inputs (JSON-able through :meth:`to_dict`).

    Attributes:
        histogram: mean share of foreground voxels per bin of :data:`EDGES`.
        max_distance: largest distance of a training volume's histogram from ``histogram``.
        scale_range: smallest and largest robust maximum (file units) of the training volumes.
        spacing_range: per axis (sorted sizes), smallest and largest voxel size in mm.
        shape_range: per axis (sorted), smallest and largest number of voxels.
        n_volumes: training volumes summarised.
    """

    histogram: list[float]
    max_distance: float
    scale_range: tuple[float, float]
    spacing_range: list[tuple[float, float]]
    shape_range: list[tuple[int, int]]
    n_volumes: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (stored in the bundle's config under :data:`KEY`)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> InputStatistics:
        """Inverse of :meth:`to_dict`."""
        return cls(list(values["histogram"]), float(values["max_distance"]), tuple(values["scale_range"]),
                   [tuple(v) for v in values["spacing_range"]], [tuple(v) for v in values["shape_range"]],
                   int(values["n_volumes"]))


def histogram(data: np.ndarray, percentile: float) -> tuple[np.ndarray, float]:
    """Shares of the foreground voxels of ``data`` per bin of :data:`EDGES` on the normalised
    scale, and the robust maximum used to normalise."""
    scale = PercentileScale(percentile).scale_of(np.asarray(data, dtype=np.float32))
    x = np.asarray(data, dtype=np.float32) / scale if scale > 0 else np.asarray(data, dtype=np.float32)
    fg = np.clip(x[x > FOREGROUND], 0.0, EDGES[-1] - 1e-6)
    counts, _ = np.histogram(fg, EDGES)
    return counts / max(int(counts.sum()), 1), float(scale)


def distance(a: Iterable[float], b: Iterable[float]) -> float:
    """Total variation distance between two histograms of bin shares."""
    return 0.5 * float(np.abs(np.asarray(list(a), float) - np.asarray(list(b), float)).sum())


def record_input_statistics(volumes: Iterable[NiftiVolume], percentile: float) -> InputStatistics:
    """The statistics of the training input ``volumes`` (raw files, any orientation)."""
    hists, scales, spacings, shapes = [], [], [], []
    for volume in volumes:
        h, scale = histogram(volume.data, percentile)
        hists.append(h)
        scales.append(scale)
        spacings.append(sorted(volume.spacing_mm))
        shapes.append(sorted(int(s) for s in volume.data.shape))
    if not hists:
        raise ValueError("no training volumes to record input statistics from")
    mean = np.mean(hists, axis=0)
    return InputStatistics(
        histogram=[round(float(v), 6) for v in mean],
        max_distance=round(max(distance(h, mean) for h in hists), 6),
        scale_range=(float(min(scales)), float(max(scales))),
        spacing_range=[(float(lo), float(hi)) for lo, hi in zip(np.min(spacings, 0), np.max(spacings, 0), strict=True)],
        shape_range=[(int(lo), int(hi)) for lo, hi in zip(np.min(shapes, 0), np.max(shapes, 0), strict=True)],
        n_volumes=len(hists),
    )


def refuse_distance(stats: InputStatistics) -> float:
    """Histogram distance above which an input is refused for these training inputs."""
    return max(REFUSE_DISTANCE, 2.0 * stats.max_distance)


def compare(stats: InputStatistics, volume: NiftiVolume, percentile: float) -> tuple[str | None, list[str]]:
    """``(reason to refuse or None, warnings)`` for ``volume`` against the training inputs."""
    h, scale = histogram(volume.data, percentile)
    d = distance(h, stats.histogram)
    refusal = None
    if d > refuse_distance(stats):
        refusal = (f"its intensity histogram is {d:.2f} away from the model's training inputs (total "
                   f"variation; training volumes lie within {stats.max_distance:.2f}, refused above "
                   f"{refuse_distance(stats):.2f}): it looks like another kind of image")
    warnings = []
    lo, hi = stats.scale_range
    if not lo / 10 <= scale <= hi * 10:
        warnings.append(f"its intensities (robust maximum {scale:.4g}) are on another scale than the training "
                        f"inputs' ({lo:.4g} … {hi:.4g}): other units?")
    for what, own, ranges, unit in (("voxel size", sorted(volume.spacing_mm), stats.spacing_range, " mm"),
                                    ("shape", sorted(volume.data.shape), stats.shape_range, "")):
        if any(not a / WARN_FACTOR <= v <= b * WARN_FACTOR for v, (a, b) in zip(own, ranges, strict=True)):
            warnings.append(f"its {what} {tuple(round(float(v), 3) for v in own)}{unit} differs strongly from the "
                            f"training inputs' ({', '.join(f'{a:g}…{b:g}' for a, b in ranges)}{unit})")
    return refusal, warnings


MAX_VOLUMES = 16
"""Training volumes read for the record (the first in the manifest's order): enough for the
ranges, bounded time for large cohorts."""


def statistics_of_subjects(volume_manifest: pd.DataFrame, subjects: Iterable[str],
                           preparation: Mapping[str, Any]) -> InputStatistics:
    """The statistics of the input files (``input_path``) of ``subjects`` in a task's volume
    manifest (at most :data:`MAX_VOLUMES`), normalised with ``preparation.percentile``."""
    from upgan.io.nifti import load_nifti
    from upgan.preparation import PreparationConfig

    wanted = set(subjects)
    rows = volume_manifest[volume_manifest["subject_id"].isin(wanted)].head(MAX_VOLUMES)
    percentile = PreparationConfig.from_params(dict(preparation)).percentile
    return record_input_statistics((load_nifti(path) for path in rows["input_path"]), percentile)
