"""The method registry: every method the project trains and compares, registered once.

Each method lives in its own module of this package and declares a module-level ``SPEC``
(:class:`MethodSpec`) or a list ``SPECS`` (configurations of one plug-in, e.g. UP-GAN and its
variants); :func:`discover` imports every module of the package and registers the specs it
finds, so adding a method means adding its module (and its configuration block). Every list of
methods in the project -- training dispatch, evaluation families, report labels, tests --
derives from here.

Every method is a :class:`MethodPlugin`: it owns the shape of its cell (:meth:`cell_steps`, the
nodes the pipelines wire), what each step does (:meth:`run_step`), its prediction from a model
bundle and its line in Table 1's set-up; the pipelines and the report only ask the registry.

Roles (what a method is for in the comparison):

* ``proposed``: the method under test (UP-GAN); every claim compares against it.
* ``ablation``: the proposed method with a part removed (claim C2).
* ``baseline``: a competing published method (claims C1 and C5).
* ``control``: a non-adversarial control (claim C6: do the GAN and the uncertainty help at all?).
* ``variant``: another configuration of the proposed method, compared like a method (the
  mechanism study); no claim family includes it.

Kinds: a ``cascade`` is trained phase by phase and then fine-tuned (the UP-GAN family, configured
by ``upgan``, :mod:`upgan.methods.cascade`); a ``single`` method trains one generator in one
stage through its :class:`SingleGeneratorMethod` plug-in (configured by ``baselines.<name>``).
"""

from __future__ import annotations

import importlib
import pkgutil
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.figure import Figure
    from torch import nn

    from upgan.io.bundle import ModelBundle
    from upgan.methods.prediction import Prediction
    from upgan.training import SlicePairs, StageConfig, TrainingHistory

ROLES: tuple[str, ...] = ("proposed", "ablation", "baseline", "control", "variant")
KINDS: tuple[str, ...] = ("cascade", "single")

#: The data every training step of a cell may read (names relative to the task namespace).
TRAINING_DATA: tuple[str, ...] = ("train_slices", "val_slices", "split_manifest")


@dataclass(frozen=True)
class CellStep:
    """One node of a method's cell.

    Attributes:
        name: node name inside the cell namespace (``train``, ``train_phase_0``, ``fine_tune``).
        inputs: dataset names (cell-relative, the task's data, or ``params:<group>``), in the
            order :meth:`MethodPlugin.run_step` receives them (by name).
        outputs: dataset names the step writes (cell-relative).
        histories: the outputs that are validation histories (the training budget's rows).
        tags: extra Kedro tags.
    """

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    histories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


@dataclass
class LoggedHistory:
    """A stage's validation history as a step returns it: the pipeline turns it into the history
    table (and logs it with ``params`` under ``network`` in the cell's tracking run)."""

    network: str
    params: dict[str, Any]
    history: TrainingHistory
    pretraining: dict[str, tuple[int, float]] = field(default_factory=dict)


@dataclass
class StepResult:
    """What a step returns: its outputs by name (histories as :class:`LoggedHistory`), and the
    test metrics and figures to log in the cell's tracking run."""

    outputs: dict[str, Any]
    metrics: dict[str, float] = field(default_factory=dict)
    figures: dict[str, Figure] = field(default_factory=dict)


@dataclass
class CellJob:
    """One cell as a step sees it: who it is, its inputs by name (``params:`` dropped) and the
    pipeline's helpers for the stage config and the checkpoint of a stage.

    Attributes:
        cell: the cell's name (``<task>.<method>.n<NN>.s<seed>``).
        stage: ``(label, block, steps, seed, where, extra_keys=(), keep_initial=False) ->
            StageConfig`` from a stage block (``where`` names it in errors).
        checkpoint: ``(label, stage, payload, train, val) -> Path | None``: the resumable
            checkpoint of a stage keyed by what determines its result.
        train, val: the cell's training subjects' slices and the validation slices.
        subjects: the cell's training subjects.
        residual: the task uses global residual learning (``training.residual_learning``).
        steps: the shared budget of generator updates (``training.steps``).
    """

    task: str
    method: str
    n_train_patients: int
    seed: int
    cell: str
    inputs: dict[str, Any]
    stage: Callable[..., StageConfig]
    checkpoint: Callable[..., Path | None]
    train: SlicePairs | None = None
    val: SlicePairs | None = None
    subjects: list[str] = field(default_factory=list)
    residual: bool = False
    steps: int = 0

    def param(self, group: str) -> dict[str, Any]:
        """Parameter group ``group`` (empty when the step does not take it)."""
        return dict(self.inputs.get(group) or {})

    def labels(self) -> dict[str, Any]:
        """The cell's labels for a bundle config (task, method, n_train_patients)."""
        return {"task": self.task, "method": self.method, "n_train_patients": self.n_train_patients}


