"""UP-GAN plug-ins for the training engine: one phase at a time, then end-to-end fine-tuning."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from upgan.losses import (
    UPGANLossWeights,
    ggd_nll,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
)
from upgan.models.cascade import (
    UPGAN,
    CascadeConfig,
    PhaseOutput,
    build_discriminator,
    build_generators,
)
from upgan.models.patchgan import PatchDiscriminator
from upgan.models.unet import UncertaintyUNet
from upgan.preparation.normalisation import VALID_RANGE
from upgan.training.checkpoint import cpu_state, state_digest
from upgan.training.data import SlicePairs
from upgan.training.engine import TrainingMethod, train_stage
from upgan.training.history import TrainingHistory
from upgan.training.stage import StageConfig

logger = logging.getLogger(__name__)

#: Batch size used to precompute frozen phase inputs.
PRECOMPUTE_BATCH = 32


class _UPGANMethodBase(TrainingMethod):
    def __init__(
        self,
        cascade: UPGAN,
        discriminators: Sequence[PatchDiscriminator],
        weights: UPGANLossWeights,
        conditional: bool | None,
    ) -> None:
        self.cascade = cascade
        self.weights = weights
        d_in = {d.in_channels for d in discriminators}
        if len(d_in) != 1:
            raise ValueError(f"discriminators disagree on input channels: {sorted(d_in)}")
        (d_channels,) = d_in
        inferred = d_channels == 1 + cascade.in_channels
        if d_channels not in (1, 1 + cascade.in_channels):
            raise ValueError(
                f"discriminator takes {d_channels} channels; expected 1 (unconditional) or "
                f"{1 + cascade.in_channels} (conditional on a)"
            )
        if conditional is not None and conditional != inferred:
            raise ValueError(
                f"conditional={conditional} but the discriminator takes {d_channels} channels"
            )
        self.conditional = inferred
        self.lambdas = weights.at(0, 1)
        #: no adversarial term at any step (``lambda_adversarial: 0``): the discriminators are
        #: neither trained nor evaluated (the engine sees none)
        self.adversarial = weights.lambda_adversarial > 0

    def on_step(self, step: int, total: int) -> None:
        """Follow the recipe's weights (the official curriculum changes them by thirds)."""
        self.lambdas = self.weights.at(step, total)

    def d_input(self, inputs: Tensor, image: Tensor) -> Tensor:
        """``(B, 1[+C], H, W)``: the image, preceded by the original input ``a`` when conditional.

        ``a`` is the last C channels of ``inputs`` (the phase input is ``concat(f_m, a)``).
        """
        if not self.conditional:
            return image
        a = inputs[:, inputs.shape[1] - self.cascade.in_channels :]
        return torch.cat([a, image], dim=1)

    def phase_loss(
        self, out: PhaseOutput, inputs: Tensor, targets: Tensor, discriminator: nn.Module
    ) -> tuple[Tensor, Tensor, Tensor]:
        """One phase's generator objective (recipe ``paper``: ``lambda1 * ggd_nll + lambda2 *
        lsgan_G``; ``official``: ``lambda_L1 * L1 + lambda_GGD * ggd_nll + lambda2 * lsgan_G``
        with the current curriculum weights); returns (total, nll, adv)."""
        w_l1, w_ggd, w_adv = self.lambdas
        nll = ggd_nll(out.image, targets, out.alpha, out.beta)
        if self.adversarial:
            adv = lsgan_generator_loss(discriminator(self.d_input(inputs, out.image)))
        else:
            adv = torch.zeros((), device=out.image.device)
        total = w_ggd * nll + w_adv * adv.float()
        if w_l1:
            total = total + w_l1 * (out.image.float() - targets).abs().mean()
        return total, nll, adv

    def describe_base(self) -> dict[str, Any]:
        return {
            "generators": [g.config.to_dict() for g in self.cascade.generators],
            "guidance": self.cascade.guidance,
            "conditional": self.conditional,
            "weights": [self.weights.lambda_fidelity, self.weights.lambda_adversarial],
            "recipe": self.weights.recipe,
            **({"lambda_l1": self.weights.lambda_l1, "periods": list(self.weights.periods)}
               if self.weights.extended else {}),
            **({} if self.cascade.residual_to == "input" else {"residual_to": self.cascade.residual_to}),
        }


