"""One adversarial training engine for every method (UP-GAN phases, fine-tune, pix2pix, PAN, MedGAN).

A method plugs in its networks and losses through :class:`TrainingMethod`; the loop, optimisers,
cosine schedule, seeded shuffling, validation metrics, checkpointing and resume live here once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from upgan.metrics import mae, psnr, ssim
from upgan.preparation.normalisation import VALID_RANGE

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 2

#: Slices per forward pass when validating (eval mode: the batch size does not change the result).
VALIDATION_BATCH = 64


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> cuda when available, else cpu; anything else is passed to ``torch.device``."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@dataclass
class SlicePairs:
    """Paired 2-D slices: inputs ``(N, C, H, W)`` and targets ``(N, 1, H, W)``, float32.

    Validated on construction (4-D, same N, H, W, one target channel, finite values); floating
    inputs of another dtype are converted to float32.
    """

    inputs: Tensor
    targets: Tensor

    def __post_init__(self) -> None:
        for name in ("inputs", "targets"):
            value = getattr(self, name)
            if not isinstance(value, Tensor):
                raise ValueError(f"SlicePairs.{name} must be a torch.Tensor, got {type(value)}")
            if value.ndim != 4:
                raise ValueError(
                    f"SlicePairs.{name} must be (N, C, H, W), got shape {tuple(value.shape)}"
                )
            if not value.is_floating_point():
                raise ValueError(f"SlicePairs.{name} must be floating point, got {value.dtype}")
            if value.dtype != torch.float32:
                setattr(self, name, value.float())
        if self.targets.shape[1] != 1:
            raise ValueError(f"SlicePairs.targets must have 1 channel, got {self.targets.shape[1]}")
        if self.inputs.shape[0] != self.targets.shape[0]:
            raise ValueError(
                f"SlicePairs: inputs have {self.inputs.shape[0]} slices, targets "
                f"{self.targets.shape[0]}"
            )
        if self.inputs.shape[-2:] != self.targets.shape[-2:]:
            raise ValueError(
                f"SlicePairs: inputs are {tuple(self.inputs.shape[-2:])} pixels, targets "
                f"{tuple(self.targets.shape[-2:])}"
            )
        if self.inputs.shape[0] == 0:
            raise ValueError("SlicePairs is empty")
        for name in ("inputs", "targets"):
            if not bool(torch.isfinite(getattr(self, name)).all()):
                raise ValueError(f"SlicePairs.{name} contains NaN or inf")

    def __len__(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def in_channels(self) -> int:
        """C."""
        return int(self.inputs.shape[1])

    def digest(self) -> str:
        """Cheap content fingerprint (shapes and float64 sums), used to key checkpoints."""
        parts = []
        for t in (self.inputs, self.targets):
            t64 = t.double()
            parts.append(f"{tuple(t.shape)}:{float(t64.sum()):.12e}:{float(t64.square().sum()):.12e}")
        return "|".join(parts)


@dataclass(frozen=True)
class StageConfig:
    """Settings of one training stage (one call of :func:`train_stage`).

    The budget is counted in optimiser updates of the generator (``steps``), the same unit for
    every method: MedGAN's extra generator updates per discriminator update count against it.

    Attributes:
        name: stage name (logs, progress bar).
        steps: generator updates of the stage (the budget).
        batch_size: slices per iteration; batches are drawn in order from seeded per-epoch
            permutations of the training set, crossing epoch boundaries (every batch is full).
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
        if not isinstance(self.seed, int):
            raise ValueError(f"StageConfig.seed must be an int, got {self.seed!r}")

    @property
    def iterations(self) -> int:
        """Iterations (one batch, ``generator_steps_per_iteration`` G updates, one D update)."""
        return math.ceil(self.steps / self.generator_steps_per_iteration)

    def fingerprint_fields(self) -> dict[str, Any]:
        """Fields that change the result (device, logging and name excluded)."""
        data = asdict(self)
        for key in ("name", "device", "log_every_n_steps", "channels_last", "compile"):
            data.pop(key)
        return data


