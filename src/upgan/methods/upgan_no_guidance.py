"""The ablation of UP-GAN without uncertainty guidance (claim C2): the same cascade, training
and fine-tuning (:mod:`upgan.training.upgan`), but no phase sees the previous phase's σ."""

from __future__ import annotations

from upgan.methods.registry import MethodSpec

SPEC = MethodSpec(
    name="upgan_no_guidance", label="UP-GAN, no uncertainty guidance", role="ablation", order=60,
    guidance=False,
    summary="UP-GAN's cascade without σ as the next phase's attention (the paper's ablation)",
)
