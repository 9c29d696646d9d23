"""What CPU a run computes on: its model and the instruction set torch's kernels use.

Training on CPU repeats bit for bit only on the same kind of machine (same CPU instruction set,
threads and library versions): oneDNN and torch pick their kernels (AVX2, AVX-512, ...) from
the CPU at run time, and kernels of different width sum in different orders, so two CPU types
give different rounding, which adversarial training can amplify into a different outcome. Runs
therefore record the machine (docs/experiments.md, "Reproducibility").
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

SIMD_FLAGS: tuple[str, ...] = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl",
                               "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16")
"""The /proc/cpuinfo flags reported (the vector extensions that decide oneDNN's kernels)."""


def _cpuinfo(path: Path = Path("/proc/cpuinfo")) -> tuple[str, str]:
    """``(model name, the SIMD_FLAGS present)`` from ``path``; empty strings where unreadable
    (not Linux)."""
    try:
        text = path.read_text()
    except OSError:
        return "", ""
    model, flags = "", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and not model:
            model = value.strip()
        elif key.strip() == "flags" and not flags:
            flags = set(value.split())
    return model, " ".join(f for f in SIMD_FLAGS if f in flags)


def cpu_description(cpuinfo: Path = Path("/proc/cpuinfo")) -> dict[str, str]:
    """The machine a run computes on, as strings: ``cpu_model`` (/proc/cpuinfo's model name,
    else ``platform.processor()``), ``cpu_isa`` (torch's CPU capability, e.g. ``AVX512``, the
    kernels torch's own vectorised code uses), ``cpu_simd_flags``, ``onednn_max_cpu_isa`` (the
    environment variable capping oneDNN's kernels, ``default`` when unset), ``torch_threads``,
    ``torch_version`` and ``machine`` (the architecture)."""
    model, flags = _cpuinfo(cpuinfo)
    return {
        "cpu_model": model or platform.processor() or "unknown",
        "cpu_isa": str(torch.backends.cpu.get_cpu_capability()),
        "cpu_simd_flags": flags,
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA", os.environ.get("DNNL_MAX_CPU_ISA", "default")),
        "torch_threads": str(torch.get_num_threads()),
        "torch_version": torch.__version__,
        "machine": platform.machine(),
    }
