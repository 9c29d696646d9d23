"""The stage's data path: resident on the device, or streamed from host memory with prefetch;
both train bit-identically on the CPU, and the budget decides (frozen phases' outputs count)."""

import dataclasses
import logging

import pytest
import torch

from upgan.losses import UPGANLossWeights
from upgan.models import UPGAN, build_discriminator, build_generators
from upgan.training import StageConfig, UPGANPhase, train_stage
from upgan.training import data as data_module
from upgan.training.data import ResidentData, StreamedData, prepared_bytes, stage_data

CONFIG = StageConfig(name="p1", steps=7, batch_size=5, val_every=3, device="cpu", channels_last=True)


def _phase1(tiny_cfg, seed: int = 3) -> UPGANPhase:
    torch.manual_seed(seed)
    gens = build_generators(tiny_cfg)
    return UPGANPhase(UPGAN(gens), 1, build_discriminator(tiny_cfg), UPGANLossWeights())


def _train(tiny_cfg, data, budget_gb):
    method = _phase1(tiny_cfg)
    history = train_stage(method, *data, dataclasses.replace(CONFIG, device_data_budget_gb=budget_gb),
                          progress=False)
    states = [m.state_dict() for m in (*method.cascade.generators, method.discriminator)]
    return history, states


def test_streamed_training_is_bit_identical_to_resident(tiny_cfg, make_task, monkeypatch, caplog, same_states):
    # 70 training slices prepared in chunks of 32 (the cascade's precompute batch): the frozen
    # phase sees the same batches on both paths; batches cross epochs and are prefetched
    monkeypatch.setattr(data_module, "PREPARE_CHUNK", 32)
    data = (make_task(70, 0), make_task(9, 1))
    with caplog.at_level(logging.INFO, logger="upgan.training.data"):
        resident, a = _train(tiny_cfg, data, None)
        streamed, b = _train(tiny_cfg, data, 0.0)
    assert "data resident on cpu" in caplog.text and "data streamed from" in caplog.text
    assert same_states(a, b)
    def numbers(history):  # every record's values but the wall-clock time, NaN as a string
        return [{k: repr(v) for k, v in r.items() if k != "seconds"} for r in history.records]

    assert numbers(resident) == numbers(streamed) and resident.selected_step == streamed.selected_step
    assert len(resident.records) == 4  # steps 0, 3, 6, 7: validation ran on both paths


def test_budget_counts_the_frozen_phases_outputs(tiny_cfg, make_task):
    train, val = make_task(10, 0), make_task(4, 1)
    method = _phase1(tiny_cfg)
    cpu = torch.device("cpu")
    # phase 1's input is (a, phase 0's output): 2 channels, plus the target: 3 x 16 x 16 floats
    need = prepared_bytes(method.prepare_inputs, train, val, cpu)
    assert need == 14 * 3 * 16 * 16 * 4
    fits = stage_data(method.prepare_inputs, train, val, cpu, False, need / 2**30)
    over = stage_data(method.prepare_inputs, train, val, cpu, False, 0.99 * need / 2**30)
    assert isinstance(fits, ResidentData) and isinstance(over, StreamedData)
    idx = torch.tensor([3, 0, 9])
    over.prefetch(idx)
    for x, y in (fits.train_batch(idx), over.train_batch(idx)):
        assert x.shape == (3, 2, 16, 16) and torch.equal(y, train.targets[idx])
    assert torch.equal(fits.train_batch(idx)[0], over.train_batch(idx)[0])
    over.close()
    with pytest.raises(ValueError, match="device_data_budget_gb"):
        StageConfig(device_data_budget_gb=-1.0)


def test_the_engines_adam_gives_the_bits_of_torchs_default_on_cpu():
    from upgan.training.stage import adam

    torch.manual_seed(0)
    shapes = [(64, 32, 4, 4), (32,), (1, 32, 3, 3), (7,)]
    start = [torch.randn(s) for s in shapes]
    grads = [[torch.randn(s) for s in shapes] for _ in range(4)]
    results = []
    for make in (lambda p: torch.optim.Adam(p, lr=2e-3, betas=(0.5, 0.999)), lambda p: adam(p, 2e-3, (0.5, 0.999))):
        params = [torch.nn.Parameter(t.clone()) for t in start]
        opt = make(params)
        for step in grads:
            for p, g in zip(params, step, strict=True):
                p.grad = g.clone()
            opt.step()
        results.append([p.detach() for p in params])
    assert all(torch.equal(a, b) for a, b in zip(*results, strict=True))
    assert adam([torch.nn.Parameter(torch.ones(2))], 1e-3, (0.9, 0.999)).defaults["foreach"] is True
