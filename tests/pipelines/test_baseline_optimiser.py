"""A baseline's own optimiser block overrides the shared one key by key."""

from __future__ import annotations

import copy

import pytest
from kedro.config import OmegaConfigLoader

from upgan import structure
from upgan.pipelines.parameters import validate_parameters
from upgan.pipelines.training.config import method_params, single_optimiser
from upgan.settings import CONFIG_LOADER_ARGS

SHARED = {"batch_size": 8, "lr_generator": 2e-4, "lr_discriminator": 2e-4, "betas": [0.5, 0.999], "cosine": True}


def test_method_block_overrides_the_shared_optimiser():
    baselines = {"optimiser": SHARED, "pix2pix": {"ngf": 4, "optimiser": {"lr_generator": 1e-3}},
                 "pan": {"width": 4}}
    optimiser, where = single_optimiser(baselines, "pix2pix")
    assert optimiser == {**SHARED, "lr_generator": 1e-3}
    assert where == "baselines.pix2pix.optimiser"
    assert single_optimiser(baselines, "pan") == (SHARED, "baselines.optimiser")
    assert method_params(baselines, "pix2pix") == {"ngf": 4}


@pytest.mark.parametrize(("dotted", "value", "message"), [
    ("baselines.pix2pix.optimiser.lr_generaor", 1e-3, "baselines.pix2pix.optimiser.lr_generaor"),
    ("baselines.medgan.optimiser.lr_generator", -1.0, "baselines.medgan.optimiser.lr_generator"),
])
def test_bad_method_optimisers_fail_before_any_node(dotted, value, message):
    loader = OmegaConfigLoader(conf_source=str(structure.PROJECT_ROOT / "conf"), env="local",
                               runtime_params={"data_root": "unused"}, **CONFIG_LOADER_ARGS)
    params = copy.deepcopy(dict(loader["parameters"]))
    *parents, last = dotted.split(".")
    node = params
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        validate_parameters(params)
