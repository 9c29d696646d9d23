"""``upgan`` command line: ``upgan predict MODEL INPUT OUTPUT_DIR``."""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

logger = logging.getLogger("upgan")


def _model_from_mlflow(run_id: str, workdir: Path) -> Path:
    """Download a cell's ``model.safetensors`` given its MLflow child (or parent) run id."""
    import mlflow

    client = mlflow.tracking.MlflowClient()
    run = client.get_run(run_id)
    tags = run.data.tags
    if "cell" not in tags:
        raise ValueError(f"MLflow run {run_id} is not an upgan cell run (no 'cell' tag)")
    task, method, cell = tags["cell"].split(".")
    parent = tags.get("mlflow.parentRunId", run_id)
    return Path(mlflow.artifacts.download_artifacts(
        run_id=parent, artifact_path=f"{task}/{method}/{cell}/model.safetensors", dst_path=str(workdir)))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``upgan`` console script."""
    parser = argparse.ArgumentParser(prog="upgan", description="UP-GAN medical image translation")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict", help="translate NIfTI volumes and write their σ maps",
                       description="Translate NIfTI volumes with a trained cell and write the result "
                                   "and its uncertainty σ as NIfTI with the input's affine and header.")
    p.add_argument("model", help="a cell's model folder (data/06_models/<task>/<method>/n<NN>), its "
                                 "model.safetensors, or an MLflow run id of the cell")
    p.add_argument("input", help="a .nii/.nii.gz volume or a folder of them")
    p.add_argument("output_dir", help="where to write <name>_<target>.nii.gz and <name>_sigma.nii.gz")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:1 ...")
    p.add_argument("--batch-size", type=int, default=16, help="slices per forward pass")
    p.add_argument("--phases", action="store_true", help="also write the σ map of every phase")
    p.add_argument("--no-clip", action="store_true",
                   help="write the network's raw values instead of clipping the translated image to "
                        "the valid range (the CT window; [0, 1] of the T1 scale), as evaluation scores it")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    from upgan.predict import predict_files
    from upgan.runtime import configure_cpu_threads

    configure_cpu_threads(None)  # fixed per machine: the same input gives the same output
    try:
        with tempfile.TemporaryDirectory() as tmp:
            model = Path(args.model)
            if not model.exists() and len(args.model) == 32 and args.model.isalnum():
                model = _model_from_mlflow(args.model, Path(tmp))
            predict_files(model, args.input, args.output_dir, device=args.device,
                          batch_size=args.batch_size, phases=args.phases, clip=not args.no_clip)
    except (FileNotFoundError, ValueError) as exc:
        logger.error("%s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
