#!/usr/bin/env bash
# Start a one-node SLURM cluster on localhost for tests and CI: slurmctld + slurmd from Debian's
# packages, no munge (auth/none), no accounting database, and optional fake GPUs (GRES backed by
# character devices) so jobs can request --gpus/--gres and see CUDA_VISIBLE_DEVICES.
#
#   LOCAL_SLURM_DIR   state, spool, logs, pid files and the config (default /tmp/vero-local-slurm)
#   FAKE_GPUS         number of fake GPUs on the node (default 2; 0 = no GRES)
#   LOCAL_SLURM_CPUS  CPUs the node offers (default: nproc). More than the machine has lets many
#                     small jobs run at once (tests); slurmd is told to trust the config then.
#   LOCAL_SLURM_INSTALL=0  never call apt-get (exit 3 if the daemons are missing)
#   LOCAL_SLURM_ETC   where the config is linked (default /etc/slurm, the path srun inside jobs reads)
#
# Exit codes: 0 cluster up, 1 the node never came up, 3 SLURM not installed and not installable,
# 4 daemons of another cluster (another LOCAL_SLURM_DIR) are running.
# Running it again is harmless: daemons already up are kept unless the config changed.
set -euo pipefail
DIR=${LOCAL_SLURM_DIR:-/tmp/vero-local-slurm}
FAKE_GPUS=${FAKE_GPUS:-2}
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
HERE=$(cd "$(dirname "$0")" && pwd)
ETC=${LOCAL_SLURM_ETC:-/etc/slurm}
# shellcheck source=etc.sh
. "$HERE/etc.sh"

have_slurm() { command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null; }
if ! have_slurm; then
  if [ "${LOCAL_SLURM_INSTALL:-1}" = 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    pkgs=(slurmctld slurmd slurm-client)
    apt-get install -y --no-install-recommends "${pkgs[@]}" >/dev/null 2>&1 \
      || { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends "${pkgs[@]}" >/dev/null 2>&1; } \
      || true
  fi
  have_slurm || { echo "local_slurm: slurmctld/slurmd/sbatch not installed and not installable (need root + apt-get)" >&2; exit 3; }
fi
if [ "$(id -u)" != 0 ]; then
  # SlurmUser=root and the /etc/slurm link below need root.
  echo "local_slurm: must run as root to start slurmctld/slurmd" >&2; exit 3
fi

running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
# One cluster per machine (fixed ports, /etc/slurm): refuse to start beside daemons of another one.
for daemon in slurmctld slurmd; do
  if pgrep -x "$daemon" >/dev/null && ! running "$DIR/run/$daemon.pid"; then
    echo "local_slurm: a $daemon not started from $DIR is running (PID $(pgrep -x "$daemon" | tr '\n' ' '));" \
      "stop it first (LOCAL_SLURM_DIR=<its dir> $HERE/stop.sh)" >&2
    exit 4
  fi
done

mkdir -p "$DIR"/{etc,state,spool,log,run,gpus}
NODE=$(hostname -s)
CPUS=${LOCAL_SLURM_CPUS:-$(nproc)}
overrides=""
[ "$CPUS" -gt "$(nproc)" ] && overrides="SlurmdParameters=config_overrides"
REAL_MB=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
NODE_MB=$(( REAL_MB * 9 / 10 ))   # leave room for the OS so slurmd does not drain the node

gres_types=""; node_gres=""
: > "$DIR/etc/gres.conf.new"
if [ "$FAKE_GPUS" -gt 0 ]; then
  gres_types="GresTypes=gpu"; node_gres="Gres=gpu:$FAKE_GPUS"
  # gres/gpu rejects count-only GPUs and regular files: each "GPU" is a char device (1,3 = /dev/null).
  for i in $(seq 0 $((FAKE_GPUS - 1))); do
    [ -c "$DIR/gpus/nvidia$i" ] || mknod "$DIR/gpus/nvidia$i" c 1 3
  done
  printf 'AutoDetect=off\nNodeName=%s Name=gpu File=%s/gpus/nvidia[0-%d]\n' \
    "$NODE" "$DIR" "$((FAKE_GPUS - 1))" > "$DIR/etc/gres.conf.new"
fi

cat > "$DIR/etc/slurm.conf.new" <<CONF
ClusterName=vero-local
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/none
CredType=cred/none
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
SchedulerParameters=sched_min_interval=100000,bf_interval=1,batch_sched_delay=0
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# squeue-based status checks need finished jobs to stay visible (>= 3 x the first-check delay);
# the tests also read finished jobs back with scontrol for the length of a demo slice.
MinJobAge=900
# Without a default a job that names no --mem is given the whole node.
DefMemPerCPU=500
ReturnToService=2
# SLURM's default: the time a job has between SIGTERM and SIGKILL (its checkpoint, tests/test_slurm.py)
KillWait=30
Waittime=0
$overrides
$gres_types
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$NODE_MB $node_gres State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF

changed=0
for f in slurm.conf gres.conf; do
  if cmp -s "$DIR/etc/$f.new" "$DIR/etc/$f"; then rm -f "$DIR/etc/$f.new"; else mv "$DIR/etc/$f.new" "$DIR/etc/$f"; changed=1; fi
done
# The config has to sit at the compiled-in path (etc.sh says why); what /etc/slurm held before is
# saved under $DIR/etc-saved and put back by stop.sh, or by this script when the cluster fails to come up.
etc_install "$DIR" "$ETC" || exit 1

if [ "$changed" = 1 ] && { running "$DIR/run/slurmctld.pid" || running "$DIR/run/slurmd.pid"; }; then
  echo "local_slurm: config changed, restarting the daemons" >&2
  LOCAL_SLURM_DIR=$DIR LOCAL_SLURM_ETC=$ETC LOCAL_SLURM_KEEP_ETC=1 "$HERE/stop.sh"
fi
running "$DIR/run/slurmctld.pid" || slurmctld
running "$DIR/run/slurmd.pid" || slurmd

state=""
for _ in $(seq 1 150); do
  state=$(sinfo -h -n "$NODE" -o %T 2>/dev/null || true)
  case "$state" in
    idle|mixed|allocated|completing) break ;;
    down*|drain*) scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true ;;
  esac
  sleep 0.2
done
case "$state" in
  idle|mixed|allocated|completing) ;;
  *) echo "local_slurm: node $NODE did not come up (state '$state')" >&2
     tail -n 20 "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" >&2 || true
     LOCAL_SLURM_DIR=$DIR LOCAL_SLURM_ETC=$ETC "$HERE/stop.sh" >&2
     exit 1 ;;
esac
echo "local_slurm: up (node=$NODE cpus=$CPUS mem=${NODE_MB}MB gpus=$FAKE_GPUS dir=$DIR)"
