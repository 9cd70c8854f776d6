#!/usr/bin/env bash
# Runs inside the freshly built envs/gpu.yaml environment (Snakemake --sdm conda, or
# scripts/gpu_check.sh). Installs the project from this checkout without dependencies (the yaml
# pinned them all) and settles the attention kernels:
# - flash-attn 2 is published on PyPI as source only; building it needs nvcc and hours, so it is
#   never built here. When VERO_FLASH_ATTN_WHEEL names a prebuilt wheel (a path or URL) that
#   matches this torch / CUDA / Python, it is installed without dependencies and checked.
# - Otherwise the models use PyTorch SDPA (vero.models.loading falls back from
#   model.attn_implementation: flash_attention_2 and logs it); vLLM brings its own kernels.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
python -m pip install --no-deps -e "$repo"
if [[ -n "${VERO_FLASH_ATTN_WHEEL:-}" ]]; then
  python -m pip install --no-deps --only-binary=:all: "$VERO_FLASH_ATTN_WHEEL"
  python -c "import flash_attn, torch; print('gpu.post-deploy: flash-attn', flash_attn.__version__, 'for torch', torch.__version__)"
else
  python - <<'PY'
import torch
print(
    f"gpu.post-deploy: no flash-attn wheel given (VERO_FLASH_ATTN_WHEEL unset); torch {torch.__version__} "
    f"(CUDA {torch.version.cuda}) attention runs on PyTorch SDPA"
)
PY
fi
