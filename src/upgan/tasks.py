"""The three translation tasks of the paper, resolved by name from configuration."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TaskSpec:
    """What a task translates: the cohort layout, the input and target, and how the input is made.

    Attributes:
        name: configuration name.
        layout: cohort layout read by :func:`upgan.io.cohort.discover_cohort`.
        input_modality: modality file the input comes from (``pet`` or ``t1``).
        target_modality: modality file of the target (``ct`` or ``t1``).
        corruption: how the input is derived from the target modality (``None`` when the input
            is its own acquisition, as NAC-PET is).
        target_units: what the target's normalised scale maps back to.
    """

    name: str
    layout: str
    input_modality: str
    target_modality: str
    corruption: str | None
    target_units: str
    description: str

    @property
    def input_is_reference(self) -> bool:
        """True when the input is on the target's scale, so scoring the input itself as the
        prediction (the do-nothing ``input`` reference) is meaningful (the MRI tasks)."""
        return self.input_modality == self.target_modality


TASKS: dict[str, TaskSpec] = {
    "pet_to_ct": TaskSpec(
        "pet_to_ct", "pet_ct", "pet", "ct", None, "HU",
        "non-attenuation-corrected FDG PET -> CT",
    ),
    "mri_recon": TaskSpec(
        "mri_recon", "ixi_t1", "t1", "t1", "undersample", "normalised T1",
        "T1 MRI keeping the central 8 % of k-space -> fully sampled T1",
    ),
    "mri_motion": TaskSpec(
        "mri_motion", "ixi_t1", "t1", "t1", "motion", "normalised T1",
        "motion-corrupted T1 MRI -> clean T1",
    ),
}


def get_task(name: str) -> TaskSpec:
    """Look a task up by name; an unknown name fails with the list of known ones."""
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}") from None