class UPGANPhase(_UPGANMethodBase):
    """Trains G_phase and D_phase only; G_0..G_{phase-1} are frozen.

    Frozen generators get ``requires_grad=False``, eval mode and run under no_grad. Because they
    are frozen and deterministic, the phase input ``concat(f_phase, a)`` is precomputed once for
    the whole data set in :meth:`prepare_inputs` (a documented speed-up: the earlier phases cost
    one forward pass per slice per stage instead of one per slice per epoch).
    """

    def __init__(
        self,
        cascade: UPGAN,
        phase: int,
        discriminator: PatchDiscriminator,
        weights: UPGANLossWeights,
        conditional: bool | None = None,
    ) -> None:
        if not 0 <= phase < cascade.n_phases:
            raise ValueError(f"phase must be in 0..{cascade.n_phases - 1}, got {phase}")
        super().__init__(cascade, [discriminator], weights, conditional)
        self.phase = phase
        self.discriminator = discriminator
        self.generator = cascade.generators[phase]
        self.frozen = list(cascade.generators[:phase])
        for g in self.frozen:
            g.requires_grad_(False)
            g.eval()
        self.generator.requires_grad_(True)

    def generator_modules(self) -> list[nn.Module]:
        return [self.generator]

    def discriminator_modules(self) -> list[nn.Module]:
        return [self.discriminator] if self.adversarial else []

    @property
    def carries_previous(self) -> bool:
        """Prepared inputs end with b-hat_{phase-1} (``residual_to: previous``), which the
        generator does not see but adds its image head to."""
        return self.phase > 0 and self.cascade.residual_to == "previous"

    def split(self, inputs: Tensor) -> tuple[Tensor, Tensor | None]:
        """A prepared batch as (generator input ``concat(f_phase, a)``, b-hat_{phase-1} or None)."""
        if not self.carries_previous:
            return inputs, None
        return inputs[:, :-1], inputs[:, -1:]

    def d_input(self, inputs: Tensor, image: Tensor) -> Tensor:
        return super().d_input(self.split(inputs)[0], image)

    def to(self, device: torch.device) -> None:
        self.cascade.to(device)
        self.discriminator.to(device)

    @torch.no_grad()
    def prepare_inputs(self, inputs: Tensor) -> Tensor:
        """``(N, C, H, W) -> (N, C, H, W)`` at phase 0, ``(N, F + C, H, W)`` for phase > 0 (F the
        guidance feature's channels), then b-hat_{phase-1} as one more channel when
        :attr:`carries_previous`."""
        if self.phase == 0:
            return inputs
        for g in self.frozen:
            g.eval()
        chunks = []
        for start in range(0, inputs.shape[0], PRECOMPUTE_BATCH):
            a = inputs[start : start + PRECOMPUTE_BATCH]
            outputs = self.cascade(a, n_phases=self.phase)
            chunk = self.cascade.phase_input(a, outputs[-1])
            if self.carries_previous:
                chunk = torch.cat([chunk, outputs[-1].image], dim=1)
            chunks.append(chunk)
        return torch.cat(chunks, dim=0)

    def forward_phase(self, inputs: Tensor) -> PhaseOutput:
        """G_phase on a prepared input batch."""
        x, previous = self.split(inputs)
        return UPGAN.run_generator(self.generator, x, previous)

    def generator_loss(self, inputs: Tensor, targets: Tensor) -> tuple[Tensor, dict[str, Tensor], Any]:
        out = self.forward_phase(inputs)
        loss, nll, adv = self.phase_loss(out, inputs, targets, self.discriminator)
        logs = {"ggd_nll": nll.detach(), "adv_g": adv.detach()}
        return loss, logs, out.image.detach()

    def discriminator_loss(
        self, inputs: Tensor, targets: Tensor, fake: Any
    ) -> tuple[Tensor, dict[str, Tensor]]:
        d_real = self.discriminator(self.d_input(inputs, targets))
        d_fake = self.discriminator(self.d_input(inputs, fake))
        loss = lsgan_discriminator_loss(d_real, d_fake)
        return loss, {"d_real": d_real.detach().mean(), "d_fake": d_fake.detach().mean()}

    def predict(self, inputs: Tensor) -> Tensor:
        return self.forward_phase(inputs).image

    def validation_outputs(self, inputs: Tensor, targets: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        out = self.forward_phase(inputs)
        extras = {
            "sigma_mean": out.sigma.float().mean(),
            "alpha_mean": out.alpha.float().mean(),
            "beta_mean": out.beta.float().mean(),
            "ggd_nll": ggd_nll(out.image, targets, out.alpha, out.beta),
        }
        return out.image, extras

    def set_train_mode(self, training: bool) -> None:
        self.generator.train(training)
        if self.adversarial:
            self.discriminator.train(training)
        for g in self.frozen:
            g.eval()

    def describe(self) -> dict[str, Any]:
        return {
            "method": "upgan_phase",
            "phase": self.phase,
            **self.describe_base(),
            "frozen_digest": state_digest(self.frozen),
        }


class UPGANFineTune(_UPGANMethodBase):
    """Trains every generator end to end (gradients flow through the attention into earlier
    phases) on ``sum_m lambda1 * ggd_nll_m + lambda2 * lsgan_G_m``, and every discriminator."""

    def __init__(
        self,
        cascade: UPGAN,
        discriminators: Sequence[PatchDiscriminator],
        weights: UPGANLossWeights,
        conditional: bool | None = None,
    ) -> None:
        if len(discriminators) != cascade.n_phases:
            raise ValueError(
                f"fine-tuning needs one discriminator per phase ({cascade.n_phases}), "
                f"got {len(discriminators)}"
            )
        super().__init__(cascade, discriminators, weights, conditional)
        self.discriminators = nn.ModuleList(discriminators)
        cascade.requires_grad_(True)

    def generator_modules(self) -> list[nn.Module]:
        return list(self.cascade.generators)

    def discriminator_modules(self) -> list[nn.Module]:
        return list(self.discriminators) if self.adversarial else []

    def generator_loss(self, inputs: Tensor, targets: Tensor) -> tuple[Tensor, dict[str, Tensor], Any]:
        outputs = self.cascade(inputs)
        total = torch.zeros((), device=inputs.device)
        logs: dict[str, Tensor] = {}
        for m, (out, d) in enumerate(zip(outputs, self.discriminators, strict=True)):
            loss, nll, adv = self.phase_loss(out, inputs, targets, d)
            total = total + loss
            logs[f"ggd_nll_phase{m}"] = nll.detach()
            logs[f"adv_g_phase{m}"] = adv.detach()
        fakes = [out.image.detach() for out in outputs]
        return total, logs, fakes

    def discriminator_loss(
        self, inputs: Tensor, targets: Tensor, fake: Any
    ) -> tuple[Tensor, dict[str, Tensor]]:
        total = torch.zeros((), device=inputs.device)
        real_in = self.d_input(inputs, targets)
        for d, image in zip(self.discriminators, fake, strict=True):
            total = total + lsgan_discriminator_loss(d(real_in), d(self.d_input(inputs, image)))
        return total, {}

    def predict(self, inputs: Tensor) -> Tensor:
        return self.cascade(inputs)[-1].image

    def validation_outputs(self, inputs: Tensor, targets: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        outputs = self.cascade(inputs)
        extras: dict[str, Tensor] = {}
        for m, out in enumerate(outputs):
            extras[f"sigma_mean_phase{m}"] = out.sigma.float().mean()
            extras[f"mae_phase{m}"] = (out.image.float().clamp(*VALID_RANGE) - targets).abs().mean()
        extras["sigma_mean"] = outputs[-1].sigma.float().mean()
        return outputs[-1].image, extras

    def describe(self) -> dict[str, Any]:
        return {
            "method": "upgan_fine_tune",
            **self.describe_base(),
            "initial_digest": state_digest([*self.cascade.generators, *self.discriminators]),
        }


def _check_data(cascade_cfg: CascadeConfig, *datasets: SlicePairs | None) -> None:
    for data in datasets:
        if data is not None and data.in_channels != cascade_cfg.in_channels:
            raise ValueError(
                f"data have {data.in_channels} input channels but the cascade expects "
                f"{cascade_cfg.in_channels} (CascadeConfig.unet.in_channels)"
            )


def train_phase(
    cascade_cfg: CascadeConfig,
    phase: int,
    previous_generators: Sequence[dict[str, Tensor]],
    train: SlicePairs,
    val: SlicePairs | None,
    stage: StageConfig,
    weights: UPGANLossWeights,
    checkpoint_path: Path | str | None = None,
    progress: bool = True,
    on_record: Callable[[dict[str, float]], None] | None = None,
) -> tuple[dict[str, Tensor], dict[str, Tensor], TrainingHistory]:
    """Initialise phase ``phase`` of the cascade: train (G_phase, D_phase) with G_0..G_{phase-1}
    (loaded from ``previous_generators``) frozen.

    New nets are initialised after ``torch.manual_seed(stage.seed)``. ``checkpoint_path``,
    ``progress`` and ``on_record`` are passed to :func:`train_stage` (resumable).

    Returns:
        (generator_state, discriminator_state, history); states are CPU tensors.
    """
    if not isinstance(phase, int) or phase < 0:
        raise ValueError(f"phase must be >= 0, got {phase!r}")
    if phase >= cascade_cfg.n_phases:
        raise ValueError(
            f"phase {phase} does not exist in a cascade of M = {cascade_cfg.n_phases} phases"
        )
    if len(previous_generators) != phase:
        need = f"generators 0..{phase - 1}" if phase else "no previous generators"
        raise ValueError(f"phase {phase} needs {need}, got {len(previous_generators)}")
    _check_data(cascade_cfg, train, val)
    generators = [UncertaintyUNet(cascade_cfg.generator_config(m)) for m in range(phase)]
    for m, (g, state) in enumerate(zip(generators, previous_generators, strict=True)):
        try:
            g.load_state_dict(state)
        except RuntimeError as err:
            raise ValueError(f"previous generator {m} does not fit the cascade config: {err}") from err
    torch.manual_seed(stage.seed)
    generators.append(UncertaintyUNet(cascade_cfg.generator_config(phase)))
    discriminator = build_discriminator(cascade_cfg)
    cascade = UPGAN(generators, guidance=cascade_cfg.guidance, residual_to=cascade_cfg.residual_to)
    method = UPGANPhase(cascade, phase, discriminator, weights)
    history = train_stage(
        method, train, val, stage, checkpoint_path, progress=progress, on_record=on_record
    )
    return cpu_state(cascade.generators[phase]), cpu_state(discriminator), history


def fine_tune(
    cascade_cfg: CascadeConfig,
    generator_states: Sequence[dict[str, Tensor]],
    discriminator_states: Sequence[dict[str, Tensor]],
    train: SlicePairs,
    val: SlicePairs | None,
    stage: StageConfig,
    weights: UPGANLossWeights,
    checkpoint_path: Path | str | None = None,
    progress: bool = True,
    on_record: Callable[[dict[str, float]], None] | None = None,
) -> tuple[list[dict[str, Tensor]], list[dict[str, Tensor]], TrainingHistory]:
    """Fine-tune the whole cascade end to end on the sum of every phase's loss.

    Returns:
        (generator_states, discriminator_states, history); states are CPU tensors.
    """
    m = cascade_cfg.n_phases
    if len(generator_states) != m:
        raise ValueError(f"fine-tuning needs generators 0..{m - 1}, got {len(generator_states)}")
    if len(discriminator_states) != m:
        raise ValueError(
            f"fine-tuning needs discriminators 0..{m - 1}, got {len(discriminator_states)}"
        )
    _check_data(cascade_cfg, train, val)
    torch.manual_seed(stage.seed)
    generators = build_generators(cascade_cfg)
    discriminators = [build_discriminator(cascade_cfg) for _ in range(m)]
    for g, state in zip(generators, generator_states, strict=True):
        g.load_state_dict(state)
    for d, state in zip(discriminators, discriminator_states, strict=True):
        d.load_state_dict(state)
    cascade = UPGAN(generators, guidance=cascade_cfg.guidance, residual_to=cascade_cfg.residual_to)
    method = UPGANFineTune(cascade, discriminators, weights)
    history = train_stage(
        method, train, val, stage, checkpoint_path, progress=progress, on_record=on_record
    )
    return (
        [cpu_state(g) for g in cascade.generators],
        [cpu_state(d) for d in discriminators],
        history,
    )
