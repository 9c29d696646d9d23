"""What a later phase of the UP-GAN cascade sees of the phase before it: the guidance inputs.

Phase m > 0 of the cascade takes ``concat(f_m, a)``, where the feature ``f_m`` is formed from the
previous phase's output by one of the forms registered here (``upgan.guidance.input``):

* ``paper_eq4``: ``b̂ · σ / mean(σ)``, one channel -- the paper's Eq. 4 (see
  :func:`uncertainty_attention` for the constant rescale).
* ``none``: ``b̂`` alone, one channel -- the paper's ablation "no uncertainty guidance".
* ``official_concat``: ``[b̂, α, β]``, three channels -- the authors' code feeds
  ``cat([ŷ, alpha_head, beta_head, x])`` with the raw heads, unweighted (ExplainableML/UncerGuidedI2I,
  ``train_i2i_Cas_UNet3headGAN``). Our α and β are the GGD's scale and shape (their ``alpha``
  head is used as 1/α in their loss).
* ``sigma_channel``: ``[b̂, σ / mean(σ)]``, two channels -- the image whole and σ beside it, so
  that small σ cannot erase b̂ (this project's variant; not in the paper or the code).

A form that names a ``variant`` method is trained and reported as a method of its own
(:mod:`upgan.methods.upgan`), so adding a guidance variant is one entry here plus its
configuration (list the method in ``methods``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

if TYPE_CHECKING:
    from upgan.models.cascade import PhaseOutput


def uncertainty_attention(sigma: Tensor) -> Tensor:
    """Attention map from an uncertainty map: ``sigma / mean_{H,W}(sigma)`` per image and channel.

    The paper's Eq. 4 weights b-hat by ``sigma_j / sum_j sigma_j`` (sum over the K pixels of an
    image). That map is tiny (mean 1/K); we multiply it by the constant K, i.e. use
    ``K * sigma_j / sum_j sigma_j = sigma_j / mean(sigma)``, so the map has mean 1. It is the
    same model up to a constant factor on the input channel, and numerically kinder.

    Args:
        sigma: ``(B, 1, H, W)``, positive.

    Returns:
        ``(B, 1, H, W)`` with mean 1 over H, W for every image.
    """
    mean = sigma.mean(dim=(-2, -1), keepdim=True)
    return sigma / mean.clamp_min(torch.finfo(sigma.dtype).tiny)


@dataclass(frozen=True)
class GuidanceInput:
    """One form of the feature ``f_m`` a later phase sees.

    Attributes:
        name: its value of ``upgan.guidance.input``.
        channels: channels of ``f_m`` (phase m > 0 then takes ``channels + C``).
        feature: ``previous phase output -> f_m`` of shape ``(B, channels, H, W)``.
        source: where the form comes from (docs and Table 1's set-up).
        variant: ``(method name, label)`` when the form is compared as a method of its own.
    """

    name: str
    channels: int
    feature: Callable[[PhaseOutput], Tensor]
    source: str
    variant: tuple[str, str] | None = None


GUIDANCE_INPUTS: dict[str, GuidanceInput] = {}


def _register(form: GuidanceInput) -> GuidanceInput:
    GUIDANCE_INPUTS[form.name] = form
    return form


_register(GuidanceInput(
    "paper_eq4", 1, lambda p: p.image * uncertainty_attention(p.sigma),
    "paper Eq. 4: b̂ weighted by σ / mean σ (Upadhyay et al. 2021)"))
_register(GuidanceInput(
    "none", 1, lambda p: p.image,
    "paper's ablation: b̂ alone, no uncertainty guidance"))
_register(GuidanceInput(
    "official_concat", 3, lambda p: torch.cat([p.image, p.alpha, p.beta], dim=1),
    "authors' code: [b̂, α, β, a], raw heads unweighted (UncerGuidedI2I train_i2i_Cas_UNet3headGAN)",
    variant=("upgan_concat", "UP-GAN, [b̂, α, β, a] input (official code)")))
_register(GuidanceInput(
    "sigma_channel", 2, lambda p: torch.cat([p.image, uncertainty_attention(p.sigma)], dim=1),
    "this project: [b̂, σ/mean σ, a], b̂ whole and σ beside it (not in the paper or the authors' code)",
    variant=("upgan_sigma", "UP-GAN, [b̂, σ, a] input")))


def guidance_names() -> list[str]:
    """The registered forms, in registration order."""
    return list(GUIDANCE_INPUTS)


def get_guidance(name: str | bool) -> GuidanceInput:
    """The form called ``name``; ``True``/``False`` (bundles written before the forms had names)
    mean ``paper_eq4``/``none``. An unknown name fails with the list of known ones."""
    if isinstance(name, bool):
        name = "paper_eq4" if name else "none"
    try:
        return GUIDANCE_INPUTS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown upgan.guidance.input {name!r}; known: {', '.join(GUIDANCE_INPUTS)}") from None
