"""The ``upgan launch`` sub-command: options and exit codes (0 done, 1 a stage failed, 2 refused)."""

from __future__ import annotations

import argparse
import logging
import sys

logger = logging.getLogger("upgan.launch")


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``launch`` to the ``upgan`` command's sub-commands."""
    p = sub.add_parser(
        "launch", help="run a pipeline's grid as one job per cell (SLURM, local processes, debug)",
        description="Run a pipeline's grid (the cells `kedro run` would train, one after another) as one "
                    "job per cell through submitit: data preparation first, the cells side by side, the "
                    "report after. Finished cells are skipped; rerun to resume after a failure.")
    p.add_argument("--executor", required=True, choices=["slurm", "local", "debug"],
                   help="slurm: one SLURM job per cell; local: subprocesses on this machine; debug: one "
                        "after another in this process (pdb on a failure)")
    p.add_argument("--env", default="local", help="Kedro configuration environment (as kedro run --env)")
    p.add_argument("--pipelines", default="__default__", choices=["__default__", "weak_supervision"],
                   help="Table 1 (__default__) or the weak-supervision sweep")
    p.add_argument("--namespaces", default="", help="comma-separated cell name prefixes, e.g. "
                                                   "pet_to_ct.upgan or pet_to_ct.pix2pix.n04.s2021")
    p.add_argument("--max-parallel", type=int, default=None,
                   help="cells at once (local: default one per GPU group, else 1; slurm: array limit)")
    p.add_argument("--gpus-per-cell", type=int, default=0, help="GPUs per cell job (local: CUDA_VISIBLE_DEVICES)")
    p.add_argument("--cpus-per-cell", type=int, default=None, help="CPUs per cell job (SLURM)")
    p.add_argument("--partition", default=None, help="SLURM partition")
    p.add_argument("--time-min", type=int, default=24 * 60, help="time limit per job in minutes; a cell "
                   "that reaches it is requeued and resumes from its checkpoints")
    p.add_argument("--params", default="", help="runtime parameters as for kedro run, e.g. data_root=/scratch/x; a list "
                                                   "in brackets is one value: seeds=[2024,2025]")
    p.add_argument("--tracking-uri", default=None,
                   help="MLflow tracking URI for every job (default: the env's mlflow.yml); use an "
                        "`mlflow server` URL when cells run on several nodes")
    p.add_argument("--dry-run", action="store_true", help="list the cells and their state, run nothing")
    p.add_argument("--no-wait", action="store_true",
                   help="slurm: submit the cells and a dependent report job, print job ids, return")
    p.add_argument("--poll", type=float, default=2.0, help=argparse.SUPPRESS)


def split_params(text: str) -> list[str]:
    """``key=value`` items of ``--params``, split at the commas outside brackets, so that a list
    value stays one item (``seeds=[2021,2022],data_root=/x``: two items)."""
    items, depth, current = [], 0, ""
    for char in text:
        depth += {"[": 1, "{": 1, "]": -1, "}": -1}.get(char, 0)
        if char == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += char
    items.append(current)
    return [x.strip() for x in items if x.strip()]


def run(args: argparse.Namespace) -> int:
    """Run ``upgan launch`` with parsed ``args``."""
    from omegaconf import OmegaConf

    from upgan.launch.launcher import LaunchOptions, interrupt_on_sigterm, launch

    try:
        items = split_params(args.params)
        for item in items:
            if "=" not in item:
                raise ValueError(f"--params item {item!r} must be key=value")
        params = OmegaConf.to_container(OmegaConf.from_dotlist(items)) if items else {}
        data_root = params.pop("data_root", "data")
        options = LaunchOptions(
            executor=args.executor, env=args.env, pipeline=args.pipelines,
            namespaces=[x for x in args.namespaces.split(",") if x], max_parallel=args.max_parallel,
            gpus_per_cell=args.gpus_per_cell, cpus_per_cell=args.cpus_per_cell, partition=args.partition,
            time_min=args.time_min, dry_run=args.dry_run, wait=not args.no_wait, data_root=str(data_root),
            tracking_uri=args.tracking_uri, params=params, poll_s=args.poll)
        interrupt_on_sigterm()
        return launch(options, say=lambda line: print(line, flush=True))  # noqa: T201 (the launcher's console)
    except (ValueError, FileNotFoundError) as error:  # refused: one line, as `kedro run` prints it
        print(f"Error: {error}", file=sys.stderr, flush=True)  # noqa: T201
        return 2
    except KeyboardInterrupt as stop:
        print(f"launcher interrupted ({stop or 'SIGINT'})", file=sys.stderr, flush=True)  # noqa: T201
        return 130
