"""Procedural head phantom: a label volume of a human head from the skull base to the vertex.

All geometry is defined in millimetres in an "anatomical" frame (x: left->right, y: posterior->anterior,
z: inferior->superior, origin at the centre of the brain), then mapped onto the voxel grid with a small
random rotation/shift (pose). Arrays are (X, Y, Z) in RAS+ order; axial slices are ``labels[:, :, k]``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from scipy import ndimage as ndi

logger = logging.getLogger(__name__)

# Anatomical extent (mm, before the per-subject scale) that must fit in z: palate .. vertex.
_Z_BOTTOM_MM = 88.0


class Tissue(IntEnum):
    """Label values of the phantom."""

    AIR = 0
    SCALP = 1  # skin + muscle + other soft tissue
    FAT = 2
    CORTICAL_BONE = 3
    CANCELLOUS_BONE = 4  # diploe / marrow
    GREY_MATTER = 5
    WHITE_MATTER = 6
    CSF = 7
    VENTRICLE = 8
    SINUS_AIR = 9  # paranasal sinuses, nasal cavity, pharynx, mastoid cells, ear canal
    NASAL_BONE = 10  # thin bony walls / septa / turbinates
    PETROUS_BONE = 11  # dense inner-ear bone
    EYE = 12  # vitreous body
    TEETH = 13


@dataclass(frozen=True)
class HeadPhantom:
    """A label volume (X, Y, Z) uint8 of :class:`Tissue` values with its voxel spacing in mm."""

    labels: np.ndarray
    spacing_mm: tuple[float, float, float]

    def mask(self, *tissues: Tissue | int) -> np.ndarray:
        """Boolean (X, Y, Z) mask of the voxels whose label is any of ``tissues``."""
        return np.isin(self.labels, np.asarray([int(t) for t in tissues], dtype=np.uint8))

    @property
    def shape(self) -> tuple[int, int, int]:
        """Volume shape (X, Y, Z)."""
        return tuple(int(s) for s in self.labels.shape)  # type: ignore[return-value]


def _rotation(deg_x: float, deg_y: float, deg_z: float) -> np.ndarray:
    """Rotation matrix R = Rz @ Ry @ Rx for angles in degrees."""
    ax, ay, az = np.deg2rad([deg_x, deg_y, deg_z])
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def smooth_noise(
    shape: tuple[int, ...], spacing_mm: tuple[float, ...], corr_mm: float, rng: np.random.Generator
) -> np.ndarray:
    """Smooth Gaussian random field (zero mean, unit std) with correlation length ~``corr_mm``.

    White noise on a coarse grid (corr/3 spacing) is Gaussian-smoothed and linearly upsampled.
    Returns float32 of ``shape``.
    """
    step = corr_mm / 3.0
    coarse = [max(4, int(np.ceil(n * s / step)) + 3) for n, s in zip(shape, spacing_mm, strict=True)]
    field = ndi.gaussian_filter(rng.standard_normal(coarse).astype(np.float32), 1.5, mode="wrap")
    # map voxel centres into the coarse grid (coarse cell i covers [i*step, (i+1)*step) mm)
    zoom = [n / c for n, c in zip(shape, coarse, strict=True)]
    out = ndi.zoom(field, zoom, order=1, grid_mode=True, mode="grid-wrap")
    out = out[tuple(slice(0, n) for n in shape)]
    out -= out.mean()
    out /= out.std() + 1e-8
    return out.astype(np.float32)


def _ellipsoid_dist(
    x: np.ndarray, y: np.ndarray, z: np.ndarray, centre, semi, power: float = 2.0
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


class _Builder:
    """Holds anatomical coordinates of every voxel and paints labels into sub-boxes."""

    def __init__(self, shape, spacing, rot, centre_mm, z_scale):
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
        self.min_inplane = float(min(spacing[0], spacing[1]))

    def box(self, centre_a, radius_mm: float) -> tuple[slice, slice, slice]:
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

    def coords(self, sl):
        """Anatomical coordinates (x, y, z) of a voxel box, each an array of the box shape."""
        shp = tuple(s.stop - s.start for s in sl)
        return tuple(np.broadcast_to(a[sl], shp) for a in (self.x, self.y, self.z))

    def paint_ellipsoid(self, tissue, centre, semi, shell: float = 0.0, shell_tissue=None,
                        where=None, power: float = 2.0):
        """Paint an ellipsoid (optionally with a bony shell of ``shell`` mm painted first)."""
        sl = self.box(centre, max(semi) * (1.0 if power == 2.0 else 1.75) + shell)
        if any(s.stop <= s.start for s in sl):
            return
        x, y, z = self.coords(sl)
        d = _ellipsoid_dist(x, y, z, centre, semi, power)
        lab = self.labels[sl]
        allowed = np.ones(lab.shape, bool) if where is None else where(sl, lab)
        if shell > 0 and shell_tissue is not None:
            lab[(d <= shell) & allowed] = shell_tissue
        lab[(d <= 0) & allowed] = tissue


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
    vox_in = min(spacing[0], spacing[1])
    vox_max = max(spacing)

    # ---- per-subject parameters -------------------------------------------------------------
    half_fov = 0.5 * min(shape[0] * spacing[0], shape[1] * spacing[1])
    shift = rng.uniform(-4.0, 4.0, size=3)
    g_max = max(0.6, (0.97 * half_fov - abs(shift[1]) - 3.0) / 97.0)
    g = float(np.clip(rng.normal(1.0, 0.045), 0.9, 1.1))
    g = min(g, g_max)
    bx = 67.0 * g * rng.uniform(0.95, 1.05)
    by = 82.0 * g * rng.uniform(0.96, 1.04)
    bz = 62.0 * g * rng.uniform(0.94, 1.06)
    csf_w = max(rng.uniform(1.5, 3.5), 0.35 * vox_in)
    skull_t = max(rng.uniform(5.0, 8.0) * g, 1.25 * vox_in)
    fat_w = max(rng.uniform(1.5, 3.5), 0.6 * vox_in)
    scalp_w = max(rng.uniform(3.5, 6.0), 0.8 * vox_in)
    vent = rng.uniform(0.7, 1.5)
    sinus = rng.uniform(0.7, 1.25)
    frontal_sinus = rng.uniform(0.3, 1.3)
    asym = rng.uniform(-0.03, 0.03)  # left/right asymmetry of the brain width
    angles = rng.uniform([-6.0, -3.0, -4.0], [6.0, 3.0, 4.0])
    vertex = bz + skull_t + fat_w + scalp_w
    extent_z = shape[2] * spacing[2]
    margin = max(3.0, spacing[2]) + rng.uniform(0.0, 4.0)
    z_scale = float(min(1.0, (extent_z - margin) / (vertex + _Z_BOTTOM_MM * g)))
    centre = np.array([
        shift[0],
        shift[1] - 2.0 * g,
        (extent_z - spacing[2]) / 2.0 - margin - vertex * z_scale,
    ])
    rot = _rotation(*angles)
    logger.debug("phantom g=%.3f radii=(%.1f,%.1f,%.1f) z_scale=%.2f", g, bx, by, bz, z_scale)

    b = _Builder(shape, spacing, rot, centre, z_scale)
    x, y, z = b.x, b.y, b.z
    full = (slice(None),) * 3

    # ---- noise fields (voxel space; statistically pose invariant) ----------------------------
    n_shape = smooth_noise(shape, spacing, 40.0, rng)
    n_gyri = smooth_noise(shape, spacing, 9.0, rng)
    n_skull = smooth_noise(shape, spacing, 30.0, rng)
    n_cells = smooth_noise(shape, spacing, 5.0, rng)

    # ---- brain envelope ----------------------------------------------------------------------
    yn = np.clip(y / by, -1.0, 1.0)
    c_inf = np.interp(yn, [-1.0, -0.25, 0.05, 0.3, 0.45, 1.0], [48, 48, 42, 40, 23, 22]).astype(
        np.float32) * g
    cz = np.where(z >= 0, np.float32(bz), c_inf)
    cx = np.where(x >= 0, np.float32(bx * (1 + asym)), np.float32(bx * (1 - asym)))
    u, v, w = x / cx, y / by, z / cz
    rho = np.sqrt(u * u + v * v + w * w) * (1.0 - 0.015 * n_shape)
    grad = np.sqrt((u / cx) ** 2 + (v / by) ** 2 + (w / cz) ** 2) / np.maximum(rho, 1e-6)
    d_b = ((rho - 1.0) / np.maximum(grad, 1e-6)).astype(np.float32)  # mm, <0 inside the skull
    del u, v, w, rho, grad, cz, cx, c_inf, yn

    # face / neck envelope (below the brain) and the nose
    d_face = _ellipsoid_dist(x, y, z, (0, 8 * g, -92 * g), (60 * g, 84 * g, 78 * g))
    d_nose = _ellipsoid_dist(x, y, z, (0, 92 * g, -52 * g), (11 * g, 17 * g, 24 * g))
    d_face = np.minimum(d_face, d_nose)
    del d_nose
    skin = max(1.5, 0.5 * vox_in)
    t_fat = skull_t + fat_w
    # thicker temporalis muscle on the sides of the skull
    temporal = np.exp(-((z + 5 * g) / (22 * g)) ** 2 - ((y - 8 * g) / (32 * g)) ** 2).astype(np.float32)
    t_scalp = t_fat + scalp_w + 4.0 * g * temporal * np.clip(np.abs(x) / bx, 0, 1) ** 2
    del temporal
    lab = b.labels
    # face soft tissue with a skin + subcutaneous fat rim
    lab[d_face <= 0] = Tissue.SCALP
    lab[(d_face <= -skin) & (d_face > -(skin + fat_w + 1.0))] = Tissue.FAT
    lab[d_face <= -(skin + fat_w + 1.0)] = Tissue.SCALP
    in_face = d_face <= -(skin + fat_w + 1.0)
    # cranial layers (scalp, fat only where not deep inside the face)
    lab[(d_b <= t_scalp) & ~in_face] = Tissue.SCALP
    lab[(d_b <= t_fat) & ~in_face] = Tissue.FAT
    del in_face, d_face
    # skull: inner table, diploe, outer table
    t_loc = skull_t * (1.0 + 0.15 * n_skull)
    tab = np.minimum(np.float32(1.8), t_loc / 3.0)
    skull = (d_b > 0) & (d_b <= t_loc)
    lab[skull] = Tissue.CORTICAL_BONE
    lab[skull & (d_b > tab) & (d_b <= t_loc - tab)] = Tissue.CANCELLOUS_BONE
    del skull, tab, t_loc, t_scalp
    # intracranial: CSF rim, cortex, white matter
    gm_w = np.maximum(2.5 + 2.2 * (n_gyri + 1.0), 0.0)
    lab[d_b <= 0] = Tissue.CSF
    lab[d_b <= -csf_w] = Tissue.GREY_MATTER
    lab[d_b <= -(csf_w + gm_w)] = Tissue.WHITE_MATTER
    if vox_in <= 2.5:  # sulci are sub-voxel at coarser grids
        sulc = (np.abs(n_gyri) < 0.12) & (d_b <= 0) & (d_b > -(csf_w + 9.0))
        lab[sulc] = Tissue.CSF
        del sulc
    # interhemispheric fissure with medial cortex (above the corpus callosum)
    fis = (d_b <= 0) & (z > 18 * g) & (np.abs(y) < 0.9 * by)
    half_fis = max(1.0, 0.5 * vox_in)
    fis_upper = fis & (z > 22 * g)
    lab[fis_upper & (np.abs(x) < half_fis + 3.0) & (lab == Tissue.WHITE_MATTER)] = Tissue.GREY_MATTER
    lab[fis_upper & (np.abs(x) < half_fis)] = Tissue.CSF
    del fis, fis_upper, gm_w
    # cerebellum: dense folia (mostly GM) in the posterior fossa
    cereb = (d_b <= -csf_w) & (y < -0.3 * by) & (z < -14 * g)
    lab[cereb & (n_cells > -0.3)] = Tissue.GREY_MATTER
    lab[cereb & (n_cells <= -0.3)] = Tissue.WHITE_MATTER
    # tentorium (CSF sheet between cerebrum and cerebellum)
    tent = (d_b <= 0) & (y < -0.3 * by) & (np.abs(z + 12 * g + 0.15 * (y + 0.3 * by)) < max(1.0, 0.5 * vox_max))
    lab[tent] = Tissue.CSF
    del cereb, tent

    brain_only = lambda sl, lb: np.isin(lb, (Tissue.WHITE_MATTER, Tissue.GREY_MATTER))  # noqa: E731
    wm_only = lambda sl, lb: lb == Tissue.WHITE_MATTER  # noqa: E731
    not_brain = lambda sl, lb: d_b[sl] > 0  # noqa: E731

    # deep grey matter: putamen/caudate and thalami
    for sx in (-1, 1):
        b.paint_ellipsoid(Tissue.GREY_MATTER, (sx * 22 * g, 8 * g, 2 * g), (6 * g, 15 * g, 10 * g), where=wm_only)
        b.paint_ellipsoid(Tissue.GREY_MATTER, (sx * 11 * g, 14 * g, 12 * g), (5 * g, 11 * g, 7 * g), where=wm_only)
        b.paint_ellipsoid(Tissue.GREY_MATTER, (sx * 10 * g, -10 * g, 2 * g), (8 * g, 13 * g, 9 * g), where=wm_only)
    # ventricles (size varies between subjects)
    for sx in (-1, 1):
        b.paint_ellipsoid(Tissue.VENTRICLE, (sx * (4 + 2.5 * vent) * g, 2 * g, 14 * g),
                          (4.0 * vent * g, 27 * g, 7 * vent * g), where=brain_only)
        b.paint_ellipsoid(Tissue.VENTRICLE, (sx * (14 + 2 * vent) * g, -24 * g, 6 * g),
                          (3 * vent * g, 10 * g, 8 * vent * g), where=brain_only)
    b.paint_ellipsoid(Tissue.VENTRICLE, (0, -6 * g, 0), (1.2 * vent * g + 0.4 * vox_in, 12 * g, 8 * g),
                      where=brain_only)

    # ---- skull base ---------------------------------------------------------------------------
    # brainstem / medulla leaving through the foramen magnum, surrounded by CSF
    sl = b.box((0, -16 * g, -70 * g), 90 * g)
    xs, ys, zs = b.coords(sl)
    yc = -10 * g - 0.25 * np.clip(-zs - 10 * g, 0, None)
    r2 = (xs / (11 * g)) ** 2 + ((ys - yc) / (10 * g)) ** 2
    stem = zs < -8 * g
    ls = lab[sl]
    ls[stem & (r2 <= (1.0 + max(3.0, vox_in) / (10 * g)) ** 2)] = Tissue.CSF
    ls[stem & (r2 <= 1.0)] = Tissue.WHITE_MATTER
    # cervical spine: vertebral ring around the canal and a body in front, below the skull
    neck = zs < -62 * g
    ring = neck & (r2 > (1.0 + max(3.0, vox_in) / (10 * g)) ** 2) & (r2 <= 2.6)
    ls[ring] = Tissue.CORTICAL_BONE
    ls[ring & (r2 > 1.75) & (r2 <= 2.2)] = Tissue.CANCELLOUS_BONE
    del xs, ys, zs, r2, stem, neck, ring
    b.paint_ellipsoid(Tissue.CANCELLOUS_BONE, (0, 12 * g, -95 * g), (14 * g, 11 * g, 22 * g),
                      shell=max(1.5, 0.5 * vox_in), shell_tissue=Tissue.CORTICAL_BONE)
    # clivus / sphenoid body with the sphenoid sinus
    b.paint_ellipsoid(Tissue.CANCELLOUS_BONE, (0, 12 * g, -40 * g), (14 * g, 17 * g, 13 * g),
                      shell=max(2.0, 0.6 * vox_in), shell_tissue=Tissue.CORTICAL_BONE)
    b.paint_ellipsoid(Tissue.SINUS_AIR, (0, 16 * g, -40 * g), (10 * g * sinus, 11 * g, 9 * g * sinus))
    # pharynx / nasopharynx airway
    b.paint_ellipsoid(Tissue.SCALP, (0, 24 * g, -85 * g), (20 * g, 12 * g, 30 * g), where=not_brain)
    b.paint_ellipsoid(Tissue.SINUS_AIR, (0, 26 * g, -80 * g), (12 * g, 6 * g, 26 * g), where=not_brain)
    # petrous bones (dense), pointing antero-medially, with mastoid air cells behind
    for sx in (-1, 1):
        ang = np.deg2rad(40.0)
        sl = b.box((sx * 30 * g, -8 * g, -38 * g), 30 * g)
        xs, ys, zs = b.coords(sl)
        cx0, cy0 = sx * 30 * g, -8 * g
        a1 = (xs - cx0) * np.cos(ang) * sx + (ys - cy0) * np.sin(ang)
        a2 = -(xs - cx0) * np.sin(ang) * sx + (ys - cy0) * np.cos(ang)
        e = (a1 / (24 * g)) ** 2 + (a2 / (7 * g)) ** 2 + ((zs + 38 * g) / (8 * g)) ** 2
        lab[sl][e <= 1.0] = Tissue.PETROUS_BONE
        del xs, ys, zs, a1, a2, e
        # mastoid: honeycomb of air cells in bone
        sl = b.box((sx * 46 * g, -24 * g, -44 * g), 16 * g)
        xs, ys, zs = b.coords(sl)
        dm = _ellipsoid_dist(xs, ys, zs, (sx * 46 * g, -24 * g, -44 * g), (9 * g, 10 * g, 12 * g))
        lm = lab[sl]
        inside = dm <= 0
        lm[inside] = Tissue.CANCELLOUS_BONE
        lm[inside & (n_cells[sl] > 0.2)] = Tissue.SINUS_AIR
        del xs, ys, zs, dm, lm, inside
        # external auditory canal
        sl = b.box((sx * 60 * g, -10 * g, -40 * g), 25 * g)
        xs, ys, zs = b.coords(sl)
        canal = (xs * sx > 44 * g) & (((ys + 10 * g) / 4.0) ** 2 + ((zs + 40 * g) / 4.5) ** 2 <= 1.0)
        lab[sl][canal & (lab[sl] != Tissue.AIR)] = Tissue.SINUS_AIR
        del xs, ys, zs, canal

    # ---- face: orbits, nasal cavity, paranasal sinuses, palate, teeth -----------------------
    not_intra = lambda sl, lb: d_b[sl] > 0.5 * skull_t  # noqa: E731
    wall = max(1.5, 0.5 * vox_in)
    nw = 10.0 * g
    for sx in (-1, 1):
        # orbit: bony wall, fat cone, eye globe
        oc = (sx * 31 * g, 56 * g, -32 * g)
        b.paint_ellipsoid(Tissue.FAT, oc, (14 * g, 20 * g, 13 * g), shell=wall,
                          shell_tissue=Tissue.NASAL_BONE, where=not_intra)
        b.paint_ellipsoid(Tissue.EYE, (sx * 32 * g, 70 * g, -32 * g), (12 * g, 12 * g, 12 * g))
        # maxillary sinus
        b.paint_ellipsoid(Tissue.SINUS_AIR, (sx * (nw + 17 * g), 52 * g, -64 * g),
                          (13 * g * sinus, 16 * g * sinus, 15 * g * sinus), shell=wall,
                          shell_tissue=Tissue.NASAL_BONE, where=not_intra)
    # nasal cavity (superellipsoid box) with bony walls
    nc = (0, 60 * g, -60 * g)
    b.paint_ellipsoid(Tissue.SINUS_AIR, nc, (nw, 30 * g, 21 * g), shell=wall,
                      shell_tissue=Tissue.NASAL_BONE, where=not_intra, power=4.0)
    # ethmoid air cells above the nasal cavity, between the orbits
    sl = b.box((0, 56 * g, -34 * g), 24 * g)
    xs, ys, zs = b.coords(sl)
    de = _ellipsoid_dist(xs, ys, zs, (0, 56 * g, -34 * g), (11 * g, 18 * g, 8 * g), power=4.0)
    le = lab[sl]
    ok = (de <= 0) & (d_b[sl] > 0)
    le[ok] = Tissue.NASAL_BONE
    le[ok & (n_cells[sl] > -0.4)] = Tissue.SINUS_AIR
    del xs, ys, zs, de, le, ok
    # septum and turbinates (bone core covered by mucosa)
    sl = b.box(nc, 40 * g)
    xs, ys, zs = b.coords(sl)
    ln = lab[sl]
    in_cav = ln == Tissue.SINUS_AIR
    dcav = _ellipsoid_dist(xs, ys, zs, nc, (nw, 30 * g, 21 * g), power=4.0)
    cav = in_cav & (dcav <= 0)
    ln[cav & (np.abs(xs) <= max(1.0, 0.5 * vox_in))] = Tissue.NASAL_BONE
    for sx in (-1, 1):
        for zt, h in ((-72, 4.5), (-58, 4.0), (-45, 3.0)):
            e_out = ((xs - sx * (nw - 3.5 * g)) / (3.2 * g)) ** 2 + ((ys - 55 * g) / (22 * g)) ** 2 \
                + ((zs - zt * g) / (h * g)) ** 2
            ln[cav & (e_out <= 1.0)] = Tissue.SCALP
            e_in = ((xs - sx * (nw - 3.5 * g)) / max(1.0 * g, 0.5 * vox_in)) ** 2 \
                + ((ys - 55 * g) / (20 * g)) ** 2 + ((zs - zt * g) / max(h * g - 1.5, 0.5 * vox_in)) ** 2
            ln[cav & (e_in <= 1.0)] = Tissue.NASAL_BONE
    del xs, ys, zs, ln, in_cav, dcav, cav
    # hard palate
    b.paint_ellipsoid(Tissue.CANCELLOUS_BONE, (0, 58 * g, -84 * g), (26 * g, 34 * g, 3.5 * g),
                      shell=max(1.2, 0.5 * vox_in), shell_tissue=Tissue.CORTICAL_BONE, power=4.0)
    # frontal sinus inside a local thickening of the frontal bone
    if frontal_sinus > 0.45:
        fs = (0, by + skull_t * 0.6, 14 * g)
        sz = (12 * g * frontal_sinus, max(3.0, skull_t * 0.6), 9 * g * frontal_sinus)
        b.paint_ellipsoid(Tissue.SINUS_AIR, fs, sz, shell=max(1.5, 0.5 * vox_in),
                          shell_tissue=Tissue.CORTICAL_BONE, where=lambda sl, lb: d_b[sl] > 0)
    # teeth: U-shaped dental arch under the palate, in alveolar bone
    sl = b.box((0, 55 * g, -98 * g), 60 * g)
    xs, ys, zs = b.coords(sl)
    re = np.sqrt((xs / (27 * g)) ** 2 + ((ys - 50 * g) / (36 * g)) ** 2)
    arch = (ys > 40 * g) & (zs < -89 * g) & (zs > -104 * g)
    lab[sl][arch & (np.abs(re - 1.0) < 0.22)] = Tissue.CANCELLOUS_BONE
    lab[sl][arch & (np.abs(re - 1.0) < 0.12) & (zs > -100 * g)] = Tissue.TEETH
    del xs, ys, zs, re, arch

    # keep the head inside the inscribed circle of each axial slice
    r_in = np.hypot(*np.meshgrid((np.arange(shape[0]) - (shape[0] - 1) / 2) * spacing[0],
                                 (np.arange(shape[1]) - (shape[1] - 1) / 2) * spacing[1],
                                 indexing="ij"))
    outside = r_in > half_fov - 0.5 * max(spacing[0], spacing[1])
    if np.any(lab[outside]):
        logger.debug("phantom clipped to the inscribed circle (%d voxels)", int(np.count_nonzero(lab[outside])))
        lab[outside] = Tissue.AIR
    del full
    return HeadPhantom(labels=lab, spacing_mm=spacing)