class TrainingMethod(ABC):
    """What a method supplies to :func:`train_stage`: networks and losses, nothing else.

    Subclasses implement the five abstract members. All tensors handed to them are already on
    the training device; ``inputs`` are whatever :meth:`prepare_inputs` returned for the data.
    """

    @abstractmethod
    def generator_modules(self) -> list[nn.Module]:
        """Modules whose parameters the generator optimiser trains."""
        raise NotImplementedError

    @abstractmethod
    def discriminator_modules(self) -> list[nn.Module]:
        """Modules whose parameters the discriminator optimiser trains (may be empty)."""
        raise NotImplementedError

    @abstractmethod
    def generator_loss(self, inputs: Tensor, targets: Tensor) -> tuple[Tensor, dict[str, Tensor], Any]:
        """``(scalar loss, {name: detached scalar tensor}, fake_for_d)``.

        ``fake_for_d`` is passed unchanged to :meth:`discriminator_loss`; it must already be
        detached from the generator graph.
        """
        raise NotImplementedError

    @abstractmethod
    def discriminator_loss(
        self, inputs: Tensor, targets: Tensor, fake: Any
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """``(scalar loss, {name: detached scalar tensor})``."""
        raise NotImplementedError

    @abstractmethod
    def predict(self, inputs: Tensor) -> Tensor:
        """The method's image prediction ``(B, 1, H, W)`` (called under no_grad, eval mode)."""
        raise NotImplementedError

    # ---- optional hooks -------------------------------------------------------------------
    def validation_outputs(self, inputs: Tensor, targets: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Prediction and extra validation numbers (batch means, scalar tensors) in one go."""
        return self.predict(inputs), {}

    def on_step(self, step: int, total: int) -> None:  # noqa: B027 - an optional hook, no-op by default
        """Called before generator update ``step`` (0-based) of ``total``; e.g. loss curricula."""

    def prepare_inputs(self, inputs: Tensor) -> Tensor:
        """Map raw inputs ``(N, C, H, W)`` (on device) once per stage to what the losses consume."""
        return inputs

    def set_train_mode(self, training: bool) -> None:
        """Put the trainable modules in train (True) or eval (False) mode."""
        for module in self.generator_modules() + self.discriminator_modules():
            module.train(training)

    def to(self, device: torch.device) -> None:
        """Move every network to ``device``."""
        for module in self.generator_modules() + self.discriminator_modules():
            module.to(device)

    def describe(self) -> dict[str, Any]:
        """JSON-able description that keys checkpoints (override to add architecture details)."""
        return {"method": type(self).__name__}


@dataclass
class TrainingHistory:
    """Validation records of a stage: ``records[i]`` holds ``step`` (generator updates so far),
    ``lr``, ``g_loss``, ``d_loss`` and ``train_*`` (means since the previous record; NaN at step
    0), ``val_mae``, ``val_psnr``, ``val_ssim`` and ``val_*`` extras.

    Attributes:
        updates: generator updates the stage made in total.
        selected_step: the step whose weights were kept (lowest ``val_mae``; the last step when
            there is no validation data).
        resumed_from_step: the step a resumed run started from (0 for a fresh run).
    """

    stage: str
    records: list[dict[str, float]] = field(default_factory=list)
    updates: int = 0
    selected_step: int = 0
    resumed_from_step: int = 0

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[dict[str, float]]:
        return iter(self.records)

    def __getitem__(self, index: int) -> dict[str, float]:
        return self.records[index]

    def metric(self, name: str) -> list[float]:
        """One column across records."""
        return [r[name] for r in self.records]

    def last(self) -> dict[str, float]:
        """The final record (empty dict when none)."""
        return self.records[-1] if self.records else {}

    def selected(self) -> dict[str, float]:
        """The record of the kept weights (empty dict when none)."""
        for record in self.records:
            if int(record["step"]) == self.selected_step:
                return record
        return {}


def select_best(records: list[dict[str, float]], key: str = "val_mae", keep_initial: bool = True) -> int:
    """Step of the record with the lowest finite ``key`` (the earliest on ties); the last
    record's step when none has a finite value (e.g. no validation data). Without
    ``keep_initial`` the step-0 record is not eligible (unless it is the only one)."""
    best_step, best_value = None, math.inf
    for record in records:
        if not keep_initial and int(record["step"]) == 0 and len(records) > 1:
            continue
        value = record.get(key, math.nan)
        if math.isfinite(value) and value < best_value:
            best_step, best_value = int(record["step"]), value
    if best_step is None:
        return int(records[-1]["step"]) if records else 0
    return best_step


def _epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch * 7_919 + 12_345) % (2**63 - 1)


def _params(modules: list[nn.Module]) -> list[nn.Parameter]:
    seen: set[int] = set()
    params = []
    for module in modules:
        for p in module.parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                params.append(p)
    return params


def stage_fingerprint(
    method: TrainingMethod, train: SlicePairs, val: SlicePairs | None, config: StageConfig
) -> str:
    """sha256 of what determines a stage's result: method description, config, data digests."""
    payload = {
        "format": CHECKPOINT_FORMAT,
        "method": method.describe(),
        "config": config.fingerprint_fields(),
        "train": train.digest(),
        "val": val.digest() if val is not None else None,
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _save_atomic(obj: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _autocast(device: torch.device, bf16: bool) -> contextlib.AbstractContextManager[Any]:
    if bf16 and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _accumulate(sums: dict[str, Tensor], values: dict[str, Tensor]) -> None:
    for key, value in values.items():
        value = value.detach().float()
        sums[key] = sums[key] + value if key in sums else value


def _set_requires_grad(params: list[nn.Parameter], flag: bool) -> None:
    for p in params:
        p.requires_grad_(flag)


class BatchStream:
    """Seeded batch indices that cross epoch boundaries: iteration k takes positions
    ``[k * B, (k + 1) * B)`` of the concatenation of per-epoch permutations, the permutation of
    epoch e drawn from a ``torch.Generator`` seeded with (seed, e). Stateless in k, so a resumed
    stage draws exactly the batches an uninterrupted one would.
    """

    def __init__(self, n: int, batch_size: int, seed: int) -> None:
        if n < 1:
            raise ValueError("BatchStream needs at least one slice")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self._cache: dict[int, Tensor] = {}

    def _permutation(self, epoch: int) -> Tensor:
        if epoch not in self._cache:
            self._cache = {epoch: torch.randperm(
                self.n, generator=torch.Generator().manual_seed(_epoch_seed(self.seed, epoch))
            )}
        return self._cache[epoch]

    def indices(self, iteration: int) -> Tensor:
        """``(batch_size,)`` int64 indices of iteration ``iteration`` (CPU)."""
        start = iteration * self.batch_size
        parts, taken = [], 0
        while taken < self.batch_size:
            epoch, offset = divmod(start + taken, self.n)
            chunk = self._permutation(epoch)[offset : offset + self.batch_size - taken]
            parts.append(chunk)
            taken += int(chunk.numel())
        return torch.cat(parts)


@torch.no_grad()
def evaluate(
    method: TrainingMethod, inputs: Tensor, targets: Tensor, batch_size: int, device: torch.device,
    bf16: bool = False, clip: tuple[float, float] | None = VALID_RANGE,
) -> dict[str, float]:
    """Validation metrics averaged over slices: ``val_mae``, ``val_psnr``, ``val_ssim``, ``val_*``.

    ``inputs``/``targets`` are device-resident (prepared) tensors. Predictions are clipped to
    ``clip`` (the valid range of the normalised scale, as in scoring) before the metrics. PSNR
    averages finite values only (a perfect slice would otherwise make the mean inf). One host
    sync at the end.
    """
    method.set_train_mode(False)
    sums: dict[str, Tensor] = {}
    psnr_count = torch.zeros((), device=device)
    n = inputs.shape[0]
    for start in range(0, n, batch_size):
        x = inputs[start : start + batch_size]
        y = targets[start : start + batch_size]
        with _autocast(device, bf16):
            pred, extras = method.validation_outputs(x, y)
        pred = pred.float()
        if clip is not None:
            pred = pred.clamp(*clip)
        p = psnr(pred, y)
        finite = torch.isfinite(p)
        values = {
            "val_mae": mae(pred, y).sum(),
            "val_psnr": torch.where(finite, p, torch.zeros_like(p)).sum(),
            "val_ssim": ssim(pred, y).sum(),
        }
        psnr_count = psnr_count + finite.sum()
        for key, value in extras.items():
            values[f"val_{key}"] = value.detach().float() * x.shape[0]
        for key, value in values.items():
            sums[key] = sums.get(key, torch.zeros((), device=device)) + value
    result = {k: float(v) / n for k, v in sums.items()}
    count = int(psnr_count)
    result["val_psnr"] = float(sums["val_psnr"]) / count if count else math.inf
    return result


def cpu_state(module: nn.Module) -> dict[str, Tensor]:
    """State dict as independent contiguous CPU tensors (safetensors-ready)."""
    return {k: v.detach().to("cpu").clone().contiguous() for k, v in module.state_dict().items()}


def _states(modules: list[nn.Module]) -> list[dict[str, Tensor]]:
    return [cpu_state(m) for m in modules]


def _load(modules: list[nn.Module], states: list[dict[str, Tensor]]) -> None:
    for module, sd in zip(modules, states, strict=True):
        module.load_state_dict(sd)


def train_stage(
    method: TrainingMethod,
    train: SlicePairs,
    val: SlicePairs | None,
    config: StageConfig,
    checkpoint_path: Path | str | None = None,
    progress: bool = True,
    on_record: Callable[[dict[str, float]], None] | None = None,
) -> TrainingHistory:
    """Train a method for ``config.steps`` generator updates, keep the best validated weights;
    resumable from ``checkpoint_path``.

    Per iteration: ``generator_steps_per_iteration`` generator updates (fewer in the last
    iteration, so the stage makes exactly ``steps``; each calls ``method.on_step`` then
    ``method.generator_loss``, which also yields the detached fake), then one discriminator
    update on the last fake. Adam(betas) per side; cosine lr stepped every iteration; batches
    from :class:`BatchStream`, so a resumed run is bit-identical to an uninterrupted one on the
    same device. Data stays on the device.

    Validation (clipped predictions, :func:`evaluate`) runs at step 0, every ``val_every``
    generator updates and at the end; each adds a record to the history. The weights (generator
    and discriminator) of the record with the lowest ``val_mae`` are loaded into the method at
    the end (:func:`select_best`; without validation data, the last). Test data never choose.

    A checkpoint is written atomically at every record (networks, optimisers, schedulers, torch
    RNG state, step, history, the best weights so far and a fingerprint of method, config and
    data); it loads with ``torch.load(weights_only=True)``. When the file exists with a matching
    fingerprint training resumes there (a finished stage loads its selected weights and returns
    at once); a mismatching fingerprint raises a ValueError naming the file.

    ``on_record(record)`` runs after each record's checkpoint (e.g. for MLflow logging).
    """
    device = resolve_device(config.device)
    checkpoint_path = Path(checkpoint_path) if checkpoint_path is not None else None
    fingerprint = stage_fingerprint(method, train, val, config)
    method.to(device)
    if config.channels_last:
        for module in [*method.generator_modules(), *method.discriminator_modules()]:
            module.to(memory_format=torch.channels_last)
    if config.compile:
        for module in [*method.generator_modules(), *method.discriminator_modules()]:
            module.compile()  # in place: the method keeps its references
    g_modules, d_modules = method.generator_modules(), method.discriminator_modules()
    g_params = _params(g_modules)
    d_params = _params(d_modules)
    if not g_params:
        raise ValueError(f"stage {config.name!r}: the method has no trainable generator parameters")
    opt_g = torch.optim.Adam(g_params, lr=config.lr_generator, betas=config.betas)
    opt_d = (
        torch.optim.Adam(d_params, lr=config.lr_discriminator, betas=config.betas)
        if d_params
        else None
    )
    optimizers = [o for o in (opt_g, opt_d) if o is not None]
    total_iterations = config.iterations
    schedulers = (
        [torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=total_iterations) for o in optimizers]
        if config.cosine
        else []
    )
    history = TrainingHistory(stage=config.name)
    iteration, g_count = 0, 0
    best: dict[str, Any] = {"step": None, "mae": math.inf, "g": None, "d": None}
    if checkpoint_path is not None and checkpoint_path.exists():
        state = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
        if state.get("fingerprint") != fingerprint:
            raise ValueError(
                f"checkpoint {checkpoint_path} belongs to a different stage, method, config or data "
                "(fingerprint mismatch); delete it or set training.checkpoint_dir elsewhere"
            )
        _load(g_modules, state["generator_states"])
        _load(d_modules, state["discriminator_states"])
        for opt, sd in zip(optimizers, state["optimizers"], strict=True):
            opt.load_state_dict(sd)
        for sched, sd in zip(schedulers, state["schedulers"], strict=True):
            sched.load_state_dict(sd)
        torch.set_rng_state(state["torch_rng"])
        if device.type == "cuda" and "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"], device)
        iteration, g_count = int(state["iteration"]), int(state["step"])
        best = {"step": state["best_step"], "mae": float(state["best_mae"]),
                "g": state["best_generator_states"], "d": state["best_discriminator_states"]}
        history.records = list(state["history"])
        history.resumed_from_step = g_count
        logger.info("stage %s: resuming from %s at step %d", config.name, checkpoint_path, g_count)

    def finish() -> TrainingHistory:
        history.updates = g_count
        if best["g"] is not None:  # the kept weights are those of the best validated step
            history.selected_step = int(best["step"])
            _load(g_modules, best["g"])
            _load(d_modules, best["d"])
        else:  # no validation data: the last weights
            history.selected_step = select_best(history.records, keep_initial=config.keep_initial)
        method.set_train_mode(False)
        logger.info("stage %s: %d updates, kept the weights of step %d (%s)", config.name, g_count,
                    history.selected_step, {k: round(v, 5) for k, v in history.selected().items()
                                            if k.startswith("val_") and k in ("val_mae", "val_ssim", "val_psnr")})
        return history

    if g_count >= config.steps:
        logger.info("stage %s already finished; loading its selected weights", config.name)
        return finish()

    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    train_x = method.prepare_inputs(train.inputs.to(device)).contiguous(memory_format=memory_format)
    train_y = train.targets.to(device).contiguous(memory_format=memory_format)
    if val is not None:
        val_x = method.prepare_inputs(val.inputs.to(device)).contiguous(memory_format=memory_format)
        val_y = val.targets.to(device).contiguous(memory_format=memory_format)
    stream = BatchStream(train_x.shape[0], config.batch_size, config.seed)
    logger.info(
        "stage %s: %d slices, %d generator updates (%d iterations of %d), validation every %s on %s",
        config.name, train_x.shape[0], config.steps, total_iterations, config.batch_size,
        config.val_every or "end", device,
    )
    g_sums: dict[str, Tensor] = {}
    d_sums: dict[str, Tensor] = {}
    counts = {"g": 0, "d": 0}

    def record_point(started: float) -> None:
        record: dict[str, float] = {
            "step": g_count, "lr": opt_g.param_groups[0]["lr"],
            "lr_discriminator": opt_d.param_groups[0]["lr"] if opt_d is not None else math.nan,
            "g_loss": math.nan, "d_loss": math.nan,
        }
        for sums, count in ((g_sums, counts["g"]), (d_sums, counts["d"])):
            for key, value in sums.items():
                name = key if key in ("g_loss", "d_loss") else f"train_{key}"
                record[name] = float(value) / max(count, 1)
        if counts["g"] and not math.isfinite(record["g_loss"]):
            raise FloatingPointError(
                f"stage {config.name!r}: generator loss is {record['g_loss']} at step {g_count}"
            )
        g_sums.clear()
        d_sums.clear()
        counts.update(g=0, d=0)
        if val is not None:
            record.update(evaluate(method, val_x, val_y, max(config.batch_size, VALIDATION_BATCH),
                                   device, config.bf16))
            method.set_train_mode(True)
            eligible = g_count > 0 or config.keep_initial
            if eligible and record["val_mae"] < best["mae"]:
                best.update(step=g_count, mae=record["val_mae"], g=_states(g_modules), d=_states(d_modules))
        record["seconds"] = time.perf_counter() - started
        history.records.append(record)
        if checkpoint_path is not None:
            state = {
                "format": CHECKPOINT_FORMAT,
                "fingerprint": fingerprint,
                "stage": config.name,
                "step": g_count,
                "iteration": iteration,
                "history": history.records,
                "generator_states": _states(g_modules),
                "discriminator_states": _states(d_modules),
                "optimizers": [o.state_dict() for o in optimizers],
                "schedulers": [s.state_dict() for s in schedulers],
                "torch_rng": torch.get_rng_state(),
                "best_step": best["step"],
                "best_mae": best["mae"],
                "best_generator_states": best["g"],
                "best_discriminator_states": best["d"],
            }
            if device.type == "cuda":
                state["cuda_rng"] = torch.cuda.get_rng_state(device)
            _save_atomic(state, checkpoint_path)
        shown = {k: round(v, 5) for k, v in record.items() if k in ("g_loss", "d_loss", "val_mae", "val_ssim")}
        bar.set_postfix(shown)
        logger.info("stage %s step %d/%d: %s", config.name, g_count, config.steps, shown)
        if on_record is not None:
            on_record(record)

    bar = tqdm(total=config.steps, initial=g_count, desc=config.name, disable=not progress, unit="step")
    started = time.perf_counter()
    if not history.records:
        record_point(started)
    method.set_train_mode(True)
    while g_count < config.steps:
        idx = stream.indices(iteration).to(device)
        x = train_x[idx]
        y = train_y[idx]
        fake: Any = None
        _set_requires_grad(d_params, False)  # no D gradients from the generator loss
        before = g_count
        for _ in range(min(config.generator_steps_per_iteration, config.steps - g_count)):
            method.on_step(g_count, config.steps)
            with _autocast(device, config.bf16):
                g_loss, g_logs, fake = method.generator_loss(x, y)
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()
            g_count += 1
            counts["g"] += 1
            _accumulate(g_sums, {"g_loss": g_loss, **g_logs})
        _set_requires_grad(d_params, True)
        if opt_d is not None:
            with _autocast(device, config.bf16):
                d_loss, d_logs = method.discriminator_loss(x, y, fake)
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            counts["d"] += 1
            _accumulate(d_sums, {"d_loss": d_loss, **d_logs})
        for sched in schedulers:
            sched.step()
        iteration += 1
        bar.update(g_count - before)
        if progress and iteration % config.log_every_n_steps == 0:
            bar.set_postfix({"g": f"{float(g_loss.detach()):.4g}"})
        crossed = config.val_every is not None and g_count // config.val_every > before // config.val_every
        if crossed or g_count >= config.steps:
            record_point(started)
    bar.close()
    return finish()
