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


@pytest.fixture
def two_cores(monkeypatch):
    """A 2-core machine whose 1-minute load average the test sets."""
    import os

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)

    def load(value: float) -> None:
        monkeypatch.setattr(os, "getloadavg", lambda: (value, value, value))

    return load


def test_more_threads_than_free_cores_warns_once(two_cores, caplog) -> None:
    two_cores(1.0)  # another torch job keeps one core busy
    with caplog.at_level("WARNING", logger="upgan.runtime"):
        configure_cpu_threads(2)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "2 threads" in warnings[0] and "2 cores" in warnings[0] and "1.0" in warnings[0]
    assert "runtime.cpu_threads" in warnings[0]


def test_no_warning_when_the_cores_are_free(two_cores, caplog) -> None:
    two_cores(0.1)
    with caplog.at_level("WARNING", logger="upgan.runtime"):
        configure_cpu_threads(2)
        two_cores(1.0)
        configure_cpu_threads(1)  # one thread fits the one free core
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
