"""Tests of the synthetic head data against physics / independent references (small shapes)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage as ndi
from skimage.transform import iradon, radon

from upgan.simulation import (
    PetCtSimulation,
    T1Simulation,
    Tissue,
    fdg_activity,
    generate_head_phantom,
    mu_map_511kev,
    simulate_ct,
    simulate_motion,
    simulate_nac_pet,
    simulate_pet_ct_subject,
    simulate_t1,
    simulate_t1_subject,
    undersample,
    undersampling_mask,
)
from upgan.simulation.pet import iradon_batch, radon_batch

SHAPE, SPACING = (48, 48, 28), (4.7, 4.7, 6.0)


@pytest.fixture(scope="module")
def phantom():
    return generate_head_phantom(SHAPE, SPACING, np.random.default_rng(1))


@pytest.fixture(scope="module")
def fine_phantom():
    return generate_head_phantom((96, 96, 24), (2.4, 2.4, 7.0), np.random.default_rng(3))


def test_phantom_contains_all_core_tissues(phantom):
    present = set(np.unique(phantom.labels).tolist())
    for t in (Tissue.AIR, Tissue.SCALP, Tissue.CORTICAL_BONE, Tissue.GREY_MATTER,
              Tissue.WHITE_MATTER, Tissue.VENTRICLE, Tissue.SINUS_AIR, Tissue.PETROUS_BONE):
        assert int(t) in present, t.name
    assert phantom.labels.dtype == np.uint8 and phantom.labels.shape == SHAPE
    # skull base below the brain: petrous bone lies lower than the ventricles
    z_pet = np.nonzero(phantom.mask(Tissue.PETROUS_BONE).any(axis=(0, 1)))[0].mean()
    z_ven = np.nonzero(phantom.mask(Tissue.VENTRICLE).any(axis=(0, 1)))[0].mean()
    assert z_pet < z_ven
    # the vertex is inside the volume: the top slice is air
    assert not phantom.labels[:, :, -1].any()


def test_tiny_grid_works():
    ph = generate_head_phantom((32, 32, 16), (7.0, 7.0, 7.0), np.random.default_rng(0))
    assert ph.mask(Tissue.GREY_MATTER).sum() > 50 and ph.mask(Tissue.CORTICAL_BONE).sum() > 20


def test_ct_hu_ranges(fine_phantom):
    ct = simulate_ct(fine_phantom, np.random.default_rng(0), noise_sd_hu=10.0)
    expected = {
        Tissue.FAT: (-120, -60), Tissue.CSF: (0, 25), Tissue.WHITE_MATTER: (15, 35),
        Tissue.GREY_MATTER: (30, 50), Tissue.SCALP: (20, 60), Tissue.CANCELLOUS_BONE: (250, 500),
        Tissue.CORTICAL_BONE: (800, 1600), Tissue.PETROUS_BONE: (1500, 2100),
        Tissue.NASAL_BONE: (300, 900),
    }
    for t, (lo, hi) in expected.items():
        m = fine_phantom.mask(t)
        assert m.sum() > 0, t.name
        med = float(np.median(ct[m]))
        assert lo <= med <= hi, (t.name, med)
    assert float(np.median(ct[fine_phantom.mask(Tissue.GREY_MATTER)])) > float(
        np.median(ct[fine_phantom.mask(Tissue.WHITE_MATTER)]))
    far_air = ~ndi.binary_dilation(fine_phantom.labels > 0, iterations=3)
    assert ct[far_air].max() < -900
    assert ct.dtype == np.float32


def test_mu_map_values():
    mu = mu_map_511kev(np.array([-1000.0, 0.0, 1000.0, -500.0]))
    np.testing.assert_allclose(mu, [0.0, 0.096, 0.153, 0.048], atol=2e-3)


def test_fdg_grey_white_ratio(phantom):
    act = fdg_activity(phantom, np.random.default_rng(5))
    gm = np.median(act[phantom.mask(Tissue.GREY_MATTER)])
    wm = np.median(act[phantom.mask(Tissue.WHITE_MATTER)])
    assert 3.0 <= gm / wm <= 4.0
    assert act[phantom.mask(Tissue.AIR)].max() == 0.0


def test_projector_matches_skimage():
    rng = np.random.default_rng(0)
    n = 40
    img = ndi.gaussian_filter(rng.random((n, n)), 1.5)
    c = np.arange(n) - n // 2
    img[(c[:, None] ** 2 + c[None, :] ** 2) > (n // 2 - 1) ** 2] = 0
    theta = np.linspace(0, 180, 36, endpoint=False)
    ref = radon(img, theta, circle=True)
    ours = radon_batch(img[None], theta)[0]
    np.testing.assert_allclose(ours, ref, rtol=1e-3, atol=1e-3 * ref.max())
    rec_ref = iradon(ref, theta, circle=True, filter_name="hann")
    rec = iradon_batch(ref[None], theta)[0]
    np.testing.assert_allclose(rec, rec_ref, atol=2e-3 * np.abs(rec_ref).max())


def test_nac_central_depression_and_ac_recovery():
    """Uniform activity in a water disc + thin bone ring: NAC centre << rim; AC recovers."""
    n, nz, sp = 64, 2, (3.5, 3.5, 4.0)
    c = (np.arange(n) - n / 2 + 0.5) * sp[0]
    r = np.hypot(c[:, None], c[None, :])
    act2 = np.where(r < 80, 1.0, 0.0)
    mu2 = np.where(r < 80, 0.096, 0.0) + np.where((r >= 80) & (r < 86), 0.15, 0.0)
    act = np.repeat(act2[:, :, None], nz, 2).astype(np.float32)
    mu = np.repeat(mu2[:, :, None], nz, 2).astype(np.float32)
    nac = simulate_nac_pet(act, mu, sp, np.random.default_rng(0), counts_per_slice=5e6)
    ac = simulate_nac_pet(act, mu, sp, np.random.default_rng(0), counts_per_slice=5e6,
                          attenuation_correction=True)
    centre, rim = r < 20, (r > 60) & (r < 70)
    assert nac[centre].mean() < 0.8 * nac[rim].mean()
    assert ac[centre].mean() == pytest.approx(ac[rim].mean(), rel=0.15)
    assert nac.min() >= 0 and nac.dtype == np.float32


def test_nac_depression_in_phantom_wm(fine_phantom):
    """Central WM vs peripheral WM (same true activity, noise-free attenuation)."""
    ph = fine_phantom
    rng = np.random.default_rng(0)
    act = np.where(ph.mask(Tissue.WHITE_MATTER), 1.0, 0.0).astype(np.float32)
    mu = mu_map_511kev(simulate_ct(ph, rng, noise_sd_hu=0))
    nac = simulate_nac_pet(act, mu, ph.spacing_mm, rng, counts_per_slice=5e6, fwhm_mm=0.0)
    wm = ph.mask(Tissue.WHITE_MATTER)
    depth = ndi.distance_transform_edt(ph.labels > 0, sampling=ph.spacing_mm)
    interior = ndi.binary_erosion(wm, iterations=1)
    central = interior & (depth > np.percentile(depth[wm], 80))
    peripheral = interior & (depth < np.percentile(depth[wm], 30))
    assert central.sum() > 10 and peripheral.sum() > 10
    assert nac[central].mean() < 0.8 * nac[peripheral].mean()


def test_t1_contrast_and_rician_background(fine_phantom):
    ph = fine_phantom
    t1 = simulate_t1(ph, np.random.default_rng(2), noise_sd=0.02, bias_coefficients=0.0)
    med = {t: np.median(t1[ph.mask(t)]) for t in (Tissue.FAT, Tissue.WHITE_MATTER,
                                                  Tissue.GREY_MATTER, Tissue.CSF,
                                                  Tissue.CORTICAL_BONE)}
    assert med[Tissue.FAT] > med[Tissue.WHITE_MATTER] > med[Tissue.GREY_MATTER] > med[Tissue.CSF]
    assert med[Tissue.CORTICAL_BONE] < med[Tissue.CSF]
    bg = t1[~ndi.binary_dilation(ph.labels > 0, iterations=3)]
    assert bg.mean() > 0
    assert bg.mean() / bg.std() == pytest.approx(np.sqrt(np.pi / 2) / np.sqrt(2 - np.pi / 2), rel=0.05)
    assert bg.mean() == pytest.approx(0.02 * np.sqrt(np.pi / 2), rel=0.05)
    t1b = simulate_t1(ph, np.random.default_rng(2), noise_sd=0.02, bias_coefficients=0.3)
    assert 0.5 < t1b.max() < 2.5 and t1b.dtype == np.float32


def test_central_mask():
    for n in (256, 150, 64, 10):
        m = undersampling_mask(n, "central", 0.08)
        k = max(1, round(0.08 * n))
        idx = np.nonzero(m)[0]
        assert m.sum() == k and np.all(np.diff(idx) == 1)
        assert idx[0] <= n // 2 <= idx[-1]
        assert abs((idx[0] + idx[-1]) / 2 - n // 2) <= 0.5
    assert undersampling_mask(256, "central", 0.25).mean() == pytest.approx(0.25)


def test_upgan_code_mask():
    m1 = undersampling_mask(256, "upgan_code", rng=np.random.default_rng(0), upgan_af=12)
    m2 = undersampling_mask(256, "upgan_code", rng=np.random.default_rng(0), upgan_af=12)
    m3 = undersampling_mask(256, "upgan_code", rng=np.random.default_rng(1), upgan_af=12)
    assert m1.sum() == 28 and np.array_equal(m1, m2) and not np.array_equal(m1, m3)
    assert m1[128 - 7:128 + 7].all()
    assert m1[:121].sum() == 7 and m1[135:].sum() == 7
    with pytest.raises(ValueError):
        undersampling_mask(64, "upgan_code")


def test_undersample_identity_and_axis():
    rng = np.random.default_rng(0)
    img = rng.random((3, 32, 20))
    np.testing.assert_allclose(undersample(img, np.ones(32, bool), 0), np.abs(img), atol=1e-5)
    m = undersampling_mask(32, "central", 0.25)
    out = undersample(img, m, axis=0)
    # by hand: centred FFT, zero rows, inverse
    k = np.fft.fftshift(np.fft.fft2(img[1]))
    k[~m, :] = 0
    np.testing.assert_allclose(out[1], np.abs(np.fft.ifft2(np.fft.ifftshift(k))), atol=1e-5)
    # an image varying only along columns (axis 1) has all its energy in the central k-space
    # row: masking rows (axis=0) keeps it, masking columns (axis=1) low-passes it, and vice versa
    prof = 1.0 + rng.random(20)
    img_c = np.tile(prof, (32, 1))
    np.testing.assert_allclose(undersample(img_c, m, axis=0), img_c, atol=1e-5)
    mc = undersampling_mask(20, "central", 0.3)
    low = undersample(img_c, mc, axis=1)
    assert np.abs(low - img_c).max() > 0.1
    kc = np.fft.fftshift(np.fft.fft(prof))
    kc[~mc] = 0
    np.testing.assert_allclose(low[5], np.abs(np.fft.ifft(np.fft.ifftshift(kc))), atol=1e-5)
    img_r = img_c.T.copy()  # (20, 32) varies only along rows
    np.testing.assert_allclose(undersample(img_r, undersampling_mask(32, "central", 0.25), axis=1),
                               img_r, atol=1e-5)
    assert np.abs(undersample(img_r, mc, axis=0) - img_r).max() > 0.1
    assert out.dtype == np.float32 and out.shape == img.shape


def test_motion_ghosting_and_seed(fine_phantom):
    t1 = simulate_t1(fine_phantom, np.random.default_rng(0), noise_sd=0.0, bias_coefficients=0.0)
    state = torch.random.get_rng_state()
    a = simulate_motion(t1, fine_phantom.spacing_mm, seed=3)
    assert torch.equal(state, torch.random.get_rng_state())
    b = simulate_motion(t1, fine_phantom.spacing_mm, seed=3)
    c = simulate_motion(t1, fine_phantom.spacing_mm, seed=4)
    assert np.array_equal(a, b) and not np.allclose(a, c)
    outside = ~ndi.binary_dilation(fine_phantom.labels > 0, iterations=2)
    assert (a[outside] ** 2).sum() > 5 * (t1[outside] ** 2).sum() + 1e-3
    assert a.dtype == np.float32 and a.shape == t1.shape


def test_subjects_reproducible_and_varied():
    cfg = PetCtSimulation(shape=(32, 32, 16), spacing_mm=(7.0, 7.0, 8.0))
    a = simulate_pet_ct_subject(cfg, 7, 0)
    b = simulate_pet_ct_subject(cfg, 7, 0)
    c = simulate_pet_ct_subject(cfg, 7, 1)
    for key in ("ct", "pet", "labels"):
        assert np.array_equal(a[key], b[key])
    assert not np.array_equal(a["labels"], c["labels"])
    assert a["ct"].dtype == np.float32 and a["pet"].dtype == np.float32
    assert a["labels"].dtype == np.uint8
    tcfg = T1Simulation(shape=(32, 32, 20), spacing_mm=(7.0, 7.0, 8.0))
    t0, t0b, t1 = (simulate_t1_subject(tcfg, 7, i) for i in (0, 0, 1))
    assert np.array_equal(t0["t1"], t0b["t1"])
    assert not np.array_equal(t0["labels"], t1["labels"])
    sizes = [(simulate_t1_subject(tcfg, 7, i)["labels"] > 0).sum() for i in range(4)]
    assert len(set(sizes)) > 1
