"""Model bundles: safetensors weights plus the JSON config needed to rebuild the networks.

One ``.safetensors`` file holds every tensor of the bundle; the config travels in the file's
metadata under ``upgan``. Loading never unpickles anything, so a bundle from an untrusted
source cannot run code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from upgan.io.files import atomic_path

METADATA_KEY = "upgan"


@dataclass
class ModelBundle:
    """Weights (flat name -> tensor) and the JSON-able config that explains them."""

    tensors: dict[str, torch.Tensor]
    config: dict[str, Any] = field(default_factory=dict)

    def state_dict(self, prefix: str) -> dict[str, torch.Tensor]:
        """The tensors under ``prefix.`` with the prefix removed (one network's state dict)."""
        start = f"{prefix}."
        out = {k[len(start):]: v for k, v in self.tensors.items() if k.startswith(start)}
        if not out:
            raise KeyError(f"bundle has no tensors under {prefix!r}; prefixes: {self.prefixes()}")
        return out

    def prefixes(self) -> list[str]:
        """Top-level names in the bundle (e.g. ``generator_0``, ``discriminator_0``)."""
        return sorted({k.split(".", 1)[0] for k in self.tensors})

    @staticmethod
    def pack(state_dicts: Mapping[str, Mapping[str, torch.Tensor]], config: Mapping[str, Any]) -> ModelBundle:
        """Flatten named state dicts into one bundle (tensors detached, copied to CPU)."""
        tensors = {
            f"{name}.{key}": value.detach().to("cpu").clone().contiguous()
            for name, sd in state_dicts.items()
            for key, value in sd.items()
        }
        return ModelBundle(tensors, dict(config))


def save_bundle(bundle: ModelBundle, path: str | Path) -> Path:
    """Write the bundle atomically to ``path`` (``.safetensors``)."""
    path = Path(path)
    with atomic_path(path, ".safetensors") as tmp:
        save_file(bundle.tensors, str(tmp), metadata={METADATA_KEY: json.dumps(bundle.config)})
    return path


def load_bundle(path: str | Path, device: str = "cpu") -> ModelBundle:
    """Read a bundle written by :func:`save_bundle`; a clear error for other files."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"model bundle {path} not found: run the node that writes it first (for a phase m "
            "of UP-GAN, every earlier phase must have been trained)"
        )
    try:
        with safe_open(str(path), framework="pt", device=device) as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    except Exception as exc:
        raise ValueError(f"{path} is not a readable safetensors model bundle ({exc})") from exc
    if METADATA_KEY not in metadata:
        raise ValueError(f"{path} is a safetensors file but not an upgan model bundle (no config)")
    return ModelBundle(tensors, json.loads(metadata[METADATA_KEY]))
