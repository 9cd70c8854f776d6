#!/usr/bin/env bash
# Stop the cluster started by start.sh: cancel every job, wait for the queue to drain (a bare
# `scontrol shutdown` leaves job processes behind), shut the daemons down, kill by PID whatever
# is still alive, and put back what /etc/slurm held before start.sh linked it (etc.sh), so no
# later SLURM client or Snakemake call waits on the stopped controller. Safe to run when nothing
# is running (it still restores /etc/slurm).
set -uo pipefail
DIR=${LOCAL_SLURM_DIR:-/tmp/vero-local-slurm}
ETC=${LOCAL_SLURM_ETC:-/etc/slurm}
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=etc.sh
. "$HERE/etc.sh"
restore() {  # start.sh restarting the daemons keeps the links (LOCAL_SLURM_KEEP_ETC=1)
  [ "${LOCAL_SLURM_KEEP_ETC:-0}" = 1 ] || etc_restore "$DIR" "$ETC"
}

pids=()
for f in "$DIR/run/slurmctld.pid" "$DIR/run/slurmd.pid"; do
  if [ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; then pids+=("$(cat "$f")"); fi
done
if [ ${#pids[@]} -eq 0 ]; then restore; echo "local_slurm: not running"; exit 0; fi

scancel --full --quiet --user="$(id -un)" 2>/dev/null || true
# jobs get KillWait (30 s) between SIGTERM and SIGKILL to save a checkpoint
for _ in $(seq 1 400); do
  [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
  sleep 0.1
done
scontrol shutdown >/dev/null 2>&1 || true
left=("${pids[@]}")
for _ in $(seq 1 200); do
  still=()
  for p in "${left[@]}"; do kill -0 "$p" 2>/dev/null && still+=("$p"); done
  left=("${still[@]+"${still[@]}"}")
  [ ${#left[@]} -eq 0 ] && break
  sleep 0.1
done
for p in "${left[@]+"${left[@]}"}"; do
  echo "local_slurm: PID $p did not stop, sending SIGKILL" >&2
  kill -KILL "$p" 2>/dev/null || true
done
restore
echo "local_slurm: stopped (PIDs ${pids[*]})"
