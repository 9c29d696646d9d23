"""Procedural head phantom: a label volume of a human head from the skull base to the vertex.

The anatomy is data (:mod:`upgan.simulation.anatomy`): per subject, sizes are drawn, the nested
layers (face, scalp, fat, skull, CSF, cortex, white matter) are painted from distance fields, and
then every structure of :data:`~upgan.simulation.anatomy.STRUCTURES` in order. Geometry is in
millimetres in an anatomical frame (x: left->right, y: posterior->anterior, z:
inferior->superior, origin at the centre of the brain), mapped onto the voxel grid with a small
random rotation/shift (pose). Arrays are (X, Y, Z) in RAS+ order; axial slices are
``labels[:, :, k]``.
"""

from __future__ import annotations

import logging

import numpy as np

from .anatomy import (
    BRAIN_RADII,
    FACTORS,
    HEAD_SIZE_RANGE,
    HEAD_SIZE_SD,
    LAYERS,
    NASAL_HALF_WIDTH,
    NOISE_CORRELATION_MM,
    POSE_ANGLES_DEG,
    POSE_SHIFT_MM,
    STRUCTURES,
    THICKNESS,
    Z_BOTTOM_MM,
)
from .canvas import Canvas, Subject, ellipsoid_distance, point, rotation
from .head import HeadPhantom, Tissue, smooth_noise

logger = logging.getLogger(__name__)


def draw_subject(shape: tuple[int, int, int], spacing: tuple[float, float, float],
                 rng: np.random.Generator) -> tuple[Subject, Canvas]:
    """Draw a subject's sizes and pose, and the canvas that places its head in the field of view.

    The head size is capped so the head fits the in-plane field of view; if the z extent is
    shorter than palate-to-vertex (~170 mm), the anatomy is compressed along z only.
    """
    vox_in = min(spacing[0], spacing[1])
    half_fov = 0.5 * min(shape[0] * spacing[0], shape[1] * spacing[1])
    shift = rng.uniform(-POSE_SHIFT_MM, POSE_SHIFT_MM, size=3)
    g_max = max(0.6, (0.97 * half_fov - abs(shift[1]) - 3.0) / 97.0)
    g = float(np.clip(rng.normal(1.0, HEAD_SIZE_SD), *HEAD_SIZE_RANGE))
    g = min(g, g_max)
    bx, by, bz = (r.mm * g * rng.uniform(r.low, r.high) for r in BRAIN_RADII)
    layers = {}
    for name, t in THICKNESS.items():
        drawn = rng.uniform(t.low, t.high)
        layers[name] = max(drawn * g if t.scales else drawn, t.min_voxels * vox_in)
    factors = {name: rng.uniform(low, high) for name, (low, high) in FACTORS.items()}
    angles = rng.uniform([-a for a in POSE_ANGLES_DEG], list(POSE_ANGLES_DEG))
    subject = Subject(g=g, radii=(bx, by, bz), **layers, **factors,
                      nasal_half_width=NASAL_HALF_WIDTH * g, voxel_inplane=vox_in, voxel_max=max(spacing))
    vertex = bz + subject.skull + subject.fat + subject.scalp
    extent_z = shape[2] * spacing[2]
    margin = max(3.0, spacing[2]) + rng.uniform(0.0, 4.0)
    z_scale = float(min(1.0, (extent_z - margin) / (vertex + Z_BOTTOM_MM * g)))
    centre = np.array([shift[0], shift[1] - 2.0 * g, (extent_z - spacing[2]) / 2.0 - margin - vertex * z_scale])
    logger.debug("phantom g=%.3f radii=(%.1f,%.1f,%.1f) z_scale=%.2f", g, bx, by, bz, z_scale)
    return subject, Canvas(shape, spacing, rotation(*angles), centre, z_scale)


def brain_distance(canvas: Canvas, s: Subject, shape_noise: np.ndarray) -> np.ndarray:
    """Signed distance (mm, < 0 inside) to the inner skull surface: an ellipsoid flattened below
    the origin along :attr:`~upgan.simulation.anatomy.Layers.inferior_profile`, roughened."""
    x, y, z = canvas.x, canvas.y, canvas.z
    g, (bx, by, bz), asym = s.g, s.radii, s.asymmetry
    yn = np.clip(y / by, -1.0, 1.0)
    ys, depths = zip(*LAYERS.inferior_profile, strict=True)
    c_inf = np.interp(yn, list(ys), list(depths)).astype(np.float32) * g
    cz = np.where(z >= 0, np.float32(bz), c_inf)
    cx = np.where(x >= 0, np.float32(bx * (1 + asym)), np.float32(bx * (1 - asym)))
    u, v, w = x / cx, y / by, z / cz
    rho = np.sqrt(u * u + v * v + w * w) * (1.0 - LAYERS.roughness * shape_noise)
    grad = np.sqrt((u / cx) ** 2 + (v / by) ** 2 + (w / cz) ** 2) / np.maximum(rho, 1e-6)
    return ((rho - 1.0) / np.maximum(grad, 1e-6)).astype(np.float32)


