"""The head phantom's anatomy as data: how subjects vary, the nested layers from the scalp to the
white matter, and every structure painted over them, in painting order.

Lengths are millimetres of the reference head (x: left->right, y: posterior->anterior, z:
inferior->superior, origin at the centre of the brain), scaled per subject by the head size ``g``
(:class:`~upgan.simulation.canvas.Size` adds the ventricle, sinus and voxel-size terms).
"""

from __future__ import annotations

from dataclasses import dataclass

from .canvas import Shell, Size, Within
from .head import Tissue
from .shapes import (
    AirCells,
    Canal,
    DentalArch,
    Ellipsoid,
    FrontalSinus,
    NasalInterior,
    Pair,
    SpinalColumn,
    TiltedEllipsoid,
    Turbinate,
)

# ---- how subjects vary ------------------------------------------------------------------------


@dataclass(frozen=True)
class Jitter:
    """A reference value times a uniform factor in [low, high] (and the head size ``g``)."""

    mm: float
    low: float
    high: float


@dataclass(frozen=True)
class Thickness:
    """A layer thickness drawn uniformly in [low, high] mm (times ``g`` when ``scales``), kept at
    least ``min_voxels`` in-plane voxels thick."""

    low: float
    high: float
    min_voxels: float
    scales: bool = False


HEAD_SIZE_SD, HEAD_SIZE_RANGE = 0.045, (0.9, 1.1)
POSE_SHIFT_MM = 4.0
POSE_ANGLES_DEG = (6.0, 3.0, 4.0)
BRAIN_RADII = (Jitter(67.0, 0.95, 1.05), Jitter(82.0, 0.96, 1.04), Jitter(62.0, 0.94, 1.06))
"""Brain half-width (x), half-length (y) and height above the origin (z)."""
THICKNESS = {
    "csf": Thickness(1.5, 3.5, 0.35),
    "skull": Thickness(5.0, 8.0, 1.25, scales=True),
    "fat": Thickness(1.5, 3.5, 0.6),
    "scalp": Thickness(3.5, 6.0, 0.8),
}
FACTORS = {"ventricles": (0.7, 1.5), "sinuses": (0.7, 1.25), "frontal_sinus": (0.3, 1.3),
           "asymmetry": (-0.03, 0.03)}
NASAL_HALF_WIDTH = 10.0
Z_BOTTOM_MM = 88.0
"""Extent below the origin (palate) that must fit in z with the vertex."""
NOISE_CORRELATION_MM = {"shape": 40.0, "gyri": 9.0, "skull": 30.0, "cells": 5.0}
"""Smooth random fields, drawn in this order: surface shape, cortex thickness, skull thickness,
and a fine field for air cells and cerebellar folia."""

# ---- nested layers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layers:
    """The layers painted from the outside in (see :func:`upgan.simulation.phantom.paint_layers`).

    Attributes:
        inferior_profile: (y / brain half-length, mm) points of the brain's lower surface depth.
        roughness: relative amplitude of the surface-shape field.
        face, nose: the face/neck envelope below the brain and the nose.
        skin: skin thickness over the face; ``face_fat_extra`` widens the face's fat rim.
        temporalis: (z, z width, y, y width, thickness) of the thicker muscle on the skull's sides.
        skull_variation, table_max, table_fraction: skull thickness field amplitude, and the
            inner/outer tables' largest thickness and share of the skull.
        cortex, cortex_folding: grey matter thickness and its amplitude over the gyri field.
        sulci: (largest in-plane voxel, |field| band, depth) of the CSF sulci.
        fissure: (bottom z, medial-cortex bottom z, y extent, medial cortex width) of the
            interhemispheric fissure; ``fissure_min`` its smallest half-width.
        cerebellum: (y extent, top z, folia threshold) of the posterior fossa's folia.
        tentorium: (z, slope, smallest half-thickness) of the CSF sheet over the cerebellum.
    """

    inferior_profile: tuple[tuple[float, float], ...]
    roughness: float
    face: Ellipsoid
    nose: Ellipsoid
    skin: Shell
    face_fat_extra: float
    temporalis: tuple[float, float, float, float, float]
    skull_variation: float
    table_max: float
    table_fraction: float
    cortex: float
    cortex_folding: float
    sulci: tuple[float, float, float]
    fissure: tuple[float, float, float, float]
    fissure_min: float
    cerebellum: tuple[float, float, float]
    tentorium: tuple[float, float, float]


LAYERS = Layers(
    inferior_profile=((-1.0, 48), (-0.25, 48), (0.05, 42), (0.3, 40), (0.45, 23), (1.0, 22)),
    roughness=0.015,
    face=Ellipsoid("face and neck", Tissue.SCALP, (0, 8, -92), (60, 84, 78)),
    nose=Ellipsoid("nose", Tissue.SCALP, (0, 92, -52), (11, 17, 24)),
    skin=Shell(Tissue.SCALP, 1.5),
    face_fat_extra=1.0,
    temporalis=(-5.0, 22.0, 8.0, 32.0, 4.0),
    skull_variation=0.15,
    table_max=1.8,
    table_fraction=3.0,
    cortex=2.5,
    cortex_folding=2.2,
    sulci=(2.5, 0.12, 9.0),
    fissure=(18.0, 22.0, 0.9, 3.0),
    fissure_min=1.0,
    cerebellum=(0.3, 14.0, -0.3),
    tentorium=(12.0, 0.15, 1.0),
)

# ---- structures, in painting order ----------------------------------------------------------------

NASAL_CAVITY = Ellipsoid("nasal cavity", Tissue.SINUS_AIR, (0, 60, -60), (Size(0.0, per_nasal=1.0), 30, 21),
                         within=Within.OUTSIDE_MID_SKULL, shell=Shell(Tissue.NASAL_BONE, 1.5), power=4.0)
