"""Smoke test of the benchmark suite: each measurement runs and prints `name: value` lines."""

import importlib.util
import re
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("upgan_benchmarks", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _values(text: str) -> dict[str, float]:
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^(\S+): ([-0-9.e+]+)$", text, re.M)}


def test_benchmarks_print_their_figures(bench, capsys, monkeypatch):
    monkeypatch.setitem(bench.SIZES, "base", {**bench.SIZES["base"], "size": 32,
                                              "unet": dict(base_width=4, depth=2, max_width=8, block="plain"),
                                              "disc": dict(base_width=4, n_layers=1),
                                              "pix2pix": dict(ngf=4, ndf=4, n_layers_d=1)})
    bench.train_throughput("base", "cpu", False, 2)
    bench.flops_and_overhead("base", "cpu", False, 2, rounds=1)
    bench.speedup_vs_naive("base", "cpu", False, 2, rounds=1)
    values = _values(capsys.readouterr().out)
    assert values["train_images_per_s[upgan_phase0,base]"] > 0
    assert values["train_images_per_s[pix2pix,base]"] > 0
    assert values["model_gflops_per_step[upgan_phase0,base]"] > 0
    assert 0.0 <= values["overhead_fraction[base]"] < 1.0
    assert values["speedup_vs_naive[base]"] > 0


def test_naive_block_duplicates_the_main_branch_only(bench):
    """The naive block returns the same image in eval mode and costs one extra main branch."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from upgan.models.unet import ResidualBlock

    torch.manual_seed(0)
    ours = ResidualBlock(3, 8, "batch").eval()
    naive = ResidualBlock(3, 8, "batch").eval()
    naive.load_state_dict(ours.state_dict())
    naive.__class__ = bench._NaiveResidualBlock
    x = torch.randn(2, 3, 16, 16)

    def flops(module, inputs) -> int:
        with FlopCounterMode(display=False) as counter:
            module(inputs)
        return counter.get_total_flops()

    assert torch.allclose(naive(x), ours(x))
    assert flops(naive, x) - flops(ours, x) == flops(ours.main, x)


def test_engine_timing_makes_two_passes_of_steps_updates(bench, monkeypatch):
    """The engine benchmark runs 2 x steps generator updates (recorded at 0, steps, 2 steps)
    and times the second half only."""
    seen = {}
    real = bench.train_stage

    def spy(method, train, val, stage, *args, **kwargs):
        history = real(method, train, val, stage, *args, **kwargs)
        seen.update(updates=history.updates, records=history.metric("step"), val=val)
        return history

    monkeypatch.setattr(bench, "train_stage", spy)
    cfg = bench.CascadeConfig(n_phases=1, unet=bench.UNetConfig(in_channels=1, base_width=4, depth=2),
                              discriminator=bench.DiscriminatorConfig(base_width=4, n_layers=1))
    sec = bench._engine_seconds_per_step(bench._upgan_phase0(cfg), bench._data(8 * 3, 16), 8, 3, "cpu", False)
    assert seen == {"updates": 6, "records": [0, 3, 6], "val": None}
    assert sec > 0
