"""The task registry and the behaviour a task spec carries."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from upgan.io.layouts import IXI_T1, PET_CT, IxiT1Layout
from upgan.preparation import (
    HUWindowNormalisation,
    KSpaceUndersampling,
    PreparationConfig,
    RigidMotion,
    VolumeScaleNormalisation,
)
from upgan.tasks import (
    TaskSpec,
    cohort_layouts,
    get_layout,
    get_task,
    register_task,
    task_names,
    unregister_task,
)

ROOT = Path(__file__).resolve().parents[1]


def _toy(name: str = "mri_toy", **changes) -> TaskSpec:
    fields = {"name": name, "layout": IXI_T1, "input_modality": "t1", "target_modality": "t1",
              "target_normalisation": VolumeScaleNormalisation(), "description": "toy",
              "corruption": KSpaceUndersampling()}
    return TaskSpec(**{**fields, **changes})


@pytest.fixture
def toy():
    spec = register_task(_toy())
    yield spec
    if spec.name in task_names():
        unregister_task(spec.name)


def test_the_paper_tasks_carry_their_behaviour():
    assert task_names()[:3] == ["pet_to_ct", "mri_recon", "mri_motion"]
    pet, recon, motion = (get_task(n) for n in ("pet_to_ct", "mri_recon", "mri_motion"))
    assert pet.layout is PET_CT and recon.layout is motion.layout is IXI_T1
    assert pet.corruption is None and pet.input_modality == "pet" and pet.target_modality == "ct"
    assert isinstance(recon.corruption, KSpaceUndersampling) and isinstance(motion.corruption, RigidMotion)
    assert isinstance(pet.target_normalisation, HUWindowNormalisation)
    assert isinstance(recon.target_normalisation, VolumeScaleNormalisation)
    assert (pet.target_units, pet.scores_in_hu, pet.mae_units, pet.mae_decimals) == ("HU", True, "HU", 1)
    assert (recon.target_units, recon.scores_in_hu, recon.mae_units, recon.mae_decimals) == (
        "normalised T1", False, "", 4)
    assert not pet.input_is_reference and recon.input_is_reference and motion.input_is_reference
    assert pet.valid_range == recon.valid_range == (0.0, 1.0)
    assert pet.paper_table1["upgan"] == "0.95±0.05 / 28.9±0.4 / 24.7±12.9"
    assert motion.paper_ssim_p_vs_medgan == 0.036
    assert (recon.data_preview.input_label, motion.data_preview.input_label) == ("undersampled T1",
                                                                                 "motion-corrupted T1")
    assert pet.data_preview.input_label == "NAC PET" and not pet.data_preview.show_difference
    in_hu = _toy(scores_in_hu=True)  # the scoring can be set apart from the normalisation
    assert (in_hu.scores_in_hu, in_hu.mae_units, _toy().scores_in_hu) == (True, "HU", False)


def test_ct_target_maps_back_to_hu_and_t1_to_its_scale():
    config = PreparationConfig(hu_window=(-1000.0, 1000.0))
    ct = HUWindowNormalisation()
    hu = np.array([-1000.0, 0.0, 500.0, 1000.0], np.float32)
    x, record = ct.normalise(hu, config)
    np.testing.assert_allclose(x, [0.0, 0.5, 0.75, 1.0])
    assert record == {"kind": "hu_window", "hu_min": -1000.0, "hu_max": 1000.0}
    np.testing.assert_allclose(ct.to_units(x, record), hu)
    np.testing.assert_allclose(ct.to_units(np.float32(0.01), record, sigma=True), 20.0)  # no offset
    assert ct.foreground_threshold(record) == pytest.approx(0.25)  # -500 HU
    assert ct.record_at_prediction(config, input_scale=123.0) == record
    t1 = VolumeScaleNormalisation()
    volume = np.concatenate([np.zeros(10), np.arange(1.0, 201.0)]).astype(np.float32)
    y, rec = t1.normalise(volume, PreparationConfig(percentile=50.0))
    assert rec == {"kind": "percentile", "scale": pytest.approx(100.5)}
    np.testing.assert_allclose(t1.to_units(np.float32(0.5), rec), 50.25)
    np.testing.assert_allclose(t1.to_units(np.float32(0.5), rec, sigma=True), 50.25)
    assert y.max() == 1.0 and t1.record_at_prediction(config, 7.0) == {"kind": "percentile", "scale": 7.0}
    with pytest.raises(ValueError, match="kind 'hu_window'"):
        t1.to_units(y, record)


def test_get_task_names_the_known_tasks():
    with pytest.raises(ValueError, match="unknown task 'ct_to_pet'; known tasks: pet_to_ct, mri_recon, mri_motion"):
        get_task("ct_to_pet")
    with pytest.raises(ValueError, match="unknown cohort layout 'dicom'; known layouts: pet_ct, ixi_t1"):
        get_layout("dicom")


def test_a_registered_task_is_in_every_list_until_removed(toy):
    assert get_task("mri_toy") is toy and task_names()[-1] == "mri_toy"
    assert list(cohort_layouts()) == ["pet_ct", "ixi_t1"]  # its layout is shared, not repeated
    with pytest.raises(ValueError, match="already registered"):
        register_task(_toy())
    replaced = register_task(_toy(description="another"), replace=True)
    assert get_task("mri_toy") is replaced
    assert unregister_task("mri_toy") is replaced
    assert "mri_toy" not in task_names()
    with pytest.raises(ValueError, match="unknown task 'mri_toy'"):
        unregister_task("mri_toy")


def test_a_layout_cannot_take_a_registered_layouts_name():
    @dataclass(frozen=True)
    class OtherT1(IxiT1Layout):
        suffix: str = "_t1w"

    with pytest.raises(ValueError, match="cohort layout 'ixi_t1' differs"):
        register_task(_toy(layout=OtherT1()))
    register_task(_toy(layout=OtherT1(name="bids_t1")))
    try:
        assert get_layout("bids_t1").suffix == "_t1w"
    finally:
        unregister_task("mri_toy")
    with pytest.raises(TypeError, match="TaskSpec"):
        register_task("mri_toy")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "mri.toy"}, "lower-case letters"),
        ({"target_modality": "ct"}, "target modality 'ct' is not in cohort layout 'ixi_t1'"),
        ({"layout": PET_CT, "input_modality": "pet", "target_modality": "ct"}, "target's modality"),
        ({"corruption": None}, "input would be the target itself"),
    ],
)
def test_inconsistent_specs_are_refused(changes, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        _toy(**changes)


def test_readme_lists_the_registered_tasks():
    text = (ROOT / "README.md").read_text()
    table = text.split("| task | input → target |", 1)[1].split("\n\n", 1)[0]
    assert re.findall(r"^\| `([a-z_0-9]+)` \|", table, flags=re.MULTILINE) == task_names()


def test_every_task_module_is_discovered_in_its_order():
    """A module of upgan.tasks that declares TASK is registered without a hand-kept list, in
    TaskSpec.order (the paper's order: PET→CT first, the default task of the sweep)."""
    import importlib
    import pkgutil

    import upgan.tasks as package

    declared = {}
    for info in pkgutil.iter_modules(package.__path__):
        spec = getattr(importlib.import_module(f"upgan.tasks.{info.name}"), "TASK", None)
        if spec is not None:
            declared[spec.name] = spec.order
            assert info.name == spec.name  # one module per task, named after it
    assert set(declared) <= set(task_names())
    builtin = [t for t in task_names() if t in declared]
    assert builtin == sorted(declared, key=lambda t: (declared[t], t))
    assert builtin[:3] == ["pet_to_ct", "mri_recon", "mri_motion"]
