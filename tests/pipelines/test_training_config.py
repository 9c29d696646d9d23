"""Bad training configuration fails with a clear error before any training starts."""

import pytest


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"upgan": {"loss": {"lambda_adversarial": -1.0}}}, "lambda"),
        ({"upgan": {"fine_tune": {"lr_generator": 0.0}}}, "lr_generator"),
        ({"upgan": {"phase": {"epochs": 0}}}, "epochs"),
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
        kedro_project(pipeline_names=["training"], node_names=["pet_to_ct.upgan.n04.train_phase_1"],
                      runtime_params={"data_root": str(out)})
