"""``upgan`` command line: ``upgan predict MODEL INPUT OUTPUT_DIR``, ``upgan launch`` and ``upgan merge``."""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger("upgan")


RUN_ID = re.compile(r"^[0-9a-f]{32}$")
MLFLOW_MODEL = re.compile(r"^(runs|models):/")
LEGACY_RUN_URI = re.compile(r"^runs:/(?P<run_id>[0-9a-f]{32})/model/?$")
"""``runs:/<id>/model``: the name every cell's model had before models were named after cells."""


def _tracking_uri(explicit: str | None) -> str:
    """The MLflow store to read: ``explicit``, else the project's ``mlflow.yml`` (as ``kedro run``
    reads it), else ``$MLFLOW_TRACKING_URI``. A relative sqlite file is looked for in the
    current folder, then in the project folder; a missing one is an error (never created)."""
    from upgan.pipelines.tracking_store import project_tracking_uri, sqlite_file
    from upgan.structure import PROJECT_ROOT

    uri = explicit or project_tracking_uri(PROJECT_ROOT / "conf")
    if not uri:
        raise ValueError("no MLflow tracking URI: run from the project folder, or give --tracking-uri")
    database = sqlite_file(uri)
    if database is None:
        return uri
    candidates = [database] if database.is_absolute() else [Path.cwd() / database, PROJECT_ROOT / database]
    for path in candidates:
        if path.is_file():
            return f"sqlite:///{path.resolve()}"
    hint = "check --tracking-uri" if explicit else "run `upgan predict` where `kedro run` ran, or give --tracking-uri"
    raise ValueError(f"no MLflow store {database} (looked in {', '.join(str(p.parent) for p in candidates)}): "
                     f"{hint}")


