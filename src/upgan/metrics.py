"""Image-quality metrics in torch, per image: MAE, PSNR, SSIM.

All take ``(B, C, H, W)`` tensors and return ``(B,)``. SSIM reproduces
``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=...)`` including its border crop.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

SSIM_SIGMA = 1.5
SSIM_TRUNCATE = 3.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def _check(pred: Tensor, target: Tensor) -> None:
    if pred.shape != target.shape or pred.ndim != 4:
        raise ValueError(
            f"pred and target must both be (B, C, H, W) of one shape, got {tuple(pred.shape)} "
            f"and {tuple(target.shape)}"
        )


def _float(x: Tensor) -> Tensor:
    return x.to(torch.promote_types(x.dtype, torch.float32))


def mae(pred: Tensor, target: Tensor) -> Tensor:
    """Mean absolute error per image: ``(B,)``."""
    _check(pred, target)
    return (_float(pred) - _float(target)).abs().flatten(1).mean(dim=1)


def psnr(pred: Tensor, target: Tensor, data_range: float = 1.0) -> Tensor:
    """Peak signal-to-noise ratio per image, ``10 log10(data_range^2 / MSE)``: ``(B,)``.

    Identical images (MSE 0) give ``+inf``, as in scikit-image.
    """
    _check(pred, target)
    mse = (_float(pred) - _float(target)).square().flatten(1).mean(dim=1)
    return 10.0 * torch.log10(data_range**2 / mse)


def gaussian_window(sigma: float = SSIM_SIGMA, truncate: float = SSIM_TRUNCATE) -> Tensor:
    """1-D normalised Gaussian of radius ``int(truncate * sigma + 0.5)`` (scipy's convention)."""
    radius = int(truncate * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    w = torch.exp(-0.5 * (x / sigma) ** 2)
    return w / w.sum()


def ssim(pred: Tensor, target: Tensor, data_range: float = 1.0) -> Tensor:
    """Structural similarity per image: ``(B,)`` (the mean of :func:`ssim_map`).

    Gaussian window (sigma 1.5, 11 taps), K1 = 0.01, K2 = 0.03, population covariances. Like
    scikit-image, the SSIM map is averaged only where the window fits inside the image (a
    5-pixel border is excluded), so the value matches ``structural_similarity`` exactly; with
    several channels the channel maps are averaged. Needs H, W >= 11.
    """
    return ssim_map(pred, target, data_range).flatten(1).mean(dim=1)


def ssim_map(pred: Tensor, target: Tensor, data_range: float = 1.0) -> Tensor:
    """The SSIM map of :func:`ssim` where the window fits: ``(B, C, H - 10, W - 10)`` (pixel
    ``[i, j]`` is the image's pixel ``[i + 5, j + 5]``)."""
    _check(pred, target)
    x, y = _float(pred), _float(target)
    dtype = x.dtype
    window = gaussian_window().to(device=x.device, dtype=dtype)
    size = window.numel()
    if min(x.shape[-2:]) < size:
        raise ValueError(f"ssim needs H, W >= {size}, got {tuple(x.shape[-2:])}")
    b, c, h, w = x.shape
    stack = torch.stack([x, y, x * x, y * y, x * y], dim=2).reshape(b, c * 5, h, w)
    groups = c * 5
    kernel_h = window.view(1, 1, size, 1).expand(groups, 1, size, 1)
    kernel_w = window.view(1, 1, 1, size).expand(groups, 1, 1, size)
    filtered = F.conv2d(F.conv2d(stack, kernel_h, groups=groups), kernel_w, groups=groups)
    filtered = filtered.reshape(b, c, 5, h - size + 1, w - size + 1)
    ux, uy, uxx, uyy, uxy = filtered.unbind(dim=2)
    vx = uxx - ux * ux
    vy = uyy - uy * uy
    vxy = uxy - ux * uy
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    num = (2 * ux * uy + c1) * (2 * vxy + c2)
    den = (ux * ux + uy * uy + c1) * (vx + vy + c2)
    return num / den


def finite_mean(values: Tensor) -> float:
    """Mean of the finite entries (``nan`` when none); e.g. PSNR over images with inf."""
    finite = values[torch.isfinite(values)]
    return float(finite.mean()) if finite.numel() else math.nan
