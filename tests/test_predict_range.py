"""`upgan predict` refuses a bundle whose raw outputs are far outside the valid range (flipped
bytes, a scaled layer) with one message naming it, before writing anything; a trained bundle
still predicts, with and without --no-clip."""

import json
import struct

import nibabel as nib
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from upgan.console import main
from upgan.io.bundle import ModelBundle, load_bundle, save_bundle
from upgan.losses import UPGANLossWeights
from upgan.models import CascadeConfig, DiscriminatorConfig, UNetConfig
from upgan.predict import OutputRangeError, check_output_range, predict_files
from upgan.training import SlicePairs, StageConfig, train_phase

SIZE = 32
HEAD = "generator_1.image_head.weight"


def _slices(n: int, seed: int) -> SlicePairs:
    """Inputs in [0, 1] and a blurred copy as the target (a task a tiny cascade learns fast)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, SIZE, SIZE, generator=g)
    return SlicePairs(x, F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1))


@pytest.fixture(scope="module")
def good_bundle(tmp_path_factory):
    """A two-phase cascade for pet_to_ct on 32 x 32 slices, each phase trained 30 updates."""
    cfg = CascadeConfig(n_phases=2, unet=UNetConfig(in_channels=1, base_width=4, depth=2),
                        discriminator=DiscriminatorConfig(base_width=4, n_layers=2))
    train, val = _slices(16, 0), _slices(4, 1)
    states: dict[str, dict[str, torch.Tensor]] = {}
    for m in range(cfg.n_phases):
        stage = StageConfig(name=f"phase {m}", steps=30, batch_size=8, lr_generator=2e-3,
                            lr_discriminator=1e-3, seed=m, device="cpu", val_every=10)
        frozen = [states[f"generator_{k}"] for k in range(m)]
        g, d, _ = train_phase(cfg, m, frozen, train, val, stage, UPGANLossWeights(), progress=False)
        states[f"generator_{m}"], states[f"discriminator_{m}"] = g, d
    config = {"task": "pet_to_ct", "method": "upgan", "cascade": cfg.to_dict(),
              "preparation": {"slice_size": SIZE}}
    return save_bundle(ModelBundle.pack(states, config), tmp_path_factory.mktemp("bundle") / "model.safetensors")


@pytest.fixture()
def pet(tmp_path):
    yy, xx = np.mgrid[:SIZE, :SIZE]
    blob = np.exp(-((yy - 16) ** 2 + (xx - 15) ** 2) / 80.0)
    rng = np.random.default_rng(3)
    data = np.stack([blob * (2.0 + k) + 0.1 * rng.random((SIZE, SIZE)) for k in range(6)], axis=-1)
    path = tmp_path / "scan_pet.nii.gz"
    nib.save(nib.Nifti1Image(data.astype(np.float32), np.eye(4)), str(path))
    return path


def _scaled(bundle_path, out_path, gain: float = 1e4):
    """A copy whose last phase's image head is scaled by ``gain``."""
    bundle = load_bundle(bundle_path)
    tensors = dict(bundle.tensors)
    tensors[HEAD] = tensors[HEAD] * gain
    return save_bundle(ModelBundle(tensors, bundle.config), out_path)


def _flipped(bundle_path, out_path):
    """A byte-for-byte copy with every byte of the last image head's weights inverted (the
    safetensors header intact, so the file still loads)."""
    raw = bytearray(bundle_path.read_bytes())
    (n,) = struct.unpack("<Q", raw[:8])
    start, end = json.loads(raw[8:8 + n])[HEAD]["data_offsets"]
    base = 8 + n
    for i in range(base + start, base + end):
        raw[i] ^= 0xFF
    out_path.write_bytes(bytes(raw))
    return out_path


def test_a_trained_bundle_predicts_with_and_without_clipping(good_bundle, pet, tmp_path):
    assert main(["predict", str(good_bundle), str(pet), str(tmp_path / "clipped")]) == 0
    assert main(["predict", str(good_bundle), str(pet), str(tmp_path / "raw"), "--no-clip"]) == 0
    for folder in ("clipped", "raw"):
        ct = nib.load(tmp_path / folder / "scan_pet_ct.nii.gz").get_fdata()
        assert ct.shape == (SIZE, SIZE, 6) and np.isfinite(ct).all()
    clipped = nib.load(tmp_path / "clipped" / "scan_pet_ct.nii.gz").get_fdata()
    assert -1024.0 <= clipped.min() and clipped.max() <= 3071.0


@pytest.mark.parametrize("damage", [_scaled, _flipped], ids=["scaled_layer", "flipped_bytes"])
@pytest.mark.parametrize("clip", [True, False], ids=["clip", "no_clip"])
def test_a_damaged_bundle_fails_naming_it_and_writes_nothing(good_bundle, pet, tmp_path, damage, clip):
    bundle = damage(good_bundle, tmp_path / "damaged.safetensors")
    assert load_bundle(bundle).config == load_bundle(good_bundle).config  # it still loads
    out = tmp_path / "out"
    with pytest.raises(OutputRangeError, match="outputs are out of range") as caught:
        predict_files(bundle, pet, out, progress=False, clip=clip)
    message = str(caught.value)
    assert str(bundle) in message and "may be corrupt" in message
    assert not out.exists()


def test_cli_exits_2_with_the_message(good_bundle, pet, tmp_path, caplog):
    bundle = _scaled(good_bundle, tmp_path / "scaled.safetensors")
    assert main(["predict", str(bundle), str(pet), str(tmp_path / "out"), "--no-clip"]) == 2
    assert "outputs are out of range" in caplog.text and str(bundle) in caplog.text
    assert not (tmp_path / "out").exists()


def test_check_output_range_thresholds():
    image = np.full(1000, 0.5, np.float32)
    check_output_range(image, (0.0, 1.0))
    image[:10] = [-0.6, 1.6, -3, 4, 9, -9, 2, -1, 1.7, 5]  # 1 % outside [-0.5, 1.5]: allowed
    image[10:30] = np.linspace(-0.49, 1.49, 20)  # outside [0, 1], inside the margin: allowed
    check_output_range(image, (0.0, 1.0))
    image[30] = 1.51  # 1.1 %
    with pytest.raises(OutputRangeError, match=r"1\.1 % of the voxels lie outside \[-0\.5, 1\.5\]"):
        check_output_range(image, (0.0, 1.0))
    finite = np.full(100, 0.5, np.float32)
    finite[3] = np.nan
    with pytest.raises(OutputRangeError, match="1 of 100 values are non-finite"):
        check_output_range(finite, (0.0, 1.0))
