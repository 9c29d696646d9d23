"""Settings that are well-formed but cannot work are refused before any work, in one line naming
the parameter: a batch larger than the training set, an absurd budget, a seed outside what the
random generators take, a CUDA device on a machine without one."""

import copy
import os
import subprocess
import sys

import pytest
import torch
from kedro.config import OmegaConfigLoader

from upgan import structure
from upgan.pipelines.parameters import validate_parameters
from upgan.settings import CONFIG_LOADER_ARGS
from upgan.training import SlicePairs, StageConfig


def _params(env: str) -> dict:
    loader = OmegaConfigLoader(conf_source=str(structure.PROJECT_ROOT / "conf"), env=env,
                               runtime_params={"data_root": "never-written"}, **CONFIG_LOADER_ARGS)
    return copy.deepcopy(dict(loader["parameters"]))


def _set(params: dict, dotted: str, value) -> dict:
    *parents, last = dotted.split(".")
    node = params
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return params


@pytest.mark.parametrize(
    ("dotted", "value", "message"),
    [
        ("upgan.phase.batch_size", 1000, r"upgan.phase.batch_size = 1000 is larger than the training set"),
        ("baselines.optimiser.batch_size", 10_000, r"baselines.optimiser.batch_size = 10000 is larger"),
        ("training.steps", 10**12, r"training.steps = 1000000000000 generator updates is more than"),
        ("upgan.fine_tune.steps", 10**9, r"upgan.fine_tune.steps = 1000000000 generator updates"),
        ("seeds", [2021, 2**64], r"seeds = 18446744073709551616 is too large"),
        ("cohorts.pet_ct.seed", 2**40, r"cohorts.pet_ct.seed = 1099511627776 is too large"),
        ("pet_to_ct.split.seed", 2**32, r"pet_to_ct.split.seed = 4294967296 is too large"),
    ],
)
def test_unworkable_settings_are_refused_naming_the_parameter(dotted, value, message):
    with pytest.raises(ValueError, match=message):
        validate_parameters(_set(_params("test"), dotted, value))


def test_largest_workable_values_pass():
    params = _params("test")
    _set(params, "upgan.phase.batch_size", 4 * 32)  # 4 training volumes of at most 32 slices
    _set(params, "seeds", [0, 2**31 - 1])
    validate_parameters(params)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_is_refused():
    with pytest.raises(ValueError, match=r"training.device = 'cuda' but this machine has no CUDA device"):
        validate_parameters(_set(_params("test"), "training.device", "cuda"))


def test_the_engine_warns_about_a_batch_larger_than_its_slices(caplog):
    """Where no bound was known up front (real-data cohorts, internal stages such as MedGAN's
    feature-extractor pretraining) the stage still runs, saying that batches repeat slices."""
    from upgan.methods.single import train_single

    x = torch.rand(3, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    pairs = SlicePairs(x, x.clone())
    stage = StageConfig(name="tiny", steps=1, batch_size=4, lr_generator=1e-3, lr_discriminator=1e-3, device="cpu")
    train_single("pix2pix", {"ngf": 4, "ndf": 4, "n_layers_d": 1}, pairs, pairs, stage, None, progress=False)
    assert "stage tiny: batch_size 4 is larger than its training set (3 slices)" in caplog.text


def test_kedro_run_refuses_in_one_line_with_exit_code_2(tmp_path):
    """End to end: the refusal comes before any node (no data folder is created)."""
    result = subprocess.run(
        [sys.executable, "-m", "kedro", "run", "--env", "test", "--params",
         f"data_root={tmp_path / 'data'},training.steps=1000000000000"],
        cwd=structure.PROJECT_ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db"})
    assert result.returncode == 2, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors == ["Error: parameter training.steps = 1000000000000 generator updates is more than any run "
                      "can finish (at most 1e+08); lower it"]
    assert not (tmp_path / "data").exists()
