"""Partial volume of the generated anatomy: sub-voxel rendering averaged to the output grid."""

import numpy as np
import pytest
from scipy import ndimage as ndi

from upgan.simulation import PetCtSimulation, Tissue, simulate_ct, simulate_pet_ct_subject
from upgan.simulation.head import HeadPhantom
from upgan.simulation.partial_volume import block_mean, block_mode, fine_grid, supersampling


def test_factors_and_grids():
    assert supersampling((3.5, 3.5, 4.0), 1.75) == (2, 2, 1)
    assert supersampling((1.0, 1.0, 3.0), 1.75) == (1, 1, 1)
    assert supersampling((7.0, 3.6, 8.0), 1.75) == (4, 3, 1)
    assert supersampling((3.5, 3.5, 4.0), None) == (1, 1, 1)
    with pytest.raises(ValueError, match="partial_volume_mm"):
        supersampling((3.5, 3.5, 4.0), -1.0)
    shape, spacing = fine_grid((64, 64, 32), (3.5, 3.5, 4.0), (2, 2, 1))
    assert shape == (128, 128, 32) and spacing == (1.75, 1.75, 4.0)
    v = np.arange(16, dtype=np.float32).reshape(4, 4, 1)
    np.testing.assert_array_equal(block_mean(v, (2, 2, 1))[..., 0], [[2.5, 4.5], [10.5, 12.5]])
    labels = np.array([[1, 1, 2, 3], [1, 2, 3, 3]], dtype=np.uint8).reshape(2, 4, 1)
    np.testing.assert_array_equal(block_mode(labels, (2, 2, 1))[..., 0], [[1, 3]])


def _shell_phantom(block: int, n_out: int = 24, out_mm: float = 3.5) -> HeadPhantom:
    """A 1.5 mm thick cylindrical shell of fat (radius 25-26.5 mm) and a 21 mm fat square far
    from it, in air, painted by point sampling on a grid ``block`` times finer than the output."""
    n, s = n_out * block, out_mm / block
    c = (np.arange(n) - (n - 1) / 2) * s
    x, y = np.meshgrid(c, c, indexing="ij")
    r = np.hypot(x, y)
    labels = np.full((n, n, 2), Tissue.AIR, dtype=np.uint8)
    labels[(r >= 25.0) & (r <= 26.5)] = Tissue.FAT
    labels[(x > 33.0) & (y > 33.0)] = Tissue.FAT  # whole output voxels: reads the drawn fat HU
    return HeadPhantom(labels=labels, spacing_mm=(s, s, 4.0))


def test_a_thin_shells_mean_hu_equals_its_volume_weighted_value():
    shell_area = np.pi * (26.5**2 - 25.0**2)  # mm^2 per slice
    errors = {}
    for block in (1, 8):
        phantom = _shell_phantom(block)
        ct = simulate_ct(phantom, np.random.default_rng(3), noise_sd_hu=0.0, blur_fwhm_mm=0.0,
                         block=(block, block, 1))
        assert ct.shape == (24, 24, 2)
        hu_fat = float(ct[-1, -1, 0])
        assert -100.0 <= hu_fat <= -80.0
        ring = ct[:21, :21, 0]  # the slice without the square (the shell spans indices 3-20)
        weight = (ring + 1000.0) / (hu_fat + 1000.0)  # fat fraction of each voxel
        assert np.all(weight > -1e-5) and np.all(weight < 1 + 1e-5)
        # each voxel's HU weighs fat by the share of its area the painted shell covers
        painted = (phantom.labels[: 21 * block, : 21 * block, 0] == Tissue.FAT).sum() * (3.5 / block) ** 2
        assert weight.sum() * 3.5**2 == pytest.approx(painted, rel=1e-5)
        errors[block] = abs(weight.sum() * 3.5**2 - shell_area) / shell_area
    assert np.count_nonzero((weight > 0.01) & (weight < 0.99)) > 20  # fractions, not only 0 or 1
    assert errors[8] < 0.03  # the shell's volume-weighted value, within the fine sampling's error
    assert errors[1] > 0.1  # point sampling on the output grid misses it


def _closed_rings(config: PetCtSimulation, subject: int) -> list[bool]:
    """Per axial slice of the cranium (from the brain's widest slice up, leaving out slices
    with sinus air cells, whose thin walls are anatomy): whether bone (CT >= 300 HU, as bone
    Dice scores it) encloses the brain (no 4-connected path of non-bone from brain to outside)."""
    d = simulate_pet_ct_subject(config, 2021, subject)
    brain = np.isin(d["labels"], (Tissue.GREY_MATTER, Tissue.WHITE_MATTER))
    mid = int(np.argmax(brain.sum(axis=(0, 1))))
    closed = []
    for k in range(mid, mid + 6):
        if np.any(d["labels"][:, :, k] == Tissue.SINUS_AIR) or brain[:, :, k].sum() < 50:
            continue
        outside, _ = ndi.label(d["ct"][:, :, k] < 300.0)
        closed.append(outside[0, 0] not in set(np.unique(outside[brain[:, :, k]])))
    return closed


def test_the_skull_ring_is_connected_at_base_size():
    base = PetCtSimulation(shape=(64, 64, 32), spacing_mm=(3.5, 3.5, 4.0), pet_fwhm_mm=6.0)
    point = PetCtSimulation(shape=(64, 64, 32), spacing_mm=(3.5, 3.5, 4.0), pet_fwhm_mm=6.0, partial_volume_mm=None)
    rings = [_closed_rings(base, subject) for subject in range(4)]
    assert sum(len(r) for r in rings) >= 12 and all(all(r) for r in rings), rings
    broken = [_closed_rings(point, subject) for subject in range(4)]  # point sampling: a dotted ring
    assert sum(sum(r) for r in broken) < sum(len(r) for r in broken) / 2, broken
