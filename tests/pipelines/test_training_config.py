"""Bad training configuration fails with a clear error before any training starts."""

import pytest


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"upgan": {"loss": {"lambda_adversarial": -1.0}}}, "lambda"),
        ({"upgan": {"fine_tune": {"lr_generator": 0.0}}}, "lr_generator"),
        ({"upgan": {"phase": {"epochs": 2}}}, r"upgan\.phase\.epochs"),
        ({"baselines": {"optimiser": {"epochs": 2}}}, r"baselines\.optimiser\.epochs"),
        ({"training": {"steps": 0}}, r"training\.steps must be an int >= 1"),
        ({"training": {"val_every": 0}}, r"training\.val_every"),
        ({"upgan": {"fine_tune": {"steps": 2.5}}}, r"upgan\.fine_tune\.steps"),
        ({"upgan": {"loss": {"recipe": "offical"}}}, r"upgan\.loss\.recipe"),
        ({"upgan": {"n_phases": 0}}, "n_phases"),
        ({"tasks": ["pet_to_ct", "ct_to_pet"]}, "unknown task 'ct_to_pet'"),
    ],
)
def test_bad_training_parameters(kedro_project, tmp_path, override, message):
    out = tmp_path / "out"
    with pytest.raises(Exception, match=message):
        kedro_project(pipeline_names=["training"], runtime_params={"data_root": str(out), **override})
    assert not list(out.rglob("*.safetensors"))
    assert not list(out.rglob("*.pt"))


def test_missing_predecessor_phase(kedro_project, tmp_path):
    out = tmp_path / "out"
    kedro_project(pipeline_names=["data_preparation"], namespaces=["pet_to_ct"],
                  runtime_params={"data_root": str(out)})
    with pytest.raises(Exception, match="phase_0.safetensors not found"):
        kedro_project(pipeline_names=["training"], node_names=["pet_to_ct.upgan.n04.s2021.train_phase_1"],
                      runtime_params={"data_root": str(out)})


def test_unknown_baseline_optimiser_key_is_named():
    """The baseline cell refuses an unknown optimiser key (the old ``epochs``) before training,
    naming it ``baselines.optimiser.<key>``; a bad budget names ``training.steps``."""
    from upgan.methods import get
    from upgan.pipelines.training.config import fine_tune_steps, phase_steps
    from upgan.pipelines.training.nodes import run_cell_step

    (step,) = get("pix2pix").plugin.cell_steps({})

    def cell(baselines, training):
        return run_cell_step("pet_to_ct", "pix2pix", 4, 0, step, None, None, None, baselines, {}, training, {})

    with pytest.raises(ValueError, match=r"baselines\.optimiser\.epochs"):
        cell({"optimiser": {"epochs": 2}, "pix2pix": {}}, {"steps": 4})
    with pytest.raises(ValueError, match=r"baselines\.optimiser\.lr_generator"):
        cell({"optimiser": {"lr_generator": -1.0}, "pix2pix": {}}, {"steps": 4})
    with pytest.raises(ValueError, match=r"training\.steps"):
        cell({"optimiser": {}, "pix2pix": {}}, {"steps": 0})
    assert phase_steps({"steps": 7}) == 7
    assert fine_tune_steps({"fine_tune": {"steps": 3}}) == 3
    assert fine_tune_steps({"fine_tune": {"steps": 0}}) == 0  # no joint fine-tuning
    for bad in (0, -1, 2.0, True, None):
        with pytest.raises(ValueError, match=r"training\.steps"):
            phase_steps({"steps": bad})
        if bad != 0:
            with pytest.raises(ValueError, match=r"upgan\.fine_tune\.steps"):
                fine_tune_steps({"fine_tune": {"steps": bad}})
