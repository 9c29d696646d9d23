"""Tiny synthetic data and configs shared by the training tests (CPU, seconds), and a
bit-for-bit comparison of network states."""

import pytest
import torch
import torch.nn.functional as F

from upgan.models import CascadeConfig, DiscriminatorConfig, UNetConfig
from upgan.training import SlicePairs


def smooth_task(n: int, seed: int, size: int = 16) -> SlicePairs:
    """Easy task: target = 3x3 box blur of a uniform-noise input (identity MAE ~0.2)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, size, size, generator=g)
    y = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    return SlicePairs(x, y)


@pytest.fixture()
def make_task():
    """The :func:`smooth_task` factory."""
    return smooth_task


@pytest.fixture()
def tiny_cfg() -> CascadeConfig:
    return CascadeConfig(
        n_phases=2,
        unet=UNetConfig(in_channels=1, base_width=4, depth=2),
        discriminator=DiscriminatorConfig(base_width=4, n_layers=2),
    )


@pytest.fixture()
def data() -> tuple[SlicePairs, SlicePairs]:
    return smooth_task(24, 0), smooth_task(8, 1)


def states_equal(a: dict | list[dict], b: dict | list[dict]) -> bool:
    """Whether two state dicts (or two lists of them) have the same keys and bit-identical
    tensors (parameters and buffers)."""
    a, b = ([a], [b]) if isinstance(a, dict) else (a, b)
    return len(a) == len(b) and all(
        x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x) for x, y in zip(a, b, strict=True)
    )


@pytest.fixture()
def same_states():
    """:func:`states_equal`."""
    return states_equal