WALL = Shell(Tissue.NASAL_BONE, 1.5)

STRUCTURES = (
    Pair("deep grey matter", (
        Ellipsoid("putamen", Tissue.GREY_MATTER, (22, 8, 2), (6, 15, 10), within=Within.WHITE_MATTER),
        Ellipsoid("caudate", Tissue.GREY_MATTER, (11, 14, 12), (5, 11, 7), within=Within.WHITE_MATTER),
        Ellipsoid("thalamus", Tissue.GREY_MATTER, (10, -10, 2), (8, 13, 9), within=Within.WHITE_MATTER),
    )),
    Pair("lateral ventricles", (
        Ellipsoid("ventricle body", Tissue.VENTRICLE, (Size(4.0, per_ventricle=2.5), 2, 14),
                  (Size(0.0, per_ventricle=4.0), 27, Size(0.0, per_ventricle=7.0)), within=Within.BRAIN),
        Ellipsoid("ventricle trigone", Tissue.VENTRICLE, (Size(14.0, per_ventricle=2.0), -24, 6),
                  (Size(0.0, per_ventricle=3.0), 10, Size(0.0, per_ventricle=8.0)), within=Within.BRAIN),
    )),
    Ellipsoid("third ventricle", Tissue.VENTRICLE, (0, -6, 0),
              (Size(0.0, per_ventricle=1.2, per_voxel=0.4), 12, 8), within=Within.BRAIN),
    SpinalColumn("brainstem and cervical spine", box_centre=(0, -16, -70), box_radius=90, centre_y=10.0,
                 tilt=0.25, tilt_from=10.0, radii=(11.0, 10.0), csf_min_mm=3.0, stem_top=-8.0,
                 neck_top=-62.0, ring=2.6, marrow=(1.75, 2.2)),
    Ellipsoid("vertebral body", Tissue.CANCELLOUS_BONE, (0, 12, -95), (14, 11, 22),
              shell=Shell(Tissue.CORTICAL_BONE, 1.5)),
    Ellipsoid("clivus", Tissue.CANCELLOUS_BONE, (0, 12, -40), (14, 17, 13),
              shell=Shell(Tissue.CORTICAL_BONE, 2.0, per_voxel=0.6)),
    Ellipsoid("sphenoid sinus", Tissue.SINUS_AIR, (0, 16, -40),
              (Size(10.0, by_sinus=True), 11, Size(9.0, by_sinus=True))),
    Ellipsoid("pharynx", Tissue.SCALP, (0, 24, -85), (20, 12, 30), within=Within.OUTSIDE_BRAIN),
    Ellipsoid("pharyngeal airway", Tissue.SINUS_AIR, (0, 26, -80), (12, 6, 26), within=Within.OUTSIDE_BRAIN),
    Pair("ears", (
        TiltedEllipsoid("petrous bone", Tissue.PETROUS_BONE, (30.0, -8.0, -38.0), (24.0, 7.0, 8.0),
                        angle_deg=40.0, box_radius=30.0),
        AirCells("mastoid", Tissue.CANCELLOUS_BONE, (46, -24, -44), (9, 10, 12), box_radius=16, air_above=0.2),
        Canal("ear canal", (60.0, -10.0, -40.0), radii_mm=(4.0, 4.5), start_x=44.0, box_radius=25.0),
    )),
    Pair("orbits and maxillary sinuses", (
        Ellipsoid("orbit", Tissue.FAT, (31, 56, -32), (14, 20, 13), within=Within.OUTSIDE_MID_SKULL, shell=WALL),
        Ellipsoid("eye", Tissue.EYE, (32, 70, -32), (12, 12, 12)),
        Ellipsoid("maxillary sinus", Tissue.SINUS_AIR, (Size(17.0, per_nasal=1.0), 52, -64),
                  (Size(13.0, by_sinus=True), Size(16.0, by_sinus=True), Size(15.0, by_sinus=True)),
                  within=Within.OUTSIDE_MID_SKULL, shell=WALL),
    )),
    NASAL_CAVITY,
    AirCells("ethmoid cells", Tissue.NASAL_BONE, (0, 56, -34), (11, 18, 8), box_radius=24, air_above=-0.4,
             within=Within.OUTSIDE_BRAIN, power=4.0),
    NasalInterior("septum and turbinates", NASAL_CAVITY, box_radius=40.0, septum_min_mm=1.0,
                  turbinates=(Turbinate(-72.0, 4.5), Turbinate(-58.0, 4.0), Turbinate(-45.0, 3.0)),
                  inset=3.5, centre_y=55.0, mucosa_semi=(3.2, 22.0), core_semi_y=20.0, core_min_mm=1.5),
    Ellipsoid("hard palate", Tissue.CANCELLOUS_BONE, (0, 58, -84), (26, 34, 3.5),
              shell=Shell(Tissue.CORTICAL_BONE, 1.2), power=4.0),
    FrontalSinus("frontal sinus", present_above=0.45, height=14.0, semi_x=12.0, semi_z=9.0, depth=0.6,
                 min_depth_mm=3.0, shell=Shell(Tissue.CORTICAL_BONE, 1.5)),
    DentalArch("teeth", box_centre=(0, 55, -98), box_radius=60.0, radii=(27.0, 36.0), centre_y=50.0,
               front_y=40.0, z_range=(-104.0, -89.0), bone_half_width=0.22, teeth_half_width=0.12,
               teeth_bottom=-100.0),
)
"""Every structure over the layers, in painting order (later ones paint over earlier ones)."""
