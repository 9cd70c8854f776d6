#!/usr/bin/env bash
# Runs inside the freshly built envs/gpu.yaml environment (Snakemake --sdm conda).
# flash-attn builds its CUDA kernels against the torch already installed, hence no build isolation
# (and not in the yaml, where pip would build it before torch exists). The project package comes
# from this checkout, without dependencies: the yaml pinned them all.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
MAX_JOBS=${MAX_JOBS:-8} python -m pip install --no-build-isolation flash-attn==2.8.3.post2
python -m pip install --no-deps -e "$repo"
