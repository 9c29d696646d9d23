"""The kinds of structure the anatomy tables (:mod:`upgan.simulation.anatomy`) are made of; each
paints itself onto a :class:`~upgan.simulation.canvas.Canvas` for one subject.

Lengths are millimetres of the reference head, scaled by the subject's head size ``g`` (see
:mod:`upgan.simulation.canvas`); ``side`` -1 paints the left one of a pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Protocol

import numpy as np

from .canvas import (
    Allowed,
    Canvas,
    Length,
    Shell,
    Subject,
    Within,
    ellipsoid_distance,
    length,
    point,
)
from .head import Tissue


class Structure(Protocol):
    """A row of the anatomy tables: a named structure that paints itself for one subject."""

    name: str

    def paint(self, canvas: Canvas, s: Subject, side: int = 1) -> None:
        """Paint it for subject ``s`` (``side`` -1: the left one of a pair)."""


@dataclass(frozen=True)
class Ellipsoid:
    """One (super)ellipsoid of ``tissue``, optionally inside a wall (``shell``)."""

    name: str
    tissue: Tissue
    centre: tuple[Length, Length, Length]
    semi: tuple[Length, Length, Length]
    within: Within | None = None
    shell: Shell | None = None
    power: float = 2.0

    def paint(self, canvas: Canvas, s: Subject, side: int = 1) -> None:
        """Paint it for subject ``s`` (``side`` -1: the left one of a pair)."""
        allowed: Allowed | None = None if self.within is None else partial(self.within.mask, canvas, s)
        shell = self.shell.thickness(s) if self.shell is not None else 0.0
        canvas.paint_ellipsoid(self.tissue, point(self.centre, s, side), point(self.semi, s),
                               shell=shell, shell_tissue=self.shell.tissue if self.shell else None,
                               allowed=allowed, power=self.power)


@dataclass(frozen=True)
class Pair:
    """Structures of both sides: all of the left side, then all of the right side."""

    name: str
    parts: tuple[Structure, ...]

    def paint(self, canvas: Canvas, s: Subject, side: int = 1) -> None:
        """Paint every part on the left (x < 0), then on the right."""
        for sx in (-1, 1):
            for part in self.parts:
                part.paint(canvas, s, sx)


@dataclass(frozen=True)
class AirCells:
    """A honeycomb: an ellipsoid of ``bone`` whose voxels where the fine random field exceeds
    ``air_above`` are air (mastoid, ethmoid cells)."""

    name: str
    bone: Tissue
    centre: tuple[Length, Length, Length]
    semi: tuple[Length, Length, Length]
    box_radius: Length
    air_above: float
    within: Within = Within.ANYWHERE
    power: float = 2.0

    def paint(self, canvas: Canvas, s: Subject, side: int = 1) -> None:
        """Paint the bone, then its air cells."""
        centre = point(self.centre, s, side)
        sl = canvas.box(centre, length(self.box_radius, s))
        xs, ys, zs = canvas.coords(sl)
        d = ellipsoid_distance(xs, ys, zs, centre, point(self.semi, s), power=self.power)
        lab = canvas.labels[sl]
        inside = (d <= 0) & self.within.mask(canvas, s, sl, lab)
        lab[inside] = self.bone
        lab[inside & (canvas.cells[sl] > self.air_above)] = Tissue.SINUS_AIR


@dataclass(frozen=True)
class TiltedEllipsoid:
    """An ellipsoid turned about the vertical axis by ``angle_deg`` (towards the midline on
    each side), e.g. the petrous bone."""

    name: str
    tissue: Tissue
    centre: tuple[float, float, float]
    semi: tuple[float, float, float]
    angle_deg: float
    box_radius: float

    def paint(self, canvas: Canvas, s: Subject, side: int = 1) -> None:
        """Paint it for subject ``s``."""
        g = s.g
        ang = np.deg2rad(self.angle_deg)
        cx0, cy0, cz0 = point(self.centre, s, side)
        sl = canvas.box((cx0, cy0, cz0), self.box_radius * g)
        xs, ys, zs = canvas.coords(sl)
        a1 = (xs - cx0) * np.cos(ang) * side + (ys - cy0) * np.sin(ang)
        a2 = -(xs - cx0) * np.sin(ang) * side + (ys - cy0) * np.cos(ang)
        e = (a1 / (self.semi[0] * g)) ** 2 + (a2 / (self.semi[1] * g)) ** 2 \
            + ((zs - cz0) / (self.semi[2] * g)) ** 2
        canvas.labels[sl][e <= 1.0] = self.tissue


@dataclass(frozen=True)
class Canal:
    """A horizontal air canal of fixed radii (mm) running outwards from ``start_x`` (ear canal);
    it replaces tissue only, never the air around the head."""

    name: str
    centre: tuple[float, float, float]
    radii_mm: tuple[float, float]
    start_x: float
    box_radius: float

    def paint(self, canvas: Canvas, s: Subject, side: int = 1) -> None:
        """Paint it for subject ``s``."""
        g = s.g
        cx, cy, cz = point(self.centre, s, side)
        sl = canvas.box((cx, cy, cz), self.box_radius * g)
        xs, ys, zs = canvas.coords(sl)
        canal = (xs * side > self.start_x * g) & (
            ((ys - cy) / self.radii_mm[0]) ** 2 + ((zs - cz) / self.radii_mm[1]) ** 2 <= 1.0)
        lab = canvas.labels[sl]
        lab[canal & (lab != Tissue.AIR)] = Tissue.SINUS_AIR


@dataclass(frozen=True)
class SpinalColumn:
    """The brainstem and medulla leaving through the foramen magnum in a CSF sleeve, and below the
    skull the vertebral ring (cortical, with a cancellous band) around the canal.

    The canal is an elliptic cylinder of ``radii`` whose centre moves backwards by ``tilt`` mm per
    mm below ``tilt_from``; ring radii are squared multiples of the canal's (``ring``, ``marrow``).
    """

    name: str
    box_centre: tuple[float, float, float]
    box_radius: float
    centre_y: float
    tilt: float
    tilt_from: float
    radii: tuple[float, float]
    csf_min_mm: float
    stem_top: float
    neck_top: float
    ring: float
    marrow: tuple[float, float]

    def paint(self, canvas: Canvas, s: Subject, side: int = 1) -> None:
        """Paint it for subject ``s``."""
        g = s.g
        sl = canvas.box(point(self.box_centre, s), self.box_radius * g)
        xs, ys, zs = canvas.coords(sl)
        yc = -self.centre_y * g - self.tilt * np.clip(-zs - self.tilt_from * g, 0, None)
        r2 = (xs / (self.radii[0] * g)) ** 2 + ((ys - yc) / (self.radii[1] * g)) ** 2
        sleeve = (1.0 + max(self.csf_min_mm, s.voxel_inplane) / (self.radii[1] * g)) ** 2
        stem = zs < self.stem_top * g
        ls = canvas.labels[sl]
        ls[stem & (r2 <= sleeve)] = Tissue.CSF
        ls[stem & (r2 <= 1.0)] = Tissue.WHITE_MATTER
        ring = (zs < self.neck_top * g) & (r2 > sleeve) & (r2 <= self.ring)
        ls[ring] = Tissue.CORTICAL_BONE
        ls[ring & (r2 > self.marrow[0]) & (r2 <= self.marrow[1])] = Tissue.CANCELLOUS_BONE


@dataclass(frozen=True)
class Turbinate:
    """One nasal turbinate: its height ``z`` and half-height ``half_height`` (mm)."""

    z: float
    half_height: float


@dataclass(frozen=True)
class NasalInterior:
    """The septum and the turbinates (a bone core under mucosa) inside the air of ``cavity``."""

    name: str
    cavity: Ellipsoid
    box_radius: float
    septum_min_mm: float
    turbinates: tuple[Turbinate, ...]
    inset: float
    centre_y: float
    mucosa_semi: tuple[float, float]
    core_semi_y: float
    core_min_mm: float

    def paint(self, canvas: Canvas, s: Subject, side: int = 1) -> None:
        """Paint it for subject ``s``."""
        g, vox_in, nw = s.g, s.voxel_inplane, s.nasal_half_width
        nc = point(self.cavity.centre, s)
        sl = canvas.box(nc, self.box_radius * g)
        xs, ys, zs = canvas.coords(sl)
        ln = canvas.labels[sl]
        in_cav = ln == Tissue.SINUS_AIR
        dcav = ellipsoid_distance(xs, ys, zs, nc, point(self.cavity.semi, s), power=self.cavity.power)
        cav = in_cav & (dcav <= 0)
        ln[cav & (np.abs(xs) <= max(self.septum_min_mm, 0.5 * vox_in))] = Tissue.NASAL_BONE
        for sx in (-1, 1):
            for t in self.turbinates:
                cx = sx * (nw - self.inset * g)
                e_out = ((xs - cx) / (self.mucosa_semi[0] * g)) ** 2 \
                    + ((ys - self.centre_y * g) / (self.mucosa_semi[1] * g)) ** 2 \
                    + ((zs - t.z * g) / (t.half_height * g)) ** 2
                ln[cav & (e_out <= 1.0)] = Tissue.SCALP
                e_in = ((xs - cx) / max(1.0 * g, 0.5 * vox_in)) ** 2 \
                    + ((ys - self.centre_y * g) / (self.core_semi_y * g)) ** 2 \
                    + ((zs - t.z * g) / max(t.half_height * g - self.core_min_mm, 0.5 * vox_in)) ** 2
                ln[cav & (e_in <= 1.0)] = Tissue.NASAL_BONE


@dataclass(frozen=True)
class FrontalSinus:
    """An air cell inside a local thickening of the frontal bone, present when the subject's
    frontal-sinus factor exceeds ``present_above``; its depth follows the skull thickness."""

    name: str
    present_above: float
    height: float
    semi_x: float
    semi_z: float
    depth: float
    min_depth_mm: float
    shell: Shell

    def paint(self, canvas: Canvas, s: Subject, side: int = 1) -> None:
        """Paint it for subject ``s`` (if present)."""
        f, g = s.frontal_sinus, s.g
        if f <= self.present_above:
            return
        centre = (0, s.radii[1] + s.skull * self.depth, self.height * g)
        semi = (self.semi_x * g * f, max(self.min_depth_mm, s.skull * self.depth), self.semi_z * g * f)
        canvas.paint_ellipsoid(Tissue.SINUS_AIR, centre, semi, shell=self.shell.thickness(s),
                               shell_tissue=self.shell.tissue,
                               allowed=lambda box, labels: canvas.brain_distance[box] > 0)


@dataclass(frozen=True)
class DentalArch:
    """Teeth in a U-shaped arch of alveolar bone under the palate: an elliptic ring of ``radii``
    centred ``centre_y`` forward, in front of ``front_y``, between the heights ``z_range``."""

    name: str
    box_centre: tuple[float, float, float]
    box_radius: float
    radii: tuple[float, float]
    centre_y: float
    front_y: float
    z_range: tuple[float, float]
    bone_half_width: float
    teeth_half_width: float
    teeth_bottom: float

    def paint(self, canvas: Canvas, s: Subject, side: int = 1) -> None:
        """Paint it for subject ``s``."""
        g = s.g
        sl = canvas.box(point(self.box_centre, s), self.box_radius * g)
        xs, ys, zs = canvas.coords(sl)
        re = np.sqrt((xs / (self.radii[0] * g)) ** 2 + ((ys - self.centre_y * g) / (self.radii[1] * g)) ** 2)
        arch = (ys > self.front_y * g) & (zs < self.z_range[1] * g) & (zs > self.z_range[0] * g)
        lab = canvas.labels[sl]
        lab[arch & (np.abs(re - 1.0) < self.bone_half_width)] = Tissue.CANCELLOUS_BONE
        lab[arch & (np.abs(re - 1.0) < self.teeth_half_width) & (zs > self.teeth_bottom * g)] = Tissue.TEETH
