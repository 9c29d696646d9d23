"""``upgan launch``: the experiment grid as one job per cell (submitit: SLURM, local, debug)."""
