"""One adversarial training engine for every method (UP-GAN phases, fine-tune, pix2pix, PAN, MedGAN).

A method plugs in its networks and losses through :class:`TrainingMethod`; :func:`train_stage`
runs the loop once for all: optimisers and cosine schedule (:mod:`upgan.training.stage`), seeded
shuffling (:mod:`upgan.training.data`), validation metrics (:func:`evaluate`), best-weight
selection (:mod:`upgan.training.history`), checkpointing and resume
(:mod:`upgan.training.checkpoint`).
"""

from __future__ import annotations

import logging
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from upgan.training.checkpoint import (
    cpu_state,
    load_states,
    resume,
    save_checkpoint,
    stage_fingerprint,
)
from upgan.training.data import BatchStream, SlicePairs, StageData, stage_data
from upgan.training.history import BestWeights, TrainingHistory, select_best
from upgan.training.stage import StageConfig, StageRun, autocast, resolve_device
from upgan.training.validation import VALIDATION_BATCH, evaluate_batches

logger = logging.getLogger(__name__)

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


def _set_requires_grad(params: list[nn.Parameter], flag: bool) -> None:
    for p in params:
        p.requires_grad_(flag)


def _set_up(method: TrainingMethod, config: StageConfig, device: torch.device) -> StageRun:
    """Networks on ``device`` (channels-last and compiled when asked), a fresh run around them."""
    method.to(device)
    modules = [*method.generator_modules(), *method.discriminator_modules()]
    if config.channels_last:
        for module in modules:
            module.to(memory_format=torch.channels_last)
    if config.compile:
        for module in modules:
            module.compile()  # in place: the method keeps its references
    return StageRun.start(config, method.generator_modules(), method.discriminator_modules())


def _finish(method: TrainingMethod, run: StageRun) -> TrainingHistory:
    """Load the kept weights (the best validated ones; without validation, the last) and close
    the history."""
    history, best = run.history, run.best
    history.updates = run.step
    if best.generators is not None and best.discriminators is not None and best.step is not None:
        history.selected_step = int(best.step)
        load_states(run.generators, best.generators)
        load_states(run.discriminators, best.discriminators)
    else:  # no validation data: the last weights
        history.selected_step = select_best(history.records, keep_initial=run.config.keep_initial)
    method.set_train_mode(False)
    shown = {k: round(v, 5) for k, v in history.selected().items()
             if k in ("val_mae", "val_ssim", "val_psnr")}
    logger.info("stage %s: %d updates, kept the weights of step %d (%s)", run.config.name,
                run.step, history.selected_step, shown)
    return history


def _record_due(config: StageConfig, before: int, after: int) -> bool:
    """Whether the updates ``before -> after`` crossed a multiple of ``val_every`` or ended the
    stage."""
    crossed = config.val_every is not None and after // config.val_every > before // config.val_every
    return crossed or after >= config.steps


