"""CPU thread settings: fixed counts are applied as given, the default restores torch's own."""

import pytest
import torch

from upgan.runtime import TORCH_DEFAULT_THREADS, configure_cpu_threads


@pytest.fixture(autouse=True)
def _restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_fixed_count_and_default() -> None:
    assert configure_cpu_threads(1) == 1 and torch.get_num_threads() == 1
    assert configure_cpu_threads(None) == TORCH_DEFAULT_THREADS
    assert torch.get_num_threads() == TORCH_DEFAULT_THREADS  # restored after the fixed count


def test_auto_picks_one_of_the_two_candidates() -> None:
    chosen = configure_cpu_threads("auto")
    assert chosen in {1, TORCH_DEFAULT_THREADS} and torch.get_num_threads() == chosen


@pytest.mark.parametrize("bad", [0, -2, True, "four", 1.5])
def test_bad_values_name_the_parameter(bad) -> None:
    with pytest.raises(ValueError, match="runtime.cpu_threads"):
        configure_cpu_threads(bad)
