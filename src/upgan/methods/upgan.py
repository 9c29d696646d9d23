"""UP-GAN (the proposed method) and its ablation without uncertainty guidance.

Both are cascades of M uncertainty U-Nets trained phase by phase and then fine-tuned end to end
(:mod:`upgan.training.upgan`), configured by the ``upgan`` parameter group. In the ablation each
phase still sees the previous phase's image but not its σ.
"""

from __future__ import annotations

from upgan.methods.registry import MethodSpec

SPEC = MethodSpec(
    name="upgan", label="UP-GAN", role="proposed", order=50, guidance=True,
    summary="cascade of uncertainty U-Nets; each phase's σ guides the next (Upadhyay et al. 2021)",
)
