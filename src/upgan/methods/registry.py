"""The method registry: every method the project trains and compares, registered once.

Each method lives in its own module of this package and declares a module-level ``SPEC``
(:class:`MethodSpec`); :func:`discover` imports every module of the package and registers the
specs it finds, so adding a method means adding its module (and its configuration block).
Every list of methods in the project -- training dispatch, evaluation families, report labels,
tests -- derives from here.

Roles (what a method is for in the comparison):

* ``proposed``: the method under test (UP-GAN); every claim compares against it.
* ``ablation``: the proposed method with a part removed (claim C2).
* ``baseline``: a competing published method (claims C1 and C5).
* ``control``: a non-adversarial control (claim C6: do the GAN and the uncertainty help at all?).

Kinds: a ``cascade`` is trained phase by phase and then fine-tuned (the UP-GAN family, configured
by ``upgan``); a ``single`` method trains one generator in one stage through its
:class:`SingleGeneratorMethod` plug-in (configured by ``baselines.<name>``).
"""

from __future__ import annotations

import importlib
import pkgutil
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

    from upgan.training import SlicePairs, StageConfig, TrainingHistory

ROLES: tuple[str, ...] = ("proposed", "ablation", "baseline", "control")
KINDS: tuple[str, ...] = ("cascade", "single")


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


class SingleGeneratorMethod(ABC):
    """The plug-in of a single-generator method: its parameters, its generator and its training
    (through the one engine, :func:`upgan.training.train_stage`)."""

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
    """One method: its name in configuration, its label in reports, its role and kind.

    Attributes:
        name: configuration name (``methods``, ``weak_supervision.methods``, cell names).
        label: how tables and figures name it.
        role: one of :data:`ROLES`.
        summary: one line for docs and ``--help``.
        order: position in tables (ascending).
        guidance: cascades only -- σ of each phase guides the next.
        single: the plug-in of a single-generator method (``None`` for cascades).
    """

    name: str
    label: str
    role: str
    summary: str
    order: int
    guidance: bool = False
    single: SingleGeneratorMethod | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"method {self.name!r}: role must be one of {ROLES}, got {self.role!r}")

    @property
    def kind(self) -> str:
        """``single`` when the method has a single-generator plug-in, else ``cascade``."""
        return "cascade" if self.single is None else "single"

    @property
    def cascade(self) -> bool:
        """True for the UP-GAN family (phases with uncertainty)."""
        return self.single is None


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
    """Import every module of :mod:`upgan.methods` once and register its ``SPEC``."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    package = importlib.import_module("upgan.methods")
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"upgan.methods.{info.name}")
        spec = getattr(module, "SPEC", None)
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
