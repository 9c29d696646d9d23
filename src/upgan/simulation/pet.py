"""FDG activity and non-attenuation-corrected (NAC) PET by 2D FBP per axial slice.

The projector reproduces ``skimage.transform.radon`` / ``iradon`` (circle=True, bilinear
rotation, Hann-windowed ramp filter, linear backprojection) but runs all slices and a chunk of
angles at once with ``torch.nn.functional.grid_sample``; tests compare it with scikit-image.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage as ndi

from .ct import fwhm_to_sigma_vox
from .head import HeadPhantom, Tissue, smooth_noise

logger = logging.getLogger(__name__)

# SUV-like mean uptake per tissue (per-subject variation applied on top).
FDG_SUV: dict[Tissue, float] = {
    Tissue.AIR: 0.0, Tissue.SCALP: 1.0, Tissue.FAT: 0.4, Tissue.CORTICAL_BONE: 0.7,
    Tissue.CANCELLOUS_BONE: 0.7, Tissue.GREY_MATTER: 8.0, Tissue.WHITE_MATTER: 2.7,
    Tissue.CSF: 0.3, Tissue.VENTRICLE: 0.3, Tissue.SINUS_AIR: 0.0, Tissue.NASAL_BONE: 0.7,
    Tissue.PETROUS_BONE: 0.7, Tissue.EYE: 0.5, Tissue.TEETH: 0.3,
}
_CHUNK_BYTES = 256 * 2**20


def fdg_activity(phantom: HeadPhantom, rng: np.random.Generator) -> np.ndarray:
    """FDG activity (SUV-like) float32 (X, Y, Z). GM ~8*U(0.85,1.15), GM:WM ~U(3.1,3.8),
    other tissues +-10 % per subject, mild smooth spatial variation in GM."""
    lut = np.zeros(256, dtype=np.float32)
    for tissue, suv in FDG_SUV.items():
        lut[int(tissue)] = suv * rng.uniform(0.9, 1.1)
    gm = 8.0 * rng.uniform(0.85, 1.15)
    lut[Tissue.GREY_MATTER] = gm
    lut[Tissue.WHITE_MATTER] = gm / rng.uniform(3.1, 3.8)
    act = lut[phantom.labels]
    var = smooth_noise(phantom.labels.shape, phantom.spacing_mm, 25.0, rng)
    act *= np.where(phantom.labels == Tissue.GREY_MATTER, 1.0 + 0.05 * var, 1.0).astype(np.float32)
    return act.astype(np.float32)


def _angle_chunk(n_ch: int, n: int) -> int:
    return int(max(1, min(64, _CHUNK_BYTES // max(1, 4 * n_ch * n * n))))


def projector_device(device: str) -> torch.device:
    """The device of the PET projector: ``cpu``, ``cuda``, or ``auto`` (cuda when present)."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ValueError(f"simulation.projector_device must be 'cpu', 'cuda' or 'auto', got {device!r}")
    return torch.device(device)


def radon_batch(images: np.ndarray, theta_deg: np.ndarray, device: str = "cpu") -> np.ndarray:
    """Radon transform of square images (B, N, N) -> sinograms (B, N, A) (skimage conventions,
    circle=True: centre N//2, image assumed zero outside the inscribed circle), computed on
    ``device`` (:func:`projector_device`; the GPU's last bits differ from the CPU's)."""
    dev = projector_device(device)
    img = torch.as_tensor(np.ascontiguousarray(images, dtype=np.float32)).to(dev)
    b, n, _ = img.shape
    centre = n // 2
    rr, cc = torch.meshgrid(torch.arange(n, dtype=torch.float64, device=dev) - centre,
                            torch.arange(n, dtype=torch.float64, device=dev) - centre, indexing="ij")
    th = torch.as_tensor(np.deg2rad(np.asarray(theta_deg, dtype=np.float64))).to(dev)
    out = torch.empty((th.numel(), b, n), dtype=torch.float32, device=dev)
    step = _angle_chunk(b, n)
    inp = img.unsqueeze(0)
    for a0 in range(0, th.numel(), step):
        t = th[a0:a0 + step]
        cos, sin = torch.cos(t)[:, None, None], torch.sin(t)[:, None, None]
        col = centre + cos * cc + sin * rr
        row = centre - sin * cc + cos * rr
        grid = torch.stack((2 * col / (n - 1) - 1, 2 * row / (n - 1) - 1), dim=-1).float()
        rot = F.grid_sample(inp.expand(t.numel(), -1, -1, -1), grid, mode="bilinear",
                            padding_mode="zeros", align_corners=True)
        out[a0:a0 + t.numel()] = rot.sum(dim=2)
    return out.permute(1, 2, 0).contiguous().cpu().numpy()


def _hann_ramp(size: int) -> np.ndarray:
    """Hann-windowed ramp filter of even length ``size`` (Kak & Slaney discrete ramp)."""
    n = np.concatenate((np.arange(1, size / 2 + 1, 2, dtype=int),
                        np.arange(size / 2 - 1, 0, -2, dtype=int)))
    f = np.zeros(size)
    f[0] = 0.25
    f[1::2] = -1 / (np.pi * n) ** 2
    ramp = 2 * np.real(np.fft.fft(f))
    return ramp * np.fft.fftshift(np.hanning(size))


