#!/usr/bin/env bash
# One prepared check of the GPU path (vero.gpucheck): builds the tiny VLM, runs two GSPO steps with
# TRL's colocated vLLM and sleep mode in bf16, one FSDP2 step through the multi_gpu launcher, one
# evaluation with the vLLM backend; prints versions, step times and peak memory. For a CUDA
# machine without hub access (everything is built offline). Target: under 10 minutes.
#
#   scripts/gpu_check.sh [--dry-run] [--out DIR]     (default DIR: results/gpu_check)
#
# Python: $VERO_GPU_PYTHON, else .venv-gpu/bin/python, else python3. When that interpreter lacks
# vLLM / TRL and VERO_GPU_INSTALL=1, .venv-gpu is created with Python 3.12 and envs/gpu.yaml's pip
# set is installed into it (needs the package index: about 4 GB of wheels, 255 packages; not timed
# here, no GPU machine with index access was available). `--dry-run` builds and prints every
# step's config and command without a GPU (tests/test_gpu_check.py runs it on CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
DRY=()
OUT=results/gpu_check
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dry-run) DRY=(--dry-run); shift ;;
    --out) OUT=$2; shift 2 ;;
    *) echo "gpu_check: unknown argument $1" >&2; exit 2 ;;
  esac
done
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 WANDB_MODE=disabled
export VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
PY=${VERO_GPU_PYTHON:-}
[[ -z "$PY" && -x .venv-gpu/bin/python ]] && PY=.venv-gpu/bin/python
PY=${PY:-python3}
if ! "$PY" -c "import vllm, trl" 2>/dev/null && [[ ${#DRY[@]} -eq 0 ]]; then
  if [[ "${VERO_GPU_INSTALL:-0}" != 1 ]]; then
    echo "gpu_check: $PY has no vllm/trl; set VERO_GPU_PYTHON to the envs/gpu.yaml environment's python," \
      "or VERO_GPU_INSTALL=1 to build .venv-gpu from envs/gpu.yaml (needs the package index)" >&2
    exit 3
  fi
  start=$(date +%s)
  python3.12 -m venv .venv-gpu
  mapfile -t PINS < <(sed -n 's/^ *- \([A-Za-z0-9_.-]*\(\[[a-z,]*\]\)\?==[^ #]*\).*/\1/p' envs/gpu.yaml)
  .venv-gpu/bin/python -m pip install --quiet --upgrade pip
  .venv-gpu/bin/python -m pip install "${PINS[@]}"
  PY=.venv-gpu/bin/python
  PATH="$PWD/.venv-gpu/bin:$PATH" bash envs/gpu.post-deploy.sh
  echo "gpu_check: built .venv-gpu from envs/gpu.yaml in $(($(date +%s) - start)) s"
fi
# the project itself: from this checkout, whatever the interpreter has installed
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
[[ ${#DRY[@]} -gt 0 ]] && export CUDA_VISIBLE_DEVICES=""
exec "$PY" -m vero.gpucheck --out "$OUT" "${DRY[@]}"
