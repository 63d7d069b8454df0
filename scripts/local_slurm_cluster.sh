#!/usr/bin/env bash
# A real single-node SLURM cluster on this machine, to run the workflow through profiles/slurm (tests/e2e/test_slurm.py).
#
#   scripts/local_slurm_cluster.sh start    # install slurm-wlm + munge if missing, configure, start, wait for the node
#   scripts/local_slurm_cluster.sh stop     # stop slurmctld, slurmd and munged
#
# Needs root and Debian/Ubuntu (apt-get). It writes /etc/slurm/slurm.conf for this host (its CPUs and memory from
# `slurmd -C`, one partition "debug", accounting off, no cgroups, no GPUs: no gres.conf) and refuses to overwrite a
# slurm.conf it did not write. Daemons run as root; their state and logs go to $MMCRL_SLURM_DIR (/var/tmp/mmcrl-slurm).
set -euo pipefail

STATE=${MMCRL_SLURM_DIR:-/var/tmp/mmcrl-slurm}
CONF=/etc/slurm/slurm.conf
MARKER="# Written by mmcrl scripts/local_slurm_cluster.sh"

die() { echo "local_slurm_cluster: $*" >&2; exit 1; }

install_packages() {
    command -v slurmctld >/dev/null && command -v munged >/dev/null && return
    command -v apt-get >/dev/null || die "slurm-wlm and munge are missing and apt-get is not available to install them"
    echo "Installing slurm-wlm and munge with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
}

write_config() {
    if [[ -e $CONF ]] && ! grep -qF "$MARKER" "$CONF"; then
        die "$CONF exists and was not written by this script; not overwriting it"
    fi
    local node host
    node=$(slurmd -C | head -n 1)   # NodeName=<host> CPUs=… RealMemory=… as slurmd detects them
    host=$(hostname -s)
    mkdir -p "$STATE/slurmctld" "$STATE/slurmd" /etc/slurm
    cat > "$CONF" <<CONF
$MARKER: a single-node test cluster.
ClusterName=mmcrl-local
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$STATE/slurmctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MpiDefault=none
# Finished jobs stay visible to squeue for 5 min: the Snakemake SLURM plugin polls squeue when there is no accounting.
MinJobAge=300
$node State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
}

start_munge() {
    if munge -n </dev/null >/dev/null 2>&1; then return; fi
    [[ -s /etc/munge/munge.key ]] || mungekey --create
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge /etc/munge/munge.key
    runuser -u munge -- munged
    touch "$STATE/munged.started"   # stop ends munged only when this script started it
}

wait_for_idle_node() {
    for _ in $(seq 60); do
        if [[ $(sinfo -h -o %t 2>/dev/null) == idle ]]; then
            sinfo
            return
        fi
        sleep 1
    done
    die "the node did not become idle within 60 s; see $STATE/slurmctld.log and $STATE/slurmd.log"
}

start() {
    [[ $(id -u) == 0 ]] || die "must run as root (it installs packages and starts daemons)"
    install_packages
    write_config
    start_munge
    pgrep -F "$STATE/slurmctld.pid" >/dev/null 2>&1 || slurmctld -c
    pgrep -F "$STATE/slurmd.pid" >/dev/null 2>&1 || slurmd
    wait_for_idle_node
}

stop() {
    local pidfile
    for pidfile in "$STATE/slurmd.pid" "$STATE/slurmctld.pid"; do
        [[ -f $pidfile ]] && pkill -F "$pidfile" 2>/dev/null || true
    done
    if [[ -f $STATE/munged.started ]]; then
        pkill -F /run/munge/munged.pid 2>/dev/null || true
        rm -f "$STATE/munged.started"
    fi
    echo "local SLURM cluster stopped"
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    *) die "usage: $0 start|stop" ;;
esac
