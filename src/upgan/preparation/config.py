"""The ``preparation`` parameters of a task, checked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from upgan.preparation.normalisation import DEFAULT_HU_WINDOW


@dataclass(frozen=True)
class PreparationConfig:
    """How volumes become training slices (the ``preparation`` block of a task's parameters).

    Attributes:
        slice_size: in-plane size S of the square axial slices fed to the networks.
        min_foreground: a slice is kept when at least this fraction of its target is head.
        axial_range: keep only slices whose relative height in the volume lies in this range.
        hu_window: CT window mapped to [0, 1] (invertible).
        percentile: robust maximum of PET and T1 volumes (see :class:`PercentileScale`).
        resample_ct_to_pet: resample each target onto its input's grid (a CT onto its PET) instead
            of requiring equal grids.
        undersampling: ``mode`` (``central`` or ``upgan_code``), ``fraction``, ``upgan_af`` and
            ``phase_encode_axis`` (of the (S, S) slice; 1 = anterior-posterior).
        motion: TorchIO RandomMotion settings ``degrees``, ``translation_mm``, ``num_transforms``.
    """

    slice_size: int = 64
    min_foreground: float = 0.05
    axial_range: tuple[float, float] = (0.0, 1.0)
    hu_window: tuple[float, float] = DEFAULT_HU_WINDOW
    percentile: float = 99.5
    resample_ct_to_pet: bool = False
    undersampling: Mapping[str, Any] = field(
        default_factory=lambda: {"mode": "central", "fraction": 0.08, "upgan_af": 12,
                                 "phase_encode_axis": 1}
    )
    motion: Mapping[str, Any] = field(
        default_factory=lambda: {"degrees": 10.0, "translation_mm": 2.0, "num_transforms": 3}
    )

    def __post_init__(self) -> None:
        if self.slice_size < 8:
            raise ValueError(f"preparation.slice_size must be >= 8, got {self.slice_size}")
        if not 0.0 <= self.min_foreground < 1.0:
            raise ValueError(f"preparation.min_foreground must be in [0, 1), got {self.min_foreground}")
        lo, hi = self.axial_range
        if not 0.0 <= lo < hi <= 1.0:
            raise ValueError(f"preparation.axial_range must satisfy 0 <= lo < hi <= 1, got {lo, hi}")

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> PreparationConfig:
        """Build from a parameters dict, rejecting unknown keys by name."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(f"unknown preparation parameter(s) {unknown}; known: {sorted(known)}")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
        return cls(**values)
