"""Predicting with any trained method's model bundle (:mod:`upgan.io.bundle`), whose config
names the method: cascades rebuild every phase, single-generator methods their generator."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from upgan.inference import predict_phases, run_batched
from upgan.io.bundle import ModelBundle
from upgan.methods.registry import get
from upgan.methods.single import build_generator
from upgan.models import UPGAN, CascadeConfig, UncertaintyUNet, cascade_config_from_dict


@dataclass
class Prediction:
    """A method's output on (N, C, H, W) inputs.

    Attributes:
        image: (N, 1, H, W) final prediction on the normalised scale.
        sigma: (N, 1, H, W) final uncertainty, or ``None`` for methods without one.
        phases: per phase a dict of (N, 1, H, W) arrays ``image, alpha, beta, sigma`` (cascades).
    """

    image: np.ndarray
    sigma: np.ndarray | None
    phases: list[dict[str, np.ndarray]] | None


def cascade_from_states(cfg: CascadeConfig, states: list[dict[str, torch.Tensor]]) -> UPGAN:
    """Rebuild a cascade from its config and the generators' state dicts (phase order)."""
    generators = []
    for m, state in enumerate(states):
        g = UncertaintyUNet(cfg.generator_config(m))
        g.load_state_dict(state)
        generators.append(g)
    return UPGAN(generators, guidance=cfg.guidance)


def cascade_from_bundle(bundle: ModelBundle, prefix: str = "generator_") -> UPGAN:
    """Rebuild a trained cascade from a cell's model bundle (generators ``generator_<m>``)."""
    cfg = cascade_config_from_dict(bundle.config["cascade"])
    stored = sorted(p for p in bundle.prefixes() if p.startswith(prefix))
    expected = sorted(f"{prefix}{m}" for m in range(cfg.n_phases))
    if stored != expected:
        raise ValueError(f"model bundle: its config says M = {cfg.n_phases} phases but it holds the "
                         f"generators {stored}; the bundle is inconsistent (retrain or re-export it)")
    return cascade_from_states(cfg, [bundle.state_dict(f"{prefix}{m}") for m in range(cfg.n_phases)])


def predict_bundle(bundle: ModelBundle, inputs: np.ndarray | torch.Tensor, device: str = "auto",
                   batch_size: int = 16, channels_last: bool = True) -> Prediction:
    """Predict with any method's model bundle (batched, inference mode; ``channels_last``: NHWC
    layout, faster convolutions on CPU and CUDA, same values up to float rounding)."""
    spec = get(bundle.config.get("method", ""))
    x = torch.as_tensor(np.asarray(inputs, dtype=np.float32))
    if spec.cascade:
        outputs = predict_phases(cascade_from_bundle(bundle), x, batch_size=batch_size, device=device,
                                 channels_last=channels_last)
        phases = [{k: getattr(o, k).numpy() for k in ("image", "alpha", "beta", "sigma")} for o in outputs]
        return Prediction(phases[-1]["image"], phases[-1]["sigma"], phases)
    generator = build_generator(spec.name, bundle.config["network"])
    generator.load_state_dict(bundle.state_dict("generator"))
    chunks = run_batched(generator, x, batch_size=batch_size, device=device, channels_last=channels_last)
    return Prediction(torch.cat([c[0] for c in chunks]).numpy(), None, None)
