"""Generation and preparation in worker processes: safe after multi-threaded torch work in the
parent (no fork), and bit-identical to one process."""

import os
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from upgan.io.cohort import SyntheticCohortSpec, write_synthetic_cohort
from upgan.io.layouts import PET_CT
from upgan.parallel import map_jobs, threads_per_worker, worker_pool

SIMULATION = {"shape": [24, 24, 6], "spacing_mm": [9.0, 9.0, 12.0]}
SRC = Path(__file__).resolve().parents[2] / "src"


def _volumes(root):
    return {p.relative_to(root).as_posix(): nib.load(str(p)) for p in sorted(root.rglob("*.nii.gz"))}


def _torch_threads_in_worker(_job):
    return torch.get_num_threads()


GENERATE_IN_TWO_WORKERS = """
import sys, torch
from upgan.io.cohort import SyntheticCohortSpec, write_synthetic_cohort
from upgan.io.layouts import PET_CT
torch.set_num_threads(2)  # the parent starts torch's thread pool first: what broke forked workers
a = torch.rand(256, 256)
assert torch.isfinite(a @ a).all()
spec = SyntheticCohortSpec(layout=PET_CT, n_subjects=3, seed=7, simulation={simulation!r})
write_synthetic_cohort(sys.argv[1], spec, n_workers=2, progress=False)
"""


def test_generation_in_two_workers_after_threaded_torch_work_matches_one_process(tmp_path):
    # in a separate process with a time limit: forked workers hung (or crashed) here
    script = GENERATE_IN_TWO_WORKERS.format(simulation=SIMULATION)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])))
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path / "two")], env=env,
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    spec = SyntheticCohortSpec(layout=PET_CT, n_subjects=3, seed=7, simulation=SIMULATION)
    one = write_synthetic_cohort(tmp_path / "one", spec, n_workers=1, progress=False)
    two = tmp_path / "two"
    v1, v2 = _volumes(one), _volumes(two)
    assert sorted(v1) == sorted(v2) and len(v1) == 6  # 3 subjects x (pet, ct)
    for name in v1:
        d1, d2 = np.asanyarray(v1[name].dataobj), np.asanyarray(v2[name].dataobj)
        assert d1.dtype == d2.dtype and d1.tobytes() == d2.tobytes(), name
        assert np.array_equal(v1[name].affine, v2[name].affine)
    assert (one / "synthetic_cohort.json").read_bytes() == (two / "synthetic_cohort.json").read_bytes()


def test_workers_are_fresh_processes_with_their_own_thread_count():
    with pytest.raises(ValueError, match="fork is unsafe"):
        worker_pool(2, start_method="fork")
    with worker_pool(2, threads=1) as pool:
        assert pool._mp_context.get_start_method() == "spawn"
        assert list(pool.map(_torch_threads_in_worker, range(2))) == [1, 1]
    assert list(map_jobs(divmod, [(7, 2), (9, 4)], n_workers=2)) == [(3, 1), (2, 1)]
    assert threads_per_worker(4, cores=16) == 4 and threads_per_worker(32, cores=16) == 1
