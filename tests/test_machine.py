"""The machine description a run records (upgan.machine)."""

from __future__ import annotations

import torch

from upgan.machine import cpu_description


def test_cpu_description_reads_cpuinfo(tmp_path, monkeypatch) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Test CPU 9000\nflags\t\t: fpu sse4_2 avx avx2 fma avx512f\n"
                    "processor\t: 1\nmodel name\t: Test CPU 9000\nflags\t\t: fpu\n")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    d = cpu_description(info)
    assert d["cpu_model"] == "Test CPU 9000"
    assert d["cpu_simd_flags"] == "sse4_2 avx avx2 fma avx512f"  # the first processor's, in a fixed order
    assert d["onednn_max_cpu_isa"] == "AVX2"
    assert d["cpu_isa"] == torch.backends.cpu.get_cpu_capability()
    assert d["torch_threads"] == str(torch.get_num_threads())


def test_cpu_description_without_cpuinfo(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
    d = cpu_description(tmp_path / "missing")
    assert d["cpu_model"] and d["cpu_simd_flags"] == "" and d["onednn_max_cpu_isa"] == "default"
