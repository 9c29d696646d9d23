"""UP-GAN (the proposed method), its ablation and its variants: configurations of one cascade
plug-in (:class:`upgan.methods.cascade.CascadeMethod`), each the ``upgan`` parameter block with
fixed overrides.

* ``upgan``: the block as configured (paper Eq. 4 guidance by default).
* ``upgan_no_guidance``: the paper's ablation -- each phase sees the previous image, not its σ.
* one variant per guidance input that names one (:mod:`upgan.models.guidance`), e.g.
  ``upgan_concat``: the authors' code's ``[b̂, α, β, a]``.
* ``upgan_previous``: later phases correct the previous phase's image (``residual_to:
  previous``) instead of the input.
* ``upgan_official``: the cascade as the authors' code trains it (ExplainableML/UncerGuidedI2I,
  ``train_i2i_Cas_UNet3headGAN``): ``[b̂, α, β, a]`` input, the L1/GGD curriculum over
  50/50/150 epochs (20/20/60 % of a stage), constant learning rate (their scheduler is never
  stepped) and no joint fine-tuning (each stage trains only the newest generator).
* ``upgan_p0_*``: the phase-0 loss breakdown -- phase 0 alone (M = 1, no fine-tuning) from the
  same initial weights as every UP-GAN phase 0 and the ``unet_l1`` control, under one objective
  each: L1; L1 + adversarial; L1 + GGD; GGD alone; GGD + adversarial (paper Eq. 2); the
  official curriculum.

The variants' role is ``variant``: they are cells of Table 1 when listed in ``methods`` but
belong to no claim family (C2 compares ``upgan`` with its ablation only).
"""

from __future__ import annotations

from typing import Any

from upgan.methods.cascade import CascadeMethod
from upgan.methods.registry import MethodSpec
from upgan.models.guidance import GUIDANCE_INPUTS

OFFICIAL_LOSS = {"recipe": "official", "periods": [50, 50, 150]}
"""The official code's curriculum: (λ_L1, λ_GGD) = (1, 1e-4), (0.5, 1e-3), (0.1, 1e-2) over
50, 50 and 150 epochs; adversarial weight 1e-3."""
CONSTANT_LR = {"cosine": False}
PHASE_0 = {"n_phases": 1, "fine_tune": {"steps": 0}}


def _variant(name: str, label: str, order: int, summary: str, overrides: dict[str, Any],
             role: str = "variant") -> MethodSpec:
    return MethodSpec(name=name, label=label, role=role, order=order, summary=summary,
                      plugin=CascadeMethod(overrides))


def _paper_loss(l1: float, ggd: float, adv: float) -> dict[str, Any]:
    return {"loss": {"recipe": "paper", "lambda_l1": l1, "lambda_fidelity": ggd, "lambda_adversarial": adv}}


SPECS: list[MethodSpec] = [
    _variant("upgan", "UP-GAN", 50, "cascade of uncertainty U-Nets; each phase's σ guides the next "
             "(Upadhyay et al. 2021)", {}, role="proposed"),
    _variant("upgan_no_guidance", "UP-GAN, no uncertainty guidance", 60,
             "UP-GAN's cascade without σ as the next phase's attention (the paper's ablation)",
             {"guidance": {"input": "none"}}, role="ablation"),
    *[_variant(form.variant[0], form.variant[1], 70 + i, f"UP-GAN with guidance input {form.name}: {form.source}",
               {"guidance": {"input": form.name}})
      for i, form in enumerate(GUIDANCE_INPUTS.values()) if form.variant is not None],
    _variant("upgan_previous", "UP-GAN, phases correct the previous image", 80,
             "UP-GAN whose later phases add their output to the previous phase's image (residual_to: previous)",
             {"residual_to": "previous"}),
    _variant("upgan_official", "UP-GAN as the official code trains it", 81,
             "[b̂, α, β, a] input, 20/20/60 % L1/GGD curriculum, constant lr, no joint fine-tuning "
             "(ExplainableML/UncerGuidedI2I)",
             {"guidance": {"input": "official_concat"}, "loss": OFFICIAL_LOSS, "phase": CONSTANT_LR,
              "fine_tune": {"steps": 0}}),
    _variant("upgan_p0_l1", "UP-GAN phase 0: L1", 90, "phase 0 alone trained with L1 only",
             {**PHASE_0, **_paper_loss(1.0, 0.0, 0.0)}),
    _variant("upgan_p0_l1_adv", "UP-GAN phase 0: L1 + adversarial", 91, "phase 0 alone, L1 + λ2·LSGAN",
             {**PHASE_0, **_paper_loss(1.0, 0.0, 0.001)}),
    _variant("upgan_p0_l1_ggd", "UP-GAN phase 0: L1 + GGD", 92, "phase 0 alone, L1 + GGD NLL, no adversary",
             {**PHASE_0, **_paper_loss(1.0, 1.0, 0.0)}),
    _variant("upgan_p0_ggd", "UP-GAN phase 0: GGD", 93, "phase 0 alone, GGD NLL only, no adversary",
             {**PHASE_0, **_paper_loss(0.0, 1.0, 0.0)}),
    _variant("upgan_p0_paper", "UP-GAN phase 0: GGD + adversarial (Eq. 2)", 94,
             "phase 0 alone, the paper's Eq. 2: GGD NLL + λ2·LSGAN", {**PHASE_0, **_paper_loss(0.0, 1.0, 0.001)}),
    _variant("upgan_p0_official", "UP-GAN phase 0: official curriculum", 95,
             "phase 0 alone, the official code's 20/20/60 % L1/GGD curriculum at constant lr",
             {**PHASE_0, "loss": OFFICIAL_LOSS, "phase": CONSTANT_LR}),
]
