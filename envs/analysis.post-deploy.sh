#!/usr/bin/env bash
# The project package from this checkout, without dependencies (envs/analysis.yaml pins them).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
python -m pip install --no-deps -e "$repo"