@contextmanager
def _current_store(uri: str) -> Iterator[None]:
    """Make ``uri`` MLflow's current tracking and registry store for the block. MLflow resolves
    ``runs:/`` and ``models:/`` through its current store whatever the ``tracking_uri`` argument
    of a call says; left alone, it would read (and create) ``./mlflow.db`` of the current folder."""
    import mlflow
    from mlflow.tracking._model_registry import utils as registry
    from mlflow.tracking._tracking_service import utils as tracking

    saved_env = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    saved_registry = registry._registry_uri
    try:
        with tracking._use_tracking_uri(uri):
            mlflow.set_registry_uri(uri)
            yield
    finally:
        registry._registry_uri = saved_registry
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _bundle_of_run(run_id: str, workdir: Path, tracking_uri: str) -> Path:
    """A cell's bundle given its MLflow child run id: the run's model, else (runs logged before
    cells had models) the bundle logged on its parent run under ``<task>/<method>/n<NN>/``."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from upgan.pipelines.mlflow_model import download_bundle

    client = mlflow.tracking.MlflowClient(tracking_uri)
    run = client.get_run(run_id)
    tags = run.data.tags
    if "cell" not in tags:
        raise ValueError(f"MLflow run {run_id} is not an upgan cell run (no 'cell' tag)")
    models = client.search_logged_models([run.info.experiment_id], f"source_run_id = '{run_id}'",
                                         max_results=2)
    if len(models) > 1:
        raise ValueError(f"MLflow run {run_id} holds more than one model: give runs:/{run_id}/<model name>")
    try:
        if not models:
            raise MlflowException(f"run {run_id} has no logged model")
        return download_bundle(f"models:/{models[0].model_id}", workdir, tracking_uri)
    except MlflowException:
        folder = "/".join(tags["cell"].split("."))  # <task>/<method>/n<NN>[/s<seed>]
        parent = tags.get("mlflow.parentRunId", run_id)
        return Path(mlflow.artifacts.download_artifacts(
            run_id=parent, artifact_path=f"{folder}/model.safetensors", dst_path=str(workdir),
            tracking_uri=tracking_uri))


def _model_from_mlflow(model: str, workdir: Path, tracking_uri: str | None = None) -> Path:
    """Download a cell's ``model.safetensors`` given its MLflow child run id, a
    ``runs:/<run id>/<model name>`` (``runs:/<run id>/model`` also finds the run's model, whatever
    its name) or a ``models:/<name>/<version>`` URI; one ValueError naming the
    store when the store, the run or the model is absent."""
    from mlflow.exceptions import MlflowException

    from upgan.pipelines.mlflow_model import download_bundle

    uri = _tracking_uri(tracking_uri)
    try:
        with _current_store(uri):
            if RUN_ID.match(model):
                return _bundle_of_run(model, workdir, uri)
            if legacy := LEGACY_RUN_URI.match(model):  # runs:/<id>/model: the run's model, whatever its name
                return _bundle_of_run(legacy["run_id"], workdir, uri)
            return download_bundle(model, workdir, uri)
    except MlflowException as exc:
        reason = str(exc.message).splitlines()[0]
        raise ValueError(f"{model} not found in the MLflow store {uri}: {reason}") from exc


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``upgan`` console script."""
    parser = argparse.ArgumentParser(prog="upgan", description="UP-GAN medical image translation")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict", help="translate NIfTI volumes and write their σ maps",
                       description="Translate NIfTI volumes with a trained cell and write the result "
                                   "and its uncertainty σ as NIfTI with the input's affine and header.")
    p.add_argument("model", help="a cell's model folder (data/06_models/<task>/<method>/n<NN>/s<seed>), its "
                                 "model.safetensors, the MLflow run id of the cell, runs:/<run id>/<model name> "
                                 "(runs:/<run id>/model: the run's model), models:/<name>/<version> or "
                                 "models:/<model id>")
    p.add_argument("input", help="a .nii/.nii.gz volume or a folder of them")
    p.add_argument("output_dir", help="where to write <name>_<target>.nii.gz and <name>_sigma.nii.gz")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:1 ...")
    p.add_argument("--tracking-uri", default=None,
                   help="MLflow store of an MLflow model (default: the project's conf/<env>/mlflow.yml, "
                        "as `kedro run` uses it)")
    p.add_argument("--batch-size", type=int, default=16, help="slices per forward pass")
    p.add_argument("--phases", action="store_true", help="also write the σ map of every phase")
    p.add_argument("--skip-input-check", action="store_true",
                   help="translate inputs whose intensities are unlike the model's training inputs (warning "
                        "instead of refusal)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace outputs that already exist in OUTPUT_DIR (refused otherwise)")
    p.add_argument("--no-clip", action="store_true",
                   help="write the network's raw values instead of clipping the translated image to "
                        "the valid range (the CT window; [0, 1] of the T1 scale), as evaluation scores it")
    from upgan.launch import command, merge

    command.add_parser(sub)
    merge.add_parser(sub)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    if args.command == "launch":
        return command.run(args)
    if args.command == "merge":
        return merge.run(args)
    from upgan.predict import predict_files
    from upgan.runtime import configure_cpu_threads

    configure_cpu_threads(None)  # fixed per machine: the same input gives the same output
    try:
        with tempfile.TemporaryDirectory() as tmp:
            model = Path(args.model)
            if MLFLOW_MODEL.match(args.model) or (not model.exists() and RUN_ID.match(args.model)):
                model = _model_from_mlflow(args.model, Path(tmp), args.tracking_uri)
            predict_files(model, args.input, args.output_dir, device=args.device,
                          batch_size=args.batch_size, phases=args.phases, clip=not args.no_clip,
                          overwrite=args.overwrite, check_inputs=not args.skip_input_check)
    except (FileNotFoundError, ValueError) as exc:
        if os.environ.get("UPGAN_TRACEBACK"):
            raise
        logger.error("%s", exc)
        logger.info("(UPGAN_TRACEBACK=1 shows the traceback)")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
