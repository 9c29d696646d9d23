"""The phantom's anatomy tables: the generator they drive reproduces the phantoms the inline
generator made, and each kind of structure paints what its row says."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from upgan.simulation import Tissue, generate_head_phantom
from upgan.simulation.anatomy import STRUCTURES
from upgan.simulation.canvas import Canvas, Size, Subject, Within
from upgan.simulation.shapes import Ellipsoid, Pair


def _digest(labels: np.ndarray) -> str:
    return hashlib.sha256(str(labels.dtype).encode() + str(labels.shape).encode() + labels.tobytes()).hexdigest()[:20]


@pytest.mark.parametrize(
    ("shape", "spacing", "seed", "digest"),
    [  # label volumes of the generator before its anatomy became tables
        ((32, 32, 16), (7.0, 7.0, 8.0), 0, "1d80924ac25ec87e3787"),
        ((32, 32, 16), (7.0, 7.0, 8.0), 7, "894cb746f6b38ae61ff3"),
        ((48, 56, 40), (3.6, 3.6, 4.0), 2021, "2c0f4109fd86fe118d9f"),
        ((96, 96, 60), (2.4, 2.4, 3.0), 1, "3c60868a422ce4c61563"),  # fine enough for sulci
    ],
)
def test_phantoms_are_bit_identical_to_the_inline_generator(shape, spacing, seed, digest):
    assert _digest(generate_head_phantom(shape, spacing, np.random.default_rng(seed)).labels) == digest


def _subject(**changes) -> Subject:
    values = {"g": 1.0, "radii": (67.0, 82.0, 62.0), "csf": 2.0, "skull": 6.0, "fat": 2.0, "scalp": 4.0,
              "ventricles": 1.0, "sinuses": 1.0, "frontal_sinus": 1.0, "asymmetry": 0.0,
              "nasal_half_width": 10.0, "voxel_inplane": 2.0, "voxel_max": 2.0}
    return Subject(**{**values, **changes})


def test_sizes_scale_with_the_subject():
    s = _subject(g=1.1, ventricles=1.4, sinuses=0.8, nasal_half_width=11.0, voxel_inplane=3.0)
    assert Size(4.0, per_ventricle=2.5).of(s) == pytest.approx((4.0 + 2.5 * 1.4) * 1.1)
    assert Size(13.0, by_sinus=True).of(s) == pytest.approx(13.0 * 1.1 * 0.8)
    assert Size(17.0, per_nasal=1.0).of(s) == pytest.approx(17.0 * 1.1 + 11.0)
    assert Size(0.0, per_ventricle=1.2, per_voxel=0.4).of(s) == pytest.approx(1.2 * 1.4 * 1.1 + 0.4 * 3.0)


def _canvas(n: int = 41, spacing: float = 2.0) -> Canvas:
    return Canvas((n, n, n), (spacing,) * 3, np.eye(3), np.zeros(3), 1.0)


def test_an_ellipsoid_paints_its_voxels_and_a_pair_mirrors_it():
    canvas = _canvas()
    Pair("eyes", (Ellipsoid("eye", Tissue.EYE, (20, 0, 0), (6, 6, 6)),)).paint(canvas, _subject())
    eye = canvas.labels == Tissue.EYE
    axis = (np.arange(41) - 20) * 2.0  # voxel centres, mm
    x, y, z = np.meshgrid(axis, axis, axis, indexing="ij")
    expected = (np.minimum((x - 20) ** 2, (x + 20) ** 2) + y ** 2 + z ** 2) <= 36.0
    np.testing.assert_array_equal(eye, expected)
    np.testing.assert_array_equal(eye, eye[::-1])  # left = right


def test_within_limits_where_a_structure_paints():
    canvas = _canvas()
    canvas.labels[:20] = Tissue.WHITE_MATTER  # the left half is white matter
    Ellipsoid("nucleus", Tissue.GREY_MATTER, (0, 0, 0), (10, 10, 10), within=Within.WHITE_MATTER).paint(
        canvas, _subject())
    grey = canvas.labels == Tissue.GREY_MATTER
    assert grey[:20].sum() > 0 and grey[20:].sum() == 0


def test_the_table_names_each_structure_once():
    names = [s.name for s in STRUCTURES] + [p.name for s in STRUCTURES if isinstance(s, Pair) for p in s.parts]
    assert len(names) == len(set(names))
