#!/usr/bin/env bash
# A throw-away one-node SLURM cluster (Debian's slurm-wlm and munge), for trying and testing
# genolift's workflow on SLURM.  No systemd, no cgroups, no accounting database: the state,
# spool, logs and a private munge key and socket all live in one folder, $SLURM_BASE.
#
#   apt-get install -y --no-install-recommends slurm-wlm munge   # as root
#   SLURM_BASE=/tmp/gl-slurm scripts/slurm/one_node.sh start     # 1-3 s; prints the SLURM_CONF to export
#   export SLURM_CONF=/tmp/gl-slurm/slurm.conf
#   sinfo; sbatch --wrap 'hostname'
#   SLURM_BASE=/tmp/gl-slurm scripts/slurm/one_node.sh stop      # cancels its jobs, stops its daemons
#
# The node has one partition, $SLURM_PARTITION (default "gpu", the name the documented workflow
# command asks for) and one GRES "gpu" without a device file (a request for --gres=gpu:1 is
# scheduled; the job sees whatever GPU the machine has, here usually none).
# /etc/slurm/slurm.conf becomes a link to the configuration, because snakemake's SLURM job
# steps drop SLURM_CONF before their nested srun; the script refuses to start where a real
# /etc/slurm/slurm.conf exists, and removes only its own link on stop.
# Jobs stay visible to squeue and scontrol for MinJobAge = 300 s after they end; every finished
# job is also recorded in $SLURM_BASE/log/jobcomp.log (SLURM's job completion log).
# Must run as root (SlurmUser, SlurmdUser and munged are root).  stop kills only the daemons
# this folder's pid files name.
set -euo pipefail

BASE=${SLURM_BASE:-${TMPDIR:-/tmp}/genolift-slurm}
PARTITION=${SLURM_PARTITION:-gpu}
NODE=$(hostname -s)
CONF=$BASE/slurm.conf
MUNGE_SOCKET=$BASE/munge/munge.socket.2
SYSTEM_CONF=/etc/slurm/slurm.conf

fail() { echo "one_node.sh: $*" >&2; exit 1; }

start_munge() {
    mkdir -p "$BASE/munge" "$BASE/log"
    chmod 755 "$BASE/munge"
    [ -s "$BASE/munge/munge.key" ] || head -c 1024 /dev/urandom > "$BASE/munge/munge.key"
    chmod 400 "$BASE/munge/munge.key"
    munged --force --key-file="$BASE/munge/munge.key" --socket="$MUNGE_SOCKET" \
        --pid-file="$BASE/munge/munged.pid" --log-file="$BASE/log/munged.log" --seed-file="$BASE/munge/munged.seed"
    for _ in $(seq 50); do [ -S "$MUNGE_SOCKET" ] && break; sleep 0.1; done
    munge -n -S "$MUNGE_SOCKET" | unmunge -S "$MUNGE_SOCKET" > /dev/null || fail "munged does not answer"
}

write_config() {
    local cpus sockets cores threads memory
    read -r cpus sockets cores threads memory < <(slurmd -C | awk '
        /NodeName=/ { for (i = 1; i <= NF; i++) { split($i, a, "="); v[a[1]] = a[2] } }
        END { print v["CPUs"], v["SocketsPerBoard"], v["CoresPerSocket"], v["ThreadsPerCore"], v["RealMemory"] }')
    memory=$(( memory * 95 / 100 ))  # a slightly smaller reading later must not drain the node
    mkdir -p "$BASE/state" "$BASE/spool/$NODE"
    echo "NodeName=$NODE Name=gpu File=/dev/null" > "$BASE/gres.conf"
    cat > "$CONF" <<EOF
ClusterName=genolift
SlurmctldHost=$NODE
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
StateSaveLocation=$BASE/state
SlurmdSpoolDir=$BASE/spool/%n
SlurmctldPidFile=$BASE/slurmctld.pid
SlurmdPidFile=$BASE/slurmd.pid
SlurmctldLogFile=$BASE/log/slurmctld.log
SlurmdLogFile=$BASE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$BASE/log/jobcomp.log
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=512
GresTypes=gpu
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=300
NodeName=$NODE CPUs=$cpus Boards=1 SocketsPerBoard=$sockets CoresPerSocket=$cores ThreadsPerCore=$threads RealMemory=$memory Gres=gpu:1 State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
}

link_system_config() {
    if [ -e "$SYSTEM_CONF" ] && [ "$(readlink "$SYSTEM_CONF" 2>/dev/null)" != "$CONF" ]; then
        fail "$SYSTEM_CONF exists; this machine has its own SLURM configuration"
    fi
    mkdir -p "$(dirname "$SYSTEM_CONF")"
    ln -sfn "$CONF" "$SYSTEM_CONF"
}

wait_until_idle() {
    local state
    for _ in $(seq 150); do
        kill -0 "$(cat "$BASE/slurmctld.pid" 2>/dev/null || echo 0)" 2>/dev/null \
            || fail "slurmctld stopped: $(tail -3 "$BASE/log/slurmctld.log" 2>/dev/null | tr '\n' ' ')"
        state=$(timeout 5 sinfo -h -N -o %T 2>/dev/null || true)
        case "$state" in idle*|mixed*|allocated*) return 0 ;; esac
        sleep 0.2
    done
    fail "the node did not become idle: $(tail -3 "$BASE/log/slurmd.log" 2>/dev/null | tr '\n' ' ')"
}

start() {
    command -v slurmctld > /dev/null && command -v munged > /dev/null \
        || fail "slurmctld or munged missing: apt-get install -y --no-install-recommends slurm-wlm munge"
    [ "$(id -u)" = 0 ] || fail "must run as root"
    if [ -s "$BASE/slurmctld.pid" ] && kill -0 "$(cat "$BASE/slurmctld.pid")" 2>/dev/null; then
        fail "already running in $BASE"
    fi
    local started=$SECONDS
    mkdir -p "$BASE"
    start_munge
    write_config
    link_system_config
    export SLURM_CONF=$CONF
    slurmctld -c -f "$CONF"
    slurmd -c -f "$CONF"
    wait_until_idle
    echo "ready in $(( SECONDS - started )) s"
    echo "export SLURM_CONF=$CONF"
}

cancel_jobs() {
    [ -s "$BASE/slurmctld.pid" ] && kill -0 "$(cat "$BASE/slurmctld.pid")" 2>/dev/null || return 0
    export SLURM_CONF=$CONF
    timeout 10 scancel --user "$(id -un)" 2> /dev/null || true
    for _ in $(seq 100); do
        [ -z "$(timeout 5 squeue -h -t PD,R,CG -o %i 2>/dev/null)" ] && return 0
        sleep 0.2
    done
}

stop_daemon() {
    local file=$BASE/$1 pid
    [ -s "$file" ] || return 0
    pid=$(cat "$file")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    fi
    rm -f "$file"
}

stop() {
    cancel_jobs
    for name in slurmd.pid slurmctld.pid munge/munged.pid; do stop_daemon "$name"; done
    [ "$(readlink "$SYSTEM_CONF" 2>/dev/null)" = "$CONF" ] && rm -f "$SYSTEM_CONF"
    echo stopped
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: SLURM_BASE=FOLDER $0 start|stop" >&2; exit 2 ;;
esac