class MethodPlugin(ABC):
    """A method as the pipelines see it: its cell, its steps, its prediction, its report rows."""

    #: ``cascade`` or ``single`` (:data:`KINDS`).
    kind: str = "single"
    #: The method predicts an uncertainty σ (uncertainty rows, calibration, ``sigma`` output).
    has_sigma: bool = False

    @abstractmethod
    def cell_steps(self, parameters: Mapping[str, Any]) -> list[CellStep]:
        """The nodes of one cell for the run's parameters (all groups), in execution order."""

    @abstractmethod
    def run_step(self, step: str, job: CellJob) -> StepResult:
        """Run step ``step`` of :meth:`cell_steps` for one cell."""

    @abstractmethod
    def predict(self, bundle: ModelBundle, inputs: np.ndarray, device: str, batch_size: int,
                channels_last: bool) -> Prediction:
        """Predict ``(N, C, H, W)`` inputs in [0, 1] with a trained cell's model bundle."""

    @abstractmethod
    def input_channels(self, config: Mapping[str, Any]) -> int:
        """Input channels C the model bundle with this ``config`` takes."""

    def describe_bundle(self, config: Mapping[str, Any]) -> str | None:
        """One line for Table 1's set-up section from a model bundle's ``config``; ``None``: the
        method's registry summary is used."""
        return None

    def report_outputs(self) -> tuple[str, ...]:
        """Cell outputs beyond the evaluation's that the report gathers (e.g. phase summaries)."""
        return ()

    def check_parameters(self, parameters: Mapping[str, Any]) -> None:  # noqa: B027 - optional
        """Fail (ValueError naming the parameter) when the run's parameters cannot configure it."""


def step_inputs(step: CellStep) -> list[str]:
    """A step's input names as :class:`CellJob` keys them (``params:`` dropped)."""
    return [name.removeprefix("params:") for name in step.inputs]


@dataclass
class TrainedSingle:
    """What a single-generator method's training returns.

    Attributes:
        states: CPU state dicts by network name (``generator`` first; e.g. ``discriminator``).
        config: JSON-able network config (``method``, ``in_channels``, ``image_size``, resolved
            ``params``, anything else :meth:`SingleGeneratorMethod.build_generator` needs).
        history: the stage's validation history.
        pretraining: networks trained before the stage (network name -> (updates, final loss)),
            reported in ``budget.csv``.
    """

    states: dict[str, dict[str, Any]]
    config: dict[str, Any]
    history: TrainingHistory
    pretraining: dict[str, tuple[int, float]] = field(default_factory=dict)


