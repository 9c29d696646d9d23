"""Every parameter group is checked against its schema before any node runs: a typo'd key fails
with one line naming the parameter's dotted name and the keys expected there."""

import copy

import pytest
from kedro.config import OmegaConfigLoader

from upgan import structure
from upgan.settings import CONFIG_LOADER_ARGS


def _params(env: str) -> dict:
    loader = OmegaConfigLoader(conf_source=str(structure.PROJECT_ROOT / "conf"), env=env,
                               runtime_params={"data_root": "never-written"}, **CONFIG_LOADER_ARGS)
    return copy.deepcopy(dict(loader["parameters"]))


def validate_parameters(params: dict) -> None:
    from upgan.pipelines.parameters import validate_parameters as validate

    validate(params)


def _set(params: dict, dotted: str, value) -> dict:
    *parents, last = dotted.split(".")
    node = params
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return params


@pytest.mark.parametrize("env", ["local", "test", "study", "gpu", "paper"])
def test_the_shipped_configurations_are_valid(env):
    validate_parameters(_params(env))


@pytest.mark.parametrize(
    ("dotted", "known"),
    [
        ("upgan.phse", "upgan.phase"),
        ("upgan.generator.base_widht", "upgan.generator.base_width"),
        ("upgan.generator.in_channels", "upgan.generator.depth"),  # set by the pipeline
        ("upgan.discriminator.n_layer", "upgan.discriminator.n_layers"),
        ("upgan.loss.lamda_adversarial", "upgan.loss.lambda_adversarial"),
        ("upgan.phase.step", "upgan.phase.batch_size"),
        ("upgan.fine_tune.stepz", "upgan.fine_tune.steps"),
        ("training.stpes", "training.steps"),
        ("training.checkpoint", "training.checkpoint_dir"),
        ("baselines.optimiser.lr", "baselines.optimiser.lr_generator"),
        ("baselines.pix2pix.ngff", "baselines.pix2pix.ngf"),
        ("baselines.pix2pix.input_residual", "baselines.pix2pix.ngf"),  # set by the pipeline
        ("baselines.medgan.feature_extractor.widht", "baselines.medgan.feature_extractor.width"),
        ("baselines.cyclegan", "baselines.pix2pix"),
        ("runtime.cpu_thread", "runtime.cpu_threads"),
        ("pet_to_ct.splt", "pet_to_ct.split"),
        ("pet_to_ct.split.tarin", "pet_to_ct.split.train"),
        ("mri_recon.preparation.slice_sze", "mri_recon.preparation.slice_size"),
        ("mri_recon.preparation.undersampling.frac", "mri_recon.preparation.undersampling.fraction"),
        ("mri_motion.preparation.motion.degree", "mri_motion.preparation.motion.degrees"),
        ("cohorts.pet_ct.n_subject", "cohorts.pet_ct.n_subjects"),
        ("cohorts.pet_ct.simulation.noise_sd", "cohorts.pet_ct.simulation.ct_noise_sd_hu"),
        ("cohorts.ixi", "cohorts.ixi_t1"),
        ("weak_supervision.count", "weak_supervision.counts"),
        ("trainig", "training"),
    ],
)
def test_an_unknown_key_is_named_with_the_known_ones(dotted, known):
    params = _set(_params("test"), dotted, 5)
    with pytest.raises(ValueError) as error:
        validate_parameters(params)
    message = str(error.value)
    assert f"unknown parameter {dotted}" in message and known in message and "\n" not in message


@pytest.mark.parametrize(
    ("dotted", "value", "expected"),
    [
        ("baselines.pix2pix.ngf", 0, r"baselines\.pix2pix.*ngf"),
        ("baselines.optimiser.lr_generator", -1.0, r"baselines\.optimiser\.lr_generator"),
        ("upgan.generator.norm", "group", r"upgan\.generator\.norm"),
        ("pet_to_ct.preparation.slice_size", 4, r"pet_to_ct\.preparation\.slice_size"),
        ("mri_recon.split.val", 0, r"mri_recon\.split\.val"),
        ("cohorts.ixi_t1.n_workers", 0, r"cohorts\.ixi_t1\.n_workers"),
        ("runtime.cpu_threads", "all", r"runtime\.cpu_threads"),
        ("training.residual_learning", "yes", r"training\.residual_learning"),
    ],
)
def test_a_bad_value_is_named(dotted, value, expected):
    with pytest.raises(ValueError, match=expected):
        validate_parameters(_set(_params("test"), dotted, value))


def test_a_typo_fails_any_pipeline_before_any_node_runs(kedro_project, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=r"unknown parameter upgan\.phse; known: upgan\.n_phases"):
        kedro_project(pipeline_names=["data_preparation"], namespaces=["pet_to_ct"],
                      runtime_params={"data_root": str(out), "upgan": {"phse": {"steps": 5}}})
    assert not out.exists() or not any(p.is_file() for p in out.rglob("*"))


def test_empty_methods_fail_naming_the_parameter(kedro_project, tmp_path):
    from upgan.pipelines.parameters import check_methods

    check_methods({"methods": []}, ["data_preparation"])  # nothing to train: fine
    check_methods({"methods": []}, ["weak_supervision"])  # the sweep has its own methods
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=r"the methods parameter is empty: list the methods .* in `methods`"):
        kedro_project(pipeline_names=["reporting"], runtime_params={"data_root": str(out), "methods": []})
    assert not out.exists() or not any(p.is_file() for p in out.rglob("*"))
