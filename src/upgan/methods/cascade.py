"""The UP-GAN cascade as a method plug-in: its cell, its training steps, its prediction and its
report rows, for every configuration of it (UP-GAN, its ablation and its variants,
:mod:`upgan.methods.upgan`).

A configuration is the ``upgan`` parameter block updated by the method's fixed ``overrides``
(merged key by key, blocks recursively), so that e.g. the ablation is UP-GAN with
``guidance.input: none`` whatever else the block says. The cell:

``train_phase_0 -> ... -> train_phase_{M-1} -> fine_tune -> summarise_phases``

Each phase node takes the earlier phases' bundles from the catalog and writes its own; with
``fine_tune.steps: 0`` (the authors' code has no joint fine-tuning) an ``assemble`` node packs
the phases into the model bundle instead of ``fine_tune``.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from upgan.inference import predict_phases
from upgan.io.bundle import ModelBundle
from upgan.losses import UPGANLossWeights
from upgan.methods.prediction import Prediction
from upgan.methods.registry import (
    TRAINING_DATA,
    CellJob,
    CellStep,
    LoggedHistory,
    MethodPlugin,
    StepResult,
)
from upgan.models import (
    UPGAN,
    CascadeConfig,
    UncertaintyUNet,
    cascade_config_from_dict,
    get_guidance,
)
from upgan.training import fine_tune, state_digest, train_phase

logger = logging.getLogger(__name__)

PARAMS = ("params:upgan", "params:training")


def merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``overrides`` (deep copies; blocks merged recursively)."""
    out = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def check_steps(value: Any, key: str, minimum: int = 1) -> int:
    """``value`` if it is an int >= ``minimum`` (a number of generator updates), else ValueError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{key} must be an int >= {minimum} (generator updates), got {value!r}")
    return value


def cascade_from_states(cfg: CascadeConfig, states: Sequence[Mapping[str, torch.Tensor]]) -> UPGAN:
    """Rebuild a cascade from its config and the generators' state dicts (phase order)."""
    generators = []
    for m, state in enumerate(states):
        g = UncertaintyUNet(cfg.generator_config(m))
        g.load_state_dict(state)
        generators.append(g)
    return UPGAN(generators, guidance=cfg.guidance, residual_to=cfg.residual_to)


def cascade_from_bundle(bundle: ModelBundle, prefix: str = "generator_") -> UPGAN:
    """Rebuild a trained cascade from a cell's model bundle (generators ``generator_<m>``)."""
    cfg = cascade_config_from_dict(bundle.config["cascade"])
    stored = sorted(p for p in bundle.prefixes() if p.startswith(prefix))
    expected = sorted(f"{prefix}{m}" for m in range(cfg.n_phases))
    if stored != expected:
        raise ValueError(f"model bundle: its config says M = {cfg.n_phases} phases but it holds the "
                         f"generators {stored}; the bundle is inconsistent (retrain or re-export it)")
    return cascade_from_states(cfg, [bundle.state_dict(f"{prefix}{m}") for m in range(cfg.n_phases)])


def _numpy(outputs) -> list[dict[str, np.ndarray]]:
    return [{k: getattr(o, k).numpy() for k in ("image", "alpha", "beta", "sigma")} for o in outputs]


