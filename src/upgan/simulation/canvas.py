"""The head phantom's canvas: anatomical coordinates of every voxel, the label volume painted
into, and the per-subject lengths the anatomy tables (:mod:`upgan.simulation.anatomy`) are
written in.

Lengths are millimetres of a reference head in the anatomical frame (x: left->right, y:
posterior->anterior, z: inferior->superior, origin at the centre of the brain); every structure
scales them by the subject's head size ``g``. Arrays are (X, Y, Z) voxel boxes of the canvas.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np

from .head import Tissue

Box = tuple[slice, slice, slice]
Allowed = Callable[[Box, np.ndarray], np.ndarray]
"""``allowed(box, labels)``: boolean mask (of the box) of the voxels a structure may paint."""


def rotation(deg_x: float, deg_y: float, deg_z: float) -> np.ndarray:
    """Rotation matrix R = Rz @ Ry @ Rx for angles in degrees."""
    ax, ay, az = np.deg2rad([deg_x, deg_y, deg_z])
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def ellipsoid_distance(
    x: np.ndarray, y: np.ndarray, z: np.ndarray, centre: Sequence[float], semi: Sequence[float],
    power: float = 2.0,
) -> np.ndarray:
    """Approximate signed distance (mm) to an ellipsoid / superellipsoid surface (negative inside).

    Uses the first-order estimate (rho - 1) / |grad rho| with rho the normalised radius.
    """
    u = (x - centre[0]) / semi[0]
    v = (y - centre[1]) / semi[1]
    w = (z - centre[2]) / semi[2]
    if power == 2.0:
        rho = np.sqrt(u * u + v * v + w * w)
        gx, gy, gz = u / semi[0], v / semi[1], w / semi[2]
        grad = np.sqrt(gx * gx + gy * gy + gz * gz) / np.maximum(rho, 1e-6)
    else:
        p = power
        s = np.abs(u) ** p + np.abs(v) ** p + np.abs(w) ** p
        rho = s ** (1.0 / p)
        gx = np.abs(u) ** (p - 1) / semi[0]
        gy = np.abs(v) ** (p - 1) / semi[1]
        gz = np.abs(w) ** (p - 1) / semi[2]
        grad = np.sqrt(gx * gx + gy * gy + gz * gz) * np.maximum(s, 1e-12) ** (1.0 / p - 1.0)
    return ((rho - 1.0) / np.maximum(grad, 1e-6)).astype(np.float32)


@dataclass(frozen=True)
class Subject:
    """What varies between subjects (drawn by :func:`upgan.simulation.phantom.draw_subject`).

    Attributes:
        g: head size relative to the reference head.
        radii: brain half-width, half-length and height above the origin, mm.
        csf, skull, fat, scalp: layer thicknesses, mm.
        ventricles, sinuses, frontal_sinus: size factors of those cavities.
        asymmetry: relative left/right difference of the brain width.
        nasal_half_width: half-width of the nasal cavity, mm.
        voxel_inplane, voxel_max: smallest in-plane and largest voxel size, mm.
    """

    g: float
    radii: tuple[float, float, float]
    csf: float
    skull: float
    fat: float
    scalp: float
    ventricles: float
    sinuses: float
    frontal_sinus: float
    asymmetry: float
    nasal_half_width: float
    voxel_inplane: float
    voxel_max: float


@dataclass(frozen=True)
class Size:
    """A length of the reference head as the subject's length in mm:
    ``(mm + per_ventricle * ventricles) * g [* sinuses] + per_nasal * nasal_half_width +
    per_voxel * voxel_inplane``."""

    mm: float
    per_ventricle: float = 0.0
    by_sinus: bool = False
    per_nasal: float = 0.0
    per_voxel: float = 0.0

    def of(self, s: Subject) -> float:
        """The length for subject ``s`` (mm)."""
        value = (self.mm + self.per_ventricle * s.ventricles) * s.g
        value = value * (s.sinuses if self.by_sinus else 1.0)
        return value + self.per_nasal * s.nasal_half_width + self.per_voxel * s.voxel_inplane


Length = float | Size
"""A table entry: a plain number is mm of the reference head (scaled by ``g``)."""


def length(value: Length, s: Subject) -> float:
    """A table entry as the subject's length in mm."""
    return value.of(s) if isinstance(value, Size) else Size(float(value)).of(s)


def point(values: Sequence[Length], s: Subject, side: int = 1) -> tuple[float, float, float]:
    """A table point (x, y, z) for subject ``s``; ``side`` -1 mirrors it to the left."""
    x, y, z = (length(v, s) for v in values)
    return side * x, y, z