def iradon_batch(sinograms: np.ndarray, theta_deg: np.ndarray, device: str = "cpu") -> np.ndarray:
    """Filtered backprojection (Hann) of sinograms (B, N, A) -> images (B, N, N), skimage
    conventions (circle=True, linear interpolation, zero outside the circle); the
    backprojection runs on ``device`` (:func:`projector_device`)."""
    dev = projector_device(device)
    sino = np.asarray(sinograms, dtype=np.float64)
    b, n, n_ang = sino.shape
    # as skimage (circle=True): pad the detector axis to the image diagonal, centred
    m = int(np.ceil(np.sqrt(2) * n))
    before = m // 2 - n // 2
    sino = np.pad(sino, ((0, 0), (before, m - n - before), (0, 0)))
    padded = max(64, int(2 ** np.ceil(np.log2(2 * m))))
    proj = np.fft.fft(sino, n=padded, axis=1) * _hann_ramp(padded)[None, :, None]
    filt = np.real(np.fft.ifft(proj, axis=1))[:, :m, :]
    filt_t = torch.as_tensor(np.ascontiguousarray(filt.transpose(2, 0, 1)), dtype=torch.float32).to(dev)
    radius = n // 2
    xpr, ypr = torch.meshgrid(torch.arange(n, dtype=torch.float64, device=dev) - radius,
                              torch.arange(n, dtype=torch.float64, device=dev) - radius, indexing="ij")
    th = torch.as_tensor(np.deg2rad(np.asarray(theta_deg, dtype=np.float64))).to(dev)
    rec = torch.zeros((b, n * n), dtype=torch.float32, device=dev)
    step = _angle_chunk(b, n)
    for a0 in range(0, n_ang, step):
        t = th[a0:a0 + step]
        tt = (ypr[None] * torch.cos(t)[:, None, None] - xpr[None] * torch.sin(t)[:, None, None])
        idx = (tt + m // 2).reshape(t.numel(), 1, n * n)
        grid = torch.stack((2 * idx / (m - 1) - 1, torch.zeros_like(idx)), dim=-1).float()
        inp = filt_t[a0:a0 + t.numel()].unsqueeze(2)  # (A, B, 1, N)
        val = F.grid_sample(inp, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
        valid = ((idx >= 0) & (idx <= m - 1)).to(torch.float32)  # np.interp: 0 outside the ends
        rec += (val[:, :, 0, :] * valid).sum(dim=0)
    rec = rec.reshape(b, n, n).cpu().numpy().astype(np.float64)
    rec[:, (xpr**2 + ypr**2).cpu().numpy() > radius**2] = 0.0
    return (rec * np.pi / (2 * n_ang)).astype(np.float32)


def simulate_nac_pet(
    activity: np.ndarray, mu_per_cm: np.ndarray, spacing_mm, rng: np.random.Generator,
    counts_per_slice: float = 2e6, fwhm_mm: float = 5.0, n_angles: int | None = None,
    attenuation_correction: bool = False, device: str = "cpu",
) -> np.ndarray:
    """NAC PET float32 (X, Y, Z) from activity and mu (1/cm), slice by slice (2D, no scatter):
    sinogram = radon(activity) * exp(-radon(mu) * pixel_cm); Poisson counts scaled so the mean
    slice holds ``counts_per_slice`` expected counts; Hann FBP without attenuation correction
    (with it if ``attenuation_correction``); 3D Gaussian blur of ``fwhm_mm``; clipped >= 0.
    ``n_angles`` defaults to the in-plane size; the projections run on ``device``."""
    act = np.asarray(activity, dtype=np.float32)
    mu = np.asarray(mu_per_cm, dtype=np.float32)
    if act.shape != mu.shape or act.ndim != 3:
        raise ValueError("activity and mu must be 3D arrays of the same shape")
    nx, ny, nz = act.shape
    if abs(spacing_mm[0] - spacing_mm[1]) > 1e-3 * spacing_mm[0]:
        logger.warning("anisotropic in-plane spacing %s; using the mean pixel size", spacing_mm)
    pixel_cm = 0.5 * (float(spacing_mm[0]) + float(spacing_mm[1])) / 10.0
    n = max(nx, ny)
    px, py = (n - nx) // 2, (n - ny) // 2
    # (Z, N, N) stacks; zero outside the inscribed circle
    a2 = np.zeros((nz, n, n), np.float32)
    m2 = np.zeros((nz, n, n), np.float32)
    a2[:, px:px + nx, py:py + ny] = np.moveaxis(act, 2, 0)
    m2[:, px:px + nx, py:py + ny] = np.moveaxis(mu, 2, 0)
    c = np.arange(n) - n // 2
    outside = (c[:, None] ** 2 + c[None, :] ** 2) > (n // 2) ** 2
    if np.any(a2[:, outside] > 0):
        logger.debug("activity outside the reconstruction circle set to zero")
    a2[:, outside] = 0.0
    m2[:, outside] = 0.0
    n_ang = int(n_angles) if n_angles else n
    theta = np.linspace(0.0, 180.0, n_ang, endpoint=False)
    sino = radon_batch(np.concatenate([a2, m2], axis=0), theta, device)
    s_act, s_mu = np.clip(sino[:nz], 0, None), np.clip(sino[nz:], 0, None)
    atten = np.exp(-s_mu.astype(np.float64) * pixel_cm)
    expected = s_act * atten
    total = expected.sum()
    if total <= 0:
        return np.zeros_like(act)
    k = counts_per_slice * nz / total
    counts = rng.poisson(expected * k) / k
    if attenuation_correction:
        counts = counts / atten
    rec = iradon_batch(counts, theta, device)  # (Z, N, N)
    rec = np.moveaxis(rec[:, px:px + nx, py:py + ny], 0, 2)
    if fwhm_mm > 0:
        rec = ndi.gaussian_filter(rec, fwhm_to_sigma_vox(fwhm_mm, spacing_mm), mode="constant")
    return np.clip(rec, 0.0, None).astype(np.float32)