class SingleGeneratorMethod(MethodPlugin):
    """The plug-in of a single-generator method: its parameters, its generator and its training
    (through the one engine, :func:`upgan.training.train_stage`). Its cell is one ``train``
    step (:mod:`upgan.methods.single` implements the cell, prediction and report parts)."""

    kind = "single"

    def cell_steps(self, parameters: Mapping[str, Any]) -> list[CellStep]:
        from upgan.methods.single import single_cell_steps

        return single_cell_steps()

    def run_step(self, step: str, job: CellJob) -> StepResult:
        from upgan.methods.single import run_single_step

        return run_single_step(self, step, job)

    def predict(self, bundle: ModelBundle, inputs: np.ndarray, device: str, batch_size: int,
                channels_last: bool) -> Prediction:
        from upgan.methods.single import predict_single

        return predict_single(bundle, inputs, device, batch_size, channels_last)

    def input_channels(self, config: Mapping[str, Any]) -> int:
        return int(config["network"]["in_channels"])

    def describe_bundle(self, config: Mapping[str, Any]) -> str | None:
        return self.describe_setup(config.get("network", {}))

    #: Parameter block defaults (``baselines.<name>`` without ``optimiser``); every key a user
    #: may set. ``input_residual`` is set by the pipeline (``training.residual_learning``).
    defaults: Mapping[str, Any] = {}
    #: Keys of :attr:`defaults` whose value is a block, with that block's known keys and defaults.
    nested: Mapping[str, Mapping[str, Any]] = {}

    @abstractmethod
    def resolve(self, params: Mapping[str, Any] | None, image_size: Sequence[int],
                context: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults filled in, types checked and input-sized values resolved (JSON-able).

        ``context`` holds the shared parameter groups a method may borrow from (``upgan``).
        Unknown keys and bad values raise ``ValueError`` naming the key."""

    @abstractmethod
    def build_generator(self, params: Mapping[str, Any], in_channels: int) -> nn.Module:
        """The generator for resolved ``params``: ``(B, C, H, W)`` in [0, 1] -> ``(B, 1, H, W)``
        on the [0, 1] scale (untrained)."""

    def describe_setup(self, network: Mapping[str, Any]) -> str | None:
        """One line for Table 1's set-up section from a trained cell's network config (the
        ``network`` block of its bundle); ``None``: the method's registry summary is used."""
        return None

    @abstractmethod
    def train(self, params: dict[str, Any], train: SlicePairs, val: SlicePairs | None,
              stage: StageConfig, checkpoint_path: Path | None, progress: bool) -> TrainedSingle:
        """Initialise (after ``torch.manual_seed(stage.seed)``) and train for ``stage.steps``
        generator updates with :func:`upgan.training.train_stage`."""


@dataclass(frozen=True)
class MethodSpec:
    """One method: its name in configuration, its label in reports, its role and its plug-in.

    Attributes:
        name: configuration name (``methods``, ``weak_supervision.methods``, cell names).
        label: how tables and figures name it.
        role: one of :data:`ROLES`.
        summary: one line for docs and ``--help``.
        order: position in tables (ascending).
        plugin: the method's :class:`MethodPlugin` (cell, steps, prediction, report rows).
    """

    name: str
    label: str
    role: str
    summary: str
    order: int
    plugin: MethodPlugin

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"method {self.name!r}: role must be one of {ROLES}, got {self.role!r}")
        if not isinstance(self.plugin, MethodPlugin):
            raise ValueError(f"method {self.name!r}: plugin must be a MethodPlugin, got {self.plugin!r}")

    @property
    def kind(self) -> str:
        """The plug-in's kind (:data:`KINDS`)."""
        return self.plugin.kind

    @property
    def single(self) -> SingleGeneratorMethod | None:
        """The single-generator plug-in (``None`` for other kinds)."""
        return self.plugin if isinstance(self.plugin, SingleGeneratorMethod) else None


_REGISTRY: dict[str, MethodSpec] = {}
_discovered = False


def register(spec: MethodSpec) -> MethodSpec:
    """Add ``spec`` to the registry; a second method of the same name fails."""
    known = _REGISTRY.get(spec.name)
    if known is not None and known is not spec:
        raise ValueError(f"method {spec.name!r} is registered twice")
    _REGISTRY[spec.name] = spec
    return spec


def discover() -> None:
    """Import every module of :mod:`upgan.methods` once and register its ``SPEC`` / ``SPECS``."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    package = importlib.import_module("upgan.methods")
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"upgan.methods.{info.name}")
        found = [getattr(module, "SPEC", None), *getattr(module, "SPECS", ())]
        for spec in found:
            if isinstance(spec, MethodSpec):
                register(spec)


def specs() -> list[MethodSpec]:
    """Every registered method, in table order."""
    discover()
    return sorted(_REGISTRY.values(), key=lambda s: (s.order, s.name))


def names(role: str | None = None, kind: str | None = None) -> list[str]:
    """Registered method names in table order, optionally only those of one role or kind."""
    if role is not None and role not in ROLES:
        raise ValueError(f"unknown role {role!r}; known roles: {', '.join(ROLES)}")
    if kind is not None and kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; known kinds: {', '.join(KINDS)}")
    return [s.name for s in specs() if (role is None or s.role == role) and (kind is None or s.kind == kind)]


def get(name: str) -> MethodSpec:
    """The method called ``name``; an unknown name fails with the list of known ones."""
    discover()
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown method {name!r}; known methods: {', '.join(names())}") from None


def proposed() -> str:
    """The name of the proposed method (the reference of every claim)."""
    found = names(role="proposed")
    if len(found) != 1:
        raise RuntimeError(f"exactly one method must have the role 'proposed', found {found}")
    return found[0]


def labels() -> dict[str, str]:
    """Method name -> label, in table order."""
    return {s.name: s.label for s in specs()}
