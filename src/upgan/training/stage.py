"""Settings of a training stage and the state one run of it carries (networks, optimisers,
schedules, counters, records)."""

from __future__ import annotations

import contextlib
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import CosineAnnealingLR, LRScheduler

from upgan.training.history import BestWeights, RunningMeans, TrainingHistory


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> cuda when available, else cpu; anything else is passed to ``torch.device``."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def autocast(device: torch.device, bf16: bool) -> contextlib.AbstractContextManager[Any]:
    """bfloat16 autocast on CUDA when ``bf16``; otherwise a no-op context."""
    if bf16 and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@dataclass(frozen=True)
class StageConfig:
    """Settings of one training stage (one call of :func:`train_stage`).

    The budget is counted in optimiser updates of the generator (``steps``), the same unit for
    every method: MedGAN's extra generator updates per discriminator update count against it.

    Attributes:
        name: stage name (logs, progress bar).
        steps: generator updates of the stage (the budget).
        batch_size: slices per iteration; batches are drawn in order from seeded per-epoch
            permutations of the training set, crossing epoch boundaries (every batch is full; a
            batch larger than the training set repeats slices, with a warning).
        lr_generator, lr_discriminator: Adam learning rates.
        betas: Adam betas (paper: 0.9, 0.999).
        cosine: CosineAnnealingLR to 0 over the stage's iterations, stepped every iteration.
        seed: seeds the shuffling (the permutation of epoch e is seeded from (seed, e)).
        device: ``"auto"`` (cuda when available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
        bf16: bfloat16 autocast (CUDA only; ignored on CPU).
        channels_last: NHWC memory format for networks and data (faster convolutions with CUDA
            tensor cores and with oneDNN on CPU).
        compile: ``torch.compile`` every network (in place) before training.
        log_every_n_steps: the only iterations at which losses are read back for the progress bar.
        generator_steps_per_iteration: generator updates per discriminator update (MedGAN: 3).
        val_every: validate (and checkpoint) every this many generator updates, at the start
            (step 0) and at the end; the weights with the lowest validation MAE are kept.
            ``None``: only at the start and the end.
        device_data_budget_gb: the most GiB of prepared data (inputs after the frozen phases, and
            targets) kept on the device; more are streamed from host memory. None: a quarter of
            a CUDA device's memory, unlimited on the CPU. Does not change the result.
        keep_initial: whether the step-0 weights may be kept. False (the default) for stages
            that start from fresh networks: their step-0 record is drawn for reference only, so
            an untrained network (with residual learning, the identity) is never selected. True
            for stages that start from trained weights (fine-tuning may keep them).
    """

    name: str = "stage"
    steps: int = 100
    batch_size: int = 8
    lr_generator: float = 2e-3
    lr_discriminator: float = 2e-3
    betas: tuple[float, float] = (0.9, 0.999)
    cosine: bool = True
    seed: int = 0
    device: str = "auto"
    bf16: bool = False
    channels_last: bool = False
    compile: bool = False
    log_every_n_steps: int = 50
    generator_steps_per_iteration: int = 1
    val_every: int | None = None
    keep_initial: bool = False
    device_data_budget_gb: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        for name in ("steps", "batch_size", "log_every_n_steps", "generator_steps_per_iteration"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"StageConfig.{name} must be an int >= 1, got {value!r}")
        for name in ("lr_generator", "lr_discriminator"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"StageConfig.{name} must be > 0, got {value!r}")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"StageConfig.betas must be two values in [0, 1), got {self.betas}")
        if self.val_every is not None and (
            isinstance(self.val_every, bool) or not isinstance(self.val_every, int) or self.val_every < 1
        ):
            raise ValueError(f"StageConfig.val_every must be None or an int >= 1, got {self.val_every!r}")
        budget = self.device_data_budget_gb
        if budget is not None and (isinstance(budget, bool) or not isinstance(budget, (int, float))
                                   or not budget >= 0):
            raise ValueError(f"StageConfig.device_data_budget_gb must be None or a number >= 0, got {budget!r}")
        if not isinstance(self.seed, int):
            raise ValueError(f"StageConfig.seed must be an int, got {self.seed!r}")

    @property
    def iterations(self) -> int:
        """Iterations (one batch, ``generator_steps_per_iteration`` G updates, one D update)."""
        return math.ceil(self.steps / self.generator_steps_per_iteration)

    def fingerprint_fields(self) -> dict[str, Any]:
        """Fields that change the result (device, logging and name excluded)."""
        data = asdict(self)
        for key in ("name", "device", "log_every_n_steps", "channels_last", "compile", "device_data_budget_gb"):
            data.pop(key)
        return data



