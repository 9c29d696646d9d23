"""What a translation task is: its cohort, its input and target, and how each is made and scored."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from upgan.io.cohort import CohortLayout
from upgan.preparation.corruption import Corruption
from upgan.preparation.targets import TargetNormalisation

_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Preview:
    """How the data-preview figure shows a task's prepared slices (see
    :func:`upgan.reporting.figures.data_preview`).

    Attributes:
        input_label, target_label: column titles.
        target_windows: (name, low, high) display windows of the target, in its display units
            (HU for CT; the normalised scale otherwise).
        heights: which kept slices to show, as fractions of each subject's kept range.
        show_difference: add input - target (meaningful when both share a modality).
    """

    input_label: str
    target_label: str
    target_windows: tuple[tuple[str, float, float], ...] = (("", 0.0, 1.0),)
    heights: tuple[float, ...] = (0.3, 0.6)
    show_difference: bool = True


@dataclass(frozen=True)
class TaskSpec:
    """A translation task and its behaviour.

    Attributes:
        name: configuration name (the task's namespace and parameter block).
        layout: the cohort layout the task reads (:mod:`upgan.io.layouts`).
        input_modality: modality file the input comes from (``pet``, ``t1``).
        target_modality: modality file of the target (``ct``, ``t1``).
        target_normalisation: how the target is put on [0, 1] and mapped back to its units.
        description: one line for docs.
        corruption: how the input is made from the normalised target; ``None`` when the input
            is its own acquisition (NAC PET), normalised by its robust maximum.
        label: how tables and figures name the task (default: its name).
        scores_in_hu: the target is scored in HU (MAE in HU, ``mae_head`` and bone Dice);
            ``None`` (the default): when its normalisation maps back to HU.
        preview: the data-preview figure's settings (default: from the modalities).
        paper_table1: the paper's Table 1 entry per method, ``"SSIM / PSNR / MAE"``.
        paper_ssim_p_vs_medgan: the paper's SSIM p-value of UP-GAN against MedGAN.
        order: position among the discovered tasks (tables, the default ``tasks``; the first
            is the default task of the weak-supervision sweep).
    """

    name: str
    layout: CohortLayout
    input_modality: str
    target_modality: str
    target_normalisation: TargetNormalisation
    description: str
    corruption: Corruption | None = None
    label: str = ""
    scores_in_hu: bool | None = None
    preview: Preview | None = None
    paper_table1: Mapping[str, str] = field(default_factory=dict)
    paper_ssim_p_vs_medgan: float | None = None
    order: int = 100

    def __post_init__(self) -> None:
        where = f"task {self.name!r}"
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"{where}: a task name is lower-case letters, digits and '_' (it names a "
                             "Kedro namespace and a parameter block)")
        for role, modality in (("input", self.input_modality), ("target", self.target_modality)):
            if modality not in self.layout.modalities:
                raise ValueError(f"{where}: {role} modality {modality!r} is not in cohort layout "
                                 f"{self.layout.name!r} (modalities: {', '.join(self.layout.modalities)})")
        if self.corruption is not None and self.input_modality != self.target_modality:
            raise ValueError(f"{where}: an input made by corrupting the target has the target's "
                             f"modality ({self.target_modality!r}), not {self.input_modality!r}")
        if self.corruption is None and self.input_modality == self.target_modality:
            raise ValueError(f"{where}: without a corruption the input would be the target itself")
        if self.scores_in_hu is None:
            object.__setattr__(self, "scores_in_hu", self.target_units == "HU")

    @property
    def target_units(self) -> str:
        """What the target's normalised scale maps back to (``HU``; ``normalised T1``)."""
        return self.target_normalisation.units

    @property
    def mae_units(self) -> str:
        """Unit of the reported MAE (``"HU"``; ``""`` on a normalised scale)."""
        return "HU" if self.scores_in_hu else ""

    @property
    def mae_decimals(self) -> int:
        """Decimals of the MAE in tables (1 in HU, 4 on the normalised scale)."""
        return 1 if self.scores_in_hu else 4

    @property
    def valid_range(self) -> tuple[float, float]:
        """Range of the normalised scale; predictions are clipped to it."""
        return self.target_normalisation.valid_range

    @property
    def input_is_reference(self) -> bool:
        """True when the input is on the target's scale, so scoring the input itself as the
        prediction (the do-nothing ``input`` reference) is meaningful (the MRI tasks)."""
        return self.input_modality == self.target_modality

    @property
    def data_preview(self) -> Preview:
        """The preview settings: :attr:`preview`, or labels from the modalities and corruption."""
        if self.preview is not None:
            return self.preview
        source = self.input_modality.upper()
        if self.corruption is not None:
            source = f"{self.corruption.label} {source}"
        return Preview(source, self.target_modality.upper())