class CascadeMethod(MethodPlugin):
    """One configuration of the UP-GAN cascade (``overrides`` of the ``upgan`` block)."""

    kind = "cascade"
    has_sigma = True

    def __init__(self, overrides: Mapping[str, Any] | None = None) -> None:
        self.overrides = dict(overrides or {})

    # -------------------------------------------------------------------- configuration
    def options(self, upgan: Mapping[str, Any]) -> dict[str, Any]:
        """The ``upgan`` block as this configuration trains it."""
        return merge(upgan, self.overrides)

    def n_phases(self, upgan: Mapping[str, Any]) -> int:
        """M of this configuration."""
        m = self.options(upgan).get("n_phases", 3)
        if isinstance(m, bool) or not isinstance(m, int) or m < 1:
            raise ValueError(f"upgan.n_phases must be an integer >= 1, got {m!r}")
        return m

    def fine_tune_steps(self, upgan: Mapping[str, Any]) -> int:
        """End-to-end fine-tuning updates (``upgan.fine_tune.steps``; 0: no fine-tuning)."""
        return check_steps(dict(self.options(upgan).get("fine_tune", {})).get("steps"),
                           "upgan.fine_tune.steps", minimum=0)

    def cascade_config(self, upgan: Mapping[str, Any], n_phases: int | None = None, in_channels: int = 1,
                       residual: bool = False) -> CascadeConfig:
        """The cascade from the ``upgan`` block (``residual``: phase 0 adds its image head to
        ``a``'s first channel; ``n_phases``: M as the pipeline was built, default the block's)."""
        opts = self.options(upgan)
        unet = {"in_channels": in_channels, **dict(opts.get("generator", {}))}
        if residual:
            unet["residual_from"] = 0
        guidance = dict(opts.get("guidance") or {})
        unknown = sorted(set(guidance) - {"input"})
        if unknown:
            raise ValueError(f"unknown parameter(s) {[f'upgan.guidance.{k}' for k in unknown]}; known: upgan.guidance.input")
        return cascade_config_from_dict({
            "n_phases": self.n_phases(upgan) if n_phases is None else int(n_phases),
            "guidance": guidance.get("input", "paper_eq4"),
            "residual_to": opts.get("residual_to", "input"),
            "unet": unet,
            "discriminator": dict(opts.get("discriminator", {})),
        })

    def loss_weights(self, upgan: Mapping[str, Any]) -> UPGANLossWeights:
        """The objective's weights and recipe (``upgan.loss``)."""
        return UPGANLossWeights(**dict(self.options(upgan).get("loss", {})))

    def check_parameters(self, parameters: Mapping[str, Any]) -> None:
        upgan = dict(parameters.get("upgan") or {})
        opts = self.options(upgan)
        self.cascade_config(upgan)
        self.loss_weights(upgan)
        for key in ("phase", "fine_tune"):
            if key not in opts:
                raise ValueError(f"parameters upgan.{key} are missing")
        self.fine_tune_steps(upgan)

    # -------------------------------------------------------------------- the cell
    def cell_steps(self, parameters: Mapping[str, Any]) -> list[CellStep]:
        upgan = dict(parameters.get("upgan") or {})
        m_total = self.n_phases(upgan)
        gens = [f"generator_{k}" for k in range(m_total)]
        steps = [CellStep(f"train_phase_{m}", (*TRAINING_DATA, *PARAMS, *gens[:m]),
                          (f"generator_{m}", f"history_phase_{m}"), histories=(f"history_phase_{m}",),
                          tags=(f"phase_{m}",)) for m in range(m_total)]
        if self.fine_tune_steps(upgan):
            steps.append(CellStep("fine_tune", (*TRAINING_DATA, *PARAMS, "params:preparation", *gens),
                                  ("model", "history_fine_tune"), histories=("history_fine_tune",),
                                  tags=("fine_tune",)))
        else:
            steps.append(CellStep("assemble", ("split_manifest", *PARAMS, "params:preparation", *gens),
                                  ("model",), tags=("fine_tune",)))
        steps.append(CellStep("summarise_phases", ("test_slices", "params:training", "model", *gens),
                              ("phase_summary", "phase_figure"), tags=("evaluation",)))
        return steps

    def run_step(self, step: str, job: CellJob) -> StepResult:
        if step.startswith("train_phase_"):
            return self.train_phase(int(step.removeprefix("train_phase_")), job)
        if step in ("fine_tune", "assemble"):
            return self.finish(job, train=step == "fine_tune")
        if step == "summarise_phases":
            return self.summarise(job)
        raise ValueError(f"{job.method}: unknown step {step!r}")

    def _config(self, job: CellJob, upgan: Mapping[str, Any]) -> CascadeConfig:
        in_channels = job.train.in_channels if job.train is not None else 1
        return self.cascade_config(upgan, in_channels=in_channels, residual=job.residual)

    def train_phase(self, phase: int, job: CellJob) -> StepResult:
        """Initialise phase ``phase``: train G_phase and D_phase with the earlier generators
        frozen; the phase bundle holds ``generator`` and ``discriminator``."""
        upgan = job.param("upgan")
        cfg, weights = self._config(job, upgan), self.loss_weights(upgan)
        stage = job.stage(f"phase {phase}", self.options(upgan)["phase"], job.steps, job.seed + 1000 * phase,
                          "upgan.phase")
        frozen = [job.inputs[f"generator_{k}"].state_dict("generator") for k in range(phase)]
        payload = {"phase": phase, "cascade": cfg.to_dict(), "loss": dataclasses.asdict(weights),
                   "frozen": state_digest(frozen)}
        path = job.checkpoint(f"phase_{phase}", stage, payload, job.train, job.val)
        generator, discriminator, history = train_phase(cfg, phase, frozen, job.train, job.val, stage, weights,
                                                        checkpoint_path=path)
        config = {**job.labels(), "phase": phase, "cascade": cfg.to_dict(), "train_subjects": job.subjects}
        logged = LoggedHistory(f"phase_{phase}", {**stage.fingerprint_fields(), **weights.__dict__}, history)
        bundle = ModelBundle.pack({"generator": generator, "discriminator": discriminator}, config)
        return StepResult({f"generator_{phase}": bundle, f"history_phase_{phase}": logged})

    def finish(self, job: CellJob, train: bool) -> StepResult:
        """The cell's model bundle (``generator_<m>``, ``discriminator_<m>`` and the config
        ``upgan predict`` needs): the phases fine-tuned end to end on the sum of their losses, or
        (``train=False``) as they are."""
        upgan = job.param("upgan")
        cfg = self._config(job, upgan)
        phases = [job.inputs[f"generator_{m}"] for m in range(cfg.n_phases)]
        generators = [b.state_dict("generator") for b in phases]
        discriminators = [b.state_dict("discriminator") for b in phases]
        outputs: dict[str, Any] = {}
        if train:
            weights = self.loss_weights(upgan)
            stage = job.stage("fine-tune", self.options(upgan)["fine_tune"], self.fine_tune_steps(upgan),
                              job.seed + 1000 * cfg.n_phases, "upgan.fine_tune", ("steps",), keep_initial=True)
            payload = {"cascade": cfg.to_dict(), "loss": dataclasses.asdict(weights),
                       "initial": state_digest([*generators, *discriminators])}
            path = job.checkpoint("fine_tune", stage, payload, job.train, job.val)
            generators, discriminators, history = fine_tune(cfg, generators, discriminators, job.train, job.val,
                                                            stage, weights, checkpoint_path=path)
            outputs["history_fine_tune"] = LoggedHistory("fine_tune", stage.fingerprint_fields(), history)
        states = {f"generator_{m}": g for m, g in enumerate(generators)}
        states.update({f"discriminator_{m}": d for m, d in enumerate(discriminators)})
        config = {**job.labels(), "cascade": cfg.to_dict(), "preparation": job.param("preparation"),
                  "train_subjects": job.subjects}
        return StepResult({"model": ModelBundle.pack(states, config), **outputs})

    def summarise(self, job: CellJob) -> StepResult:
        """Test-set error and uncertainty after each initialisation phase and after fine-tuning
        (:func:`upgan.methods.cascade_report.phase_report`)."""
        from upgan.methods.cascade_report import phase_report

        return phase_report(job)

    # -------------------------------------------------------------------- prediction and report
    def predict(self, bundle: ModelBundle, inputs: np.ndarray, device: str, batch_size: int,
                channels_last: bool) -> Prediction:
        x = torch.as_tensor(np.asarray(inputs, dtype=np.float32))
        outputs = predict_phases(cascade_from_bundle(bundle), x, batch_size=batch_size, device=device,
                                 channels_last=channels_last)
        phases = _numpy(outputs)
        return Prediction(phases[-1]["image"], phases[-1]["sigma"], phases)

    def input_channels(self, config: Mapping[str, Any]) -> int:
        return int(cascade_config_from_dict(config["cascade"]).generator_config(0).in_channels)

    def describe_bundle(self, config: Mapping[str, Any]) -> str:
        cascade = config["cascade"]
        unet = cascade.get("unet", {})
        name = get_guidance(cascade.get("guidance", True)).name
        guidance = {"paper_eq4": "with uncertainty guidance", "none": "without uncertainty guidance"}.get(
            name, f"guidance input {name}")
        line = (f"M = {cascade['n_phases']} phases {guidance}; U-Net base width {unet.get('base_width')}, "
                f"depth {unet.get('depth')}, {unet.get('block')} blocks")
        if cascade.get("residual_to", "input") != "input":
            line += f"; later phases correct the {cascade['residual_to']} phase's image"
        return line

    def report_outputs(self) -> tuple[str, ...]:
        return ("phase_summary", "phase_figure")