class Within(Enum):
    """Where a structure may paint."""

    ANYWHERE = "anywhere"
    WHITE_MATTER = "white matter"
    BRAIN = "grey or white matter"
    OUTSIDE_BRAIN = "outside the inner skull surface"
    OUTSIDE_MID_SKULL = "beyond the middle of the skull"

    def mask(self, canvas: Canvas, s: Subject, box: Box, labels: np.ndarray) -> np.ndarray:
        """Boolean mask (of the box) of the voxels the structure may paint."""
        if self is Within.WHITE_MATTER:
            return labels == Tissue.WHITE_MATTER
        if self is Within.BRAIN:
            return np.isin(labels, (Tissue.WHITE_MATTER, Tissue.GREY_MATTER))
        if self is Within.OUTSIDE_BRAIN:
            return canvas.brain_distance[box] > 0
        if self is Within.OUTSIDE_MID_SKULL:
            return canvas.brain_distance[box] > 0.5 * s.skull
        return np.ones(labels.shape, bool)


@dataclass(frozen=True)
class Shell:
    """A wall of ``tissue`` around a structure: ``max(min_mm, per_voxel * voxel size)`` thick."""

    tissue: Tissue
    min_mm: float
    per_voxel: float = 0.5

    def thickness(self, s: Subject) -> float:
        """Wall thickness for subject ``s`` (mm)."""
        return max(self.min_mm, self.per_voxel * s.voxel_inplane)


class Canvas:
    """Anatomical coordinates of every voxel, and the label volume structures are painted into.

    ``brain_distance`` (signed distance to the inner skull surface, mm, < 0 inside) and ``cells``
    (a fine random field for air cells and folia) are set once the layers are painted.
    """

    def __init__(self, shape: tuple[int, int, int], spacing: tuple[float, float, float],
                 rot: np.ndarray, centre_mm: np.ndarray, z_scale: float) -> None:
        self.shape = shape
        self.spacing = np.asarray(spacing, dtype=np.float64)
        self.rot = rot
        self.centre = np.asarray(centre_mm, dtype=np.float64)
        self.z_scale = z_scale
        axes = [((np.arange(n) - (n - 1) / 2.0) * s).astype(np.float32) for n, s in zip(shape, spacing, strict=True)]
        px, py, pz = np.meshgrid(*axes, indexing="ij", sparse=True)
        px, py, pz = px - self.centre[0], py - self.centre[1], pz - self.centre[2]
        r = rot.astype(np.float32)
        # anatomical = R^T (p - c); z compressed by z_scale
        self.x = (r[0, 0] * px + r[1, 0] * py + r[2, 0] * pz).astype(np.float32)
        self.y = (r[0, 1] * px + r[1, 1] * py + r[2, 1] * pz).astype(np.float32)
        self.z = ((r[0, 2] * px + r[1, 2] * py + r[2, 2] * pz) / z_scale).astype(np.float32)
        self.labels = np.zeros(shape, dtype=np.uint8)
        self.brain_distance = np.zeros((1, 1, 1), np.float32)
        self.cells = np.zeros((1, 1, 1), np.float32)

    def box(self, centre_a: Sequence[float], radius_mm: float) -> Box:
        """Voxel box (slices) that surely contains the sphere of ``radius_mm`` at an anatomical point."""
        ca = np.asarray(centre_a, dtype=np.float64).copy()
        ca[2] *= self.z_scale
        p = self.rot @ ca + self.centre
        out = []
        for k in range(3):
            n = self.shape[k]
            idx = p[k] / self.spacing[k] + (n - 1) / 2.0
            half = radius_mm / self.spacing[k] + 2
            lo, hi = int(np.floor(idx - half)), int(np.ceil(idx + half)) + 1
            out.append(slice(max(lo, 0), max(min(hi, n), 0)))
        return tuple(out)  # type: ignore[return-value]

    def coords(self, sl: Box) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Anatomical coordinates (x, y, z) of a voxel box, each an array of the box shape."""
        shp = tuple(s.stop - s.start for s in sl)
        return tuple(np.broadcast_to(a[sl], shp) for a in (self.x, self.y, self.z))  # type: ignore[return-value]

    def paint_ellipsoid(self, tissue: Tissue, centre: Sequence[float], semi: Sequence[float],
                        shell: float = 0.0, shell_tissue: Tissue | None = None,
                        allowed: Allowed | None = None, power: float = 2.0) -> None:
        """Paint an ellipsoid (optionally with a bony shell of ``shell`` mm painted first);
        ``allowed(box, labels)`` gives the voxels it may paint."""
        sl = self.box(centre, max(semi) * (1.0 if power == 2.0 else 1.75) + shell)
        if any(s.stop <= s.start for s in sl):
            return
        x, y, z = self.coords(sl)
        d = ellipsoid_distance(x, y, z, centre, semi, power)
        lab = self.labels[sl]
        mask = np.ones(lab.shape, bool) if allowed is None else allowed(sl, lab)
        if shell > 0 and shell_tissue is not None:
            lab[(d <= shell) & mask] = shell_tissue
        lab[(d <= 0) & mask] = tissue
