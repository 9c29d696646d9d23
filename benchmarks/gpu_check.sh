#!/usr/bin/env bash
# One command for a CUDA machine with the project installed: the paper-size benchmarks and a
# paper-shaped pipeline smoke (all methods, one task, a small cohort), every figure printed as
# `name: value`; at most 8 minutes on one H100/H200 (each step has a time limit).
#
#   bash benchmarks/gpu_check.sh             # on the GPU machine
#   bash benchmarks/gpu_check.sh --dry-run   # the same steps at tiny sizes on the CPU (CI, ~2 min)
#
# Run it from the project root with the project's Python first on PATH (or PYTHON=...).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
export KEDRO_DISABLE_TELEMETRY=true
mode=gpu
if [[ "${1:-}" == "--dry-run" ]]; then mode=dry-run; fi
step() { echo "== $1 ($(date -u +%H:%M:%S))"; }

step "environment"
"$PYTHON" - <<'PY'
import os, platform, torch
print(f"torch: {torch.__version__}")
print(f"cuda_available: {torch.cuda.is_available()}")
print(f"device: {torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu'}")
print(f"cpus: {os.cpu_count()} load_1min: {os.getloadavg()[0]:.2f}")
PY

# each GPU step is bounded by `timeout` (the total stays under 8 minutes); a failing step is
# reported and the next one runs
try() { local limit=$1; shift; timeout "$limit" "$@" || echo "step_failed: $* (exit $?)"; }

if [[ $mode == gpu ]]; then
  "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else "no CUDA device: use --dry-run on a CPU machine")'
  step "FLOPs per training iteration (paper size, batch 8)"
  try 30 "$PYTHON" benchmarks/flops.py --size paper --batch 8
  step "cohort generation per process (paper size; PET projector on the CPU, then on the GPU)"
  try 90 "$PYTHON" benchmarks/generation_speed.py --env paper --subjects 1
  try 45 "$PYTHON" benchmarks/generation_speed.py --env paper --subjects 2 --cohorts pet_ct --projector-device cuda
  step "training step at paper size (bf16, channels-last): images/s, TFLOP/s, % of peak, speed-up vs naive"
  try 100 "$PYTHON" benchmarks/run.py --sizes paper --device cuda --bf16
  step "ms per generator update per method (paper size, batch 8, bf16), eager; MedGAN compiled"
  try 50 "$PYTHON" benchmarks/step_time.py --size paper --batch 8 --bf16 --steps 10
  try 90 "$PYTHON" benchmarks/step_time.py --size paper --batch 8 --bf16 --steps 10 --compile --methods medgan
  step "paper-shaped pipeline smoke: kedro run --env paper, every method, pet_to_ct, 150 updates"
  try 240 "$PYTHON" benchmarks/paper_smoke.py
else
  step "FLOPs per training iteration (base size, batch 1)"
  "$PYTHON" benchmarks/flops.py --size base --batch 1
  step "cohort generation per process (test size)"
  "$PYTHON" benchmarks/generation_speed.py --env test --subjects 1
  step "ms per generator update per method (base size, batch 2, CPU)"
  "$PYTHON" benchmarks/step_time.py --size base --batch 2 --device cpu --steps 1
  step "paper-shaped pipeline smoke at tiny sizes on the CPU"
  "$PYTHON" benchmarks/paper_smoke.py --tiny
fi
step "done"