class _StageLoop:
    """The loop of one stage on its data (resident on the device or streamed), and its records.

    Args:
        checkpoint: ``(path, fingerprint)`` of the checkpoint written at every record, or None.
        on_record: called with each record after its checkpoint.
    """

    def __init__(
        self, method: TrainingMethod, run: StageRun, data: StageData, device: torch.device,
        checkpoint: tuple[Path, str] | None, on_record: Callable[[dict[str, float]], None] | None,
        progress: bool,
    ) -> None:
        self.method, self.run, self.data, self.device = method, run, data, device
        self.checkpoint, self.on_record, self.progress = checkpoint, on_record, progress
        config = run.config
        self.stream = BatchStream(data.n_train, config.batch_size, config.seed)
        self.bar = tqdm(total=config.steps, initial=run.step, desc=config.name,
                        disable=not progress, unit="step")
        self.started = time.perf_counter()

    def train(self) -> None:
        """Iterate until the budget is spent, recording at step 0 (fresh runs), every
        ``val_every`` generator updates and at the end."""
        run, config = self.run, self.run.config
        if not run.history.records:
            self.record()
        self.method.set_train_mode(True)
        while not run.finished:
            before = run.step
            g_loss = self.iteration()
            self.bar.update(run.step - before)
            if self.progress and run.iteration % config.log_every_n_steps == 0:
                self.bar.set_postfix({"g": f"{float(g_loss.detach()):.4g}"})
            if _record_due(config, before, run.step):
                self.record()
        self.bar.close()

    def iteration(self) -> Tensor:
        """One batch: the generator updates, one discriminator update, a schedule step; returns
        the last generator loss."""
        run = self.run
        x, y = self.data.train_batch(self.stream.indices(run.iteration))
        if run.step + self.run.config.generator_steps_per_iteration < run.config.steps:
            self.data.prefetch(self.stream.indices(run.iteration + 1))
        g_loss, fake = self.generator_updates(x, y)
        self.discriminator_update(x, y, fake)
        for sched in run.schedulers:
            sched.step()
        run.iteration += 1
        return g_loss

    def generator_updates(self, x: Tensor, y: Tensor) -> tuple[Tensor, Any]:
        """``generator_steps_per_iteration`` updates (fewer when the budget ends) on batch
        ``x (B, C', H, W)``, ``y (B, 1, H, W)``; no discriminator gradients. Returns the last loss
        and the last (detached) fake."""
        run, config = self.run, self.run.config
        d_params = run.discriminator_parameters
        _set_requires_grad(d_params, False)
        g_loss: Tensor | None = None
        fake: Any = None
        for _ in range(min(config.generator_steps_per_iteration, config.steps - run.step)):
            self.method.on_step(run.step, config.steps)
            with autocast(self.device, config.bf16):
                g_loss, g_logs, fake = self.method.generator_loss(x, y)
            run.opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            run.opt_g.step()
            run.step += 1
            run.g_means.add({"g_loss": g_loss, **g_logs})
        _set_requires_grad(d_params, True)
        assert g_loss is not None  # the loop runs only while the budget is not spent
        return g_loss, fake

    def discriminator_update(self, x: Tensor, y: Tensor, fake: Any) -> None:
        """One discriminator update on the batch and the last fake (none without one)."""
        run = self.run
        if run.opt_d is None:
            return
        with autocast(self.device, run.config.bf16):
            d_loss, d_logs = self.method.discriminator_loss(x, y, fake)
        run.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        run.opt_d.step()
        run.d_means.add({"d_loss": d_loss, **d_logs})

    def record(self) -> None:
        """Add a record (training means, validation), then checkpoint, show and report it."""
        run = self.run
        record = self.training_means()
        if self.data.has_validation:
            record.update(self.validate())
        record["seconds"] = time.perf_counter() - self.started
        run.history.records.append(record)
        if self.checkpoint is not None:
            save_checkpoint(run, *self.checkpoint, self.device)
        shown = {k: round(v, 5) for k, v in record.items()
                 if k in ("g_loss", "d_loss", "val_mae", "val_ssim") and not math.isnan(v)}  # none before step 1
        self.bar.set_postfix(shown)
        logger.info("stage %s step %d/%d: %s", run.config.name, run.step, run.config.steps, shown)
        if self.on_record is not None:
            self.on_record(record)

    def training_means(self) -> dict[str, float]:
        """Step, learning rates and the losses' means since the last record (NaN when none);
        FloatingPointError when the generator loss is not finite."""
        run = self.run
        record: dict[str, float] = {
            "step": run.step, "lr": run.opt_g.param_groups[0]["lr"],
            "lr_discriminator": run.opt_d.param_groups[0]["lr"] if run.opt_d is not None else math.nan,
            "g_loss": math.nan, "d_loss": math.nan,
        }
        trained = run.g_means.count > 0
        for means in (run.g_means, run.d_means):
            for key, value in means.drain().items():
                record[key if key in ("g_loss", "d_loss") else f"train_{key}"] = value
        if trained and not math.isfinite(record["g_loss"]):
            raise FloatingPointError(
                f"stage {run.config.name!r}: generator loss is {record['g_loss']} at step {run.step}"
            )
        return record

    def validate(self) -> dict[str, float]:
        """:func:`evaluate` on the validation slices; keeps the weights when they are the best
        eligible so far (step 0 only with ``keep_initial``)."""
        run, config = self.run, self.run.config
        batches = self.data.validation_batches(max(config.batch_size, VALIDATION_BATCH))
        metrics = evaluate_batches(self.method, batches, self.device, config.bf16)
        self.method.set_train_mode(True)
        eligible = run.step > 0 or config.keep_initial
        if eligible and metrics["val_mae"] < run.best.mae:
            run.best = BestWeights(run.step, metrics["val_mae"],
                                   [cpu_state(m) for m in run.generators],
                                   [cpu_state(m) for m in run.discriminators])
        return metrics


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
    same device. The prepared data stay on the device when they fit
    ``config.device_data_budget_gb``, else they are streamed from host memory with prefetch
    (:func:`upgan.training.data.stage_data`; the same batches either way).

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
    if config.batch_size > len(train.inputs):  # settings were refused up front where the bound is known
        logger.warning("stage %s: batch_size %d is larger than its training set (%d slices): every batch "
                       "repeats slices", config.name, config.batch_size, len(train.inputs))
    device = resolve_device(config.device)
    path = Path(checkpoint_path) if checkpoint_path is not None else None
    fingerprint = stage_fingerprint(method, train, val, config)
    run = _set_up(method, config, device)
    if path is not None and path.exists():
        resume(run, path, fingerprint, device)
    if run.finished:
        logger.info("stage %s already finished; loading its selected weights", config.name)
        return _finish(method, run)
    data = stage_data(method.prepare_inputs, train, val, device, config.channels_last,
                      config.device_data_budget_gb, config.name)
    logger.info(
        "stage %s: %d slices, %d generator updates (%d iterations of %d), validation every %s on %s",
        config.name, data.n_train, config.steps, config.iterations, config.batch_size,
        config.val_every or "end", device,
    )
    checkpoint = (path, fingerprint) if path is not None else None
    loop = _StageLoop(method, run, data, device, checkpoint, on_record, progress)
    try:
        loop.train()
    finally:
        data.close()
    seconds = time.perf_counter() - loop.started
    logger.info("stage %s: %d updates in %.1f s: %.2f updates/s (%s data, validation included)",
                config.name, run.step, seconds, run.step / max(seconds, 1e-9), data.path)
    return _finish(method, run)
