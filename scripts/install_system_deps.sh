#!/usr/bin/env bash
# Installs the Debian packages behind the SLURM and report-rendering tests: slurmctld, slurmd,
# slurm-client (a one-node cluster on localhost) and chromium (headless rendering of the report).
# Needs root and apt-get; elsewhere it says what it skipped and the tests that need them skip
# with that reason.
set -uo pipefail
need=()
command -v slurmctld >/dev/null 2>&1 || need+=(slurmctld)
command -v slurmd >/dev/null 2>&1 || need+=(slurmd)
command -v sbatch >/dev/null 2>&1 || need+=(slurm-client)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install_system_deps: not root or no apt-get; missing ${need[*]} (tests needing them will skip)" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
echo "install_system_deps: installing ${need[*]}" >&2
apt-get install -y --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
  || { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends "${need[@]}" >/dev/null; } \
  || echo "install_system_deps: apt-get failed for ${need[*]} (tests needing them will skip)" >&2
exit 0