def paint_scalp_and_skull(canvas: Canvas, s: Subject, skull_noise: np.ndarray) -> None:
    """Face soft tissue with its skin and fat rim; over the skull scalp, fat and the skull's
    cortical tables around the cancellous diploe."""
    x, y, z, d_b, lab, L = canvas.x, canvas.y, canvas.z, canvas.brain_distance, canvas.labels, LAYERS
    g = s.g
    d_face = np.minimum(*(ellipsoid_distance(x, y, z, point(e.centre, s), point(e.semi, s)) for e in (L.face, L.nose)))
    skin = L.skin.thickness(s)
    t_fat = s.skull + s.fat
    tz, tz_w, ty, ty_w, t_extra = L.temporalis
    temporal = np.exp(-((z - tz * g) / (tz_w * g)) ** 2 - ((y - ty * g) / (ty_w * g)) ** 2).astype(np.float32)
    t_scalp = t_fat + s.scalp + t_extra * g * temporal * np.clip(np.abs(x) / s.radii[0], 0, 1) ** 2
    deep = -(skin + s.fat + L.face_fat_extra)
    lab[d_face <= 0] = Tissue.SCALP
    lab[(d_face <= -skin) & (d_face > deep)] = Tissue.FAT
    lab[d_face <= deep] = Tissue.SCALP
    in_face = d_face <= deep
    lab[(d_b <= t_scalp) & ~in_face] = Tissue.SCALP
    lab[(d_b <= t_fat) & ~in_face] = Tissue.FAT
    t_loc = s.skull * (1.0 + L.skull_variation * skull_noise)
    tab = np.minimum(np.float32(L.table_max), t_loc / L.table_fraction)
    skull = (d_b > 0) & (d_b <= t_loc)
    lab[skull] = Tissue.CORTICAL_BONE
    lab[skull & (d_b > tab) & (d_b <= t_loc - tab)] = Tissue.CANCELLOUS_BONE


def paint_brain(canvas: Canvas, s: Subject, gyri: np.ndarray) -> None:
    """CSF rim, cortex and white matter (with sulci on fine grids), the interhemispheric fissure,
    the cerebellum's folia and the tentorium."""
    x, y, z, d_b, lab, L = canvas.x, canvas.y, canvas.z, canvas.brain_distance, canvas.labels, LAYERS
    g, by, csf_w = s.g, s.radii[1], s.csf
    gm_w = np.maximum(L.cortex + L.cortex_folding * (gyri + 1.0), 0.0)
    lab[d_b <= 0] = Tissue.CSF
    lab[d_b <= -csf_w] = Tissue.GREY_MATTER
    lab[d_b <= -(csf_w + gm_w)] = Tissue.WHITE_MATTER
    max_voxel, band, depth = L.sulci
    if s.voxel_inplane <= max_voxel:  # sulci are sub-voxel at coarser grids
        lab[(np.abs(gyri) < band) & (d_b <= 0) & (d_b > -(csf_w + depth))] = Tissue.CSF
    bottom, medial_bottom, extent, medial = L.fissure
    half_fis = max(L.fissure_min, 0.5 * s.voxel_inplane)
    upper = (d_b <= 0) & (z > bottom * g) & (np.abs(y) < extent * by) & (z > medial_bottom * g)
    lab[upper & (np.abs(x) < half_fis + medial) & (lab == Tissue.WHITE_MATTER)] = Tissue.GREY_MATTER
    lab[upper & (np.abs(x) < half_fis)] = Tissue.CSF
    back, top, folia = L.cerebellum
    cereb = (d_b <= -csf_w) & (y < -back * by) & (z < -top * g)
    lab[cereb & (canvas.cells > folia)] = Tissue.GREY_MATTER
    lab[cereb & (canvas.cells <= folia)] = Tissue.WHITE_MATTER
    tz, slope, half = L.tentorium
    sheet = np.abs(z + tz * g + slope * (y + back * by)) < max(half, 0.5 * s.voxel_max)
    lab[(d_b <= 0) & (y < -back * by) & sheet] = Tissue.CSF


def generate_head_phantom(
    shape: tuple[int, int, int], spacing_mm: tuple[float, float, float], rng: np.random.Generator
) -> HeadPhantom:
    """Generate a random head phantom on a (X, Y, Z) grid with spacing in mm.

    Varied per subject: head size, ellipsoid radii, surface shape noise, pose (rotation <= ~5 deg,
    shift <= ~5 mm), skull/scalp/fat thickness, ventricle size, sinus size, gyral GM/WM boundary.
    The z axis covers the palate/skull base to the vertex; if the field of view is shorter than that
    (~170 mm), the anatomy is compressed along z only. Thin layers are kept at least ~1 voxel thick.
    """
    shape = tuple(int(s) for s in shape)  # type: ignore[assignment]
    spacing = tuple(float(s) for s in spacing_mm)
    if len(shape) != 3 or len(spacing) != 3:
        raise ValueError("shape and spacing_mm must have 3 entries")
    subject, canvas = draw_subject(shape, spacing, rng)
    noise = {name: smooth_noise(shape, spacing, mm, rng) for name, mm in NOISE_CORRELATION_MM.items()}
    canvas.cells = noise["cells"]
    canvas.brain_distance = brain_distance(canvas, subject, noise["shape"])
    paint_scalp_and_skull(canvas, subject, noise["skull"])
    paint_brain(canvas, subject, noise["gyri"])
    for structure in STRUCTURES:
        structure.paint(canvas, subject)
    # keep the head inside the inscribed circle of each axial slice
    half_fov = 0.5 * min(shape[0] * spacing[0], shape[1] * spacing[1])
    r_in = np.hypot(*np.meshgrid((np.arange(shape[0]) - (shape[0] - 1) / 2) * spacing[0],
                                 (np.arange(shape[1]) - (shape[1] - 1) / 2) * spacing[1],
                                 indexing="ij"))
    outside = r_in > half_fov - 0.5 * max(spacing[0], spacing[1])
    lab = canvas.labels
    if np.any(lab[outside]):
        logger.debug("phantom clipped to the inscribed circle (%d voxels)", int(np.count_nonzero(lab[outside])))
        lab[outside] = Tissue.AIR
    return HeadPhantom(labels=lab, spacing_mm=spacing)
