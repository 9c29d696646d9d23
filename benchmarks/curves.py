"""Validation curves of one method on one task, trained exactly as the pipeline trains it.

Used to choose the base budget (``training.steps``) and learning rates on validation data:
it prints, every ``--val-every`` generator updates, the validation MAE / SSIM / PSNR and the
seconds spent, and the same numbers of the do-nothing ``input`` reference.

    python benchmarks/curves.py --task mri_recon --method pix2pix --steps 1500 --val-every 100 \
        --data-root /tmp/upgan --params baselines.optimiser.lr_generator=1e-3

The prepared slices must exist (``kedro run --pipeline data_preparation --params
data_root=...``). Parameters come from ``conf/base`` (or ``--env``), then ``--params`` overrides
(dotted keys, YAML values).
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml
from kedro.config import OmegaConfigLoader

from upgan.evaluation import subject_metrics
from upgan.io.datasets import SliceSetDataset
from upgan.methods import get, predict_bundle
from upgan.metrics import mae, psnr, ssim
from upgan.pipelines.training import nodes
from upgan.preparation import PreparationConfig
from upgan.settings import CONFIG_LOADER_ARGS
from upgan.tasks import get_task

ROOT = Path(__file__).resolve().parents[1]


def _override(params: dict, dotted: str) -> None:
    key, _, value = dotted.partition("=")
    *path, last = key.split(".")
    target = params
    for part in path:
        target = target.setdefault(part, {})
    parsed = yaml.safe_load(value)
    if isinstance(parsed, str):
        try:
            parsed = float(parsed)
        except ValueError:
            pass
    target[last] = parsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", required=True)
    parser.add_argument("--method", required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--val-every", type=int, default=100)
    parser.add_argument("--data-root", default="data")
    parser.add_argument("--env", default="base")
    parser.add_argument("--params", nargs="*", default=[])
    parser.add_argument("--out", default=None, help="write the history CSV here")
    args = parser.parse_args()
    logging.getLogger("upgan").setLevel(logging.WARNING)
    loader = OmegaConfigLoader(conf_source=str(ROOT / "conf"), env=args.env,
                               runtime_params={"data_root": args.data_root}, **CONFIG_LOADER_ARGS)
    params = dict(loader["parameters"])
    for item in args.params:
        _override(params, item)
    params["training"] = {**params["training"], "steps": args.steps, "val_every": args.val_every,
                          "checkpoint_dir": None}
    folder = Path(args.data_root) / "05_model_input" / args.task
    train = SliceSetDataset(str(folder / "train.npz")).load()
    val = SliceSetDataset(str(folder / "val.npz")).load()
    split = pd.read_csv(folder / "split.csv")
    n = int(params[args.task]["split"]["train"])
    prep = dict(params[args.task]["preparation"])
    x, y = torch.from_numpy(np.clip(val.inputs[:, :1], 0, 1)), torch.from_numpy(val.targets)
    print(f"input reference on validation: MAE {float(mae(x, y).mean()):.4f}, SSIM "
          f"{float(ssim(x, y).mean()):.4f}, PSNR {float(psnr(x, y).mean()):.2f}")
    started = time.perf_counter()
    data = {"train_slices": train, "val_slices": val, "split_manifest": split}
    seed = int(params.get("seeds", [2021])[0])
    outputs = nodes.run_cell(args.task, args.method, n, seed, data, {**params, "preparation": prep},
                             skip_missing=True)
    model = outputs["model"]
    frames = [outputs[h] for step in get(args.method).plugin.cell_steps(params) for h in step.histories]
    prediction = predict_bundle(model, val.inputs, device="cpu")
    hu_window = PreparationConfig.from_params(prep).hu_window
    scored = {args.method: prediction.image}
    if get_task(args.task).input_is_reference:
        scored = {"input": val.inputs[:, :1], **scored}
    for name, image in scored.items():
        per_subject = subject_metrics(image, val.targets, val.subject_ids, args.task, hu_window=hu_window)
        means = per_subject[["ssim", "psnr", "mae", "bone_dice", "out_of_range_fraction"]].mean()
        print(f"validation subjects, {name}: " + ", ".join(f"{k} {v:.4f}" for k, v in means.items()))
    seconds = time.perf_counter() - started
    history = pd.concat(frames, ignore_index=True)
    cols = [c for c in ("network", "step", "g_loss", "val_mae", "val_ssim", "val_psnr", "seconds",
                        "selected_step") if c in history]
    print(history[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"total {seconds:.1f} s")
    if args.out:
        history.to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