def trainable_parameters(modules: list[nn.Module]) -> list[nn.Parameter]:
    """Parameters of ``modules`` that require gradients, each once, in module order."""
    seen: set[int] = set()
    params = []
    for module in modules:
        for p in module.parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                params.append(p)
    return params


def adam(params: list[nn.Parameter], lr: float, betas: tuple[float, float]) -> Optimizer:
    """Adam: the fused kernel (one launch for all parameters) when every parameter is on a GPU;
    otherwise the multi-tensor (``foreach``) implementation, which gives the same bits as
    torch's per-parameter default on the CPU (tested) in a fraction of its time."""
    if params and all(p.is_cuda for p in params):
        return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
    return torch.optim.Adam(params, lr=lr, betas=betas, foreach=True)


@dataclass
class StageRun:
    """The state of one run of a stage, trained in place and checkpointed at every record.

    Attributes:
        config: the stage's settings.
        generators, discriminators: the method's modules of each side.
        opt_g, opt_d: Adam per side (``opt_d`` is None when no discriminator parameter trains).
        schedulers: one cosine schedule per optimiser (none without ``config.cosine``).
        history: the records so far; best: the best validated weights so far.
        iteration: iterations done; step: generator updates done.
        g_means, d_means: training losses since the last record.
    """

    config: StageConfig
    generators: list[nn.Module]
    discriminators: list[nn.Module]
    opt_g: Optimizer
    opt_d: Optimizer | None
    schedulers: list[LRScheduler]
    history: TrainingHistory
    best: BestWeights = field(default_factory=BestWeights)
    iteration: int = 0
    step: int = 0
    g_means: RunningMeans = field(default_factory=RunningMeans)
    d_means: RunningMeans = field(default_factory=RunningMeans)

    @classmethod
    def start(
        cls, config: StageConfig, generators: list[nn.Module], discriminators: list[nn.Module]
    ) -> StageRun:
        """A fresh run: Adam(betas) per side and, with ``cosine``, CosineAnnealingLR to 0 over
        the stage's iterations. Raises ValueError when no generator parameter trains."""
        g_params = trainable_parameters(generators)
        d_params = trainable_parameters(discriminators)
        if not g_params:
            raise ValueError(f"stage {config.name!r}: the method has no trainable generator parameters")
        opt_g = adam(g_params, config.lr_generator, config.betas)
        opt_d = adam(d_params, config.lr_discriminator, config.betas) if d_params else None
        optimizers = [o for o in (opt_g, opt_d) if o is not None]
        schedulers: list[LRScheduler] = (
            [CosineAnnealingLR(o, T_max=config.iterations) for o in optimizers]
            if config.cosine
            else []
        )
        return cls(config, generators, discriminators, opt_g, opt_d, schedulers,
                   TrainingHistory(stage=config.name))

    @property
    def optimizers(self) -> list[Optimizer]:
        """The generator optimiser, then the discriminator's when there is one."""
        return [o for o in (self.opt_g, self.opt_d) if o is not None]

    @property
    def discriminator_parameters(self) -> list[nn.Parameter]:
        """What the discriminator optimiser trains (empty without one)."""
        if self.opt_d is None:
            return []
        return [p for group in self.opt_d.param_groups for p in group["params"]]

    @property
    def finished(self) -> bool:
        """Whether the stage's budget of generator updates is spent."""
        return self.step >= self.config.steps
