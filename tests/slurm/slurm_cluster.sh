# shellcheck shell=bash
# A throwaway single-node Slurm cluster on loopback, for the slurm/ script tests. Sourced:
#   source tests/slurm/slurm_cluster.sh
#   slurm_cluster_start        # sets SLURM_TEST_DIR, exports SLURM_CONF; exits 77 if it cannot
#   sbatch ...                 # the cluster's commands now talk to this cluster only
# Everything lives in one temporary folder: a fresh munge key and munged socket, slurm.conf,
# state and spool folders, the daemons' logs. slurmctld and slurmd run in the foreground (-D) in
# the background of the test as root; an EXIT trap kills them (and munged) by pid and removes the
# folder (kept when SLURM_TEST_KEEP=1). The node is called "localhost"; both daemons listen on
# ports that were free on 127.0.0.1 a moment earlier. When something needed is missing, or the
# node does not come up idle within 30 s, the reason is printed with the daemons' log tails and
# the test exits 77, which ctest reports as skipped (SKIP_RETURN_CODE 77).

slurm_skip() {
  echo "SKIP: $*"
  exit 77
}

# Two (or $1) TCP ports free on 127.0.0.1 now.
slurm_free_ports() {
  /usr/bin/python3 - "${1:-2}" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

slurm_cluster_stop() {
  local pid
  # Jobs a failed test left running: cancel them while slurmd can still reap their steps.
  if [[ ${SLURM_CONF:-} == "${SLURM_TEST_DIR:-none}/slurm.conf" &&
    -n $(squeue -h -o %i 2>/dev/null) ]]; then
    # shellcheck disable=SC2046 # one word per job id
    scancel --full $(squeue -h -o %i) 2>/dev/null || true
    for _ in $(seq 50); do [[ -z $(squeue -h -t R,CG -o %i 2>/dev/null) ]] && break; sleep 0.2; done
  fi
  for pid in ${SLURM_TEST_PIDS:-}; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in ${SLURM_TEST_PIDS:-}; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  SLURM_TEST_PIDS=""
  if [[ -n ${SLURM_TEST_DIR:-} && ${SLURM_TEST_KEEP:-0} != 1 ]]; then
    rm -rf "$SLURM_TEST_DIR"
  fi
}

slurm_dump_logs() {
  local f
  for f in munged.out munged.log slurmctld.out slurmctld.log slurmd.out slurmd-localhost.log; do
    [[ -f $SLURM_TEST_DIR/$f ]] || continue
    echo "--- tail of $f"
    tail -n 15 "$SLURM_TEST_DIR/$f"
  done
}

# munged for a test cluster in folder $1: a fresh key readable by root only and a private socket
# ($1/munge/munge.sock); its pid joins SLURM_TEST_PIDS. Returns 1 when it did not start in 5 s.
slurm_start_munge() {
  local d=$1
  mkdir -p "$d/munge"
  chmod 700 "$d/munge"
  dd if=/dev/urandom of="$d/munge/munge.key" bs=1 count=1024 status=none
  chmod 400 "$d/munge/munge.key"
  munged --foreground --force --socket="$d/munge/munge.sock" --key-file="$d/munge/munge.key" \
    --pid-file="$d/munge/munged.pid" --seed-file="$d/munge/munged.seed" \
    --log-file="$d/munged.log" >"$d/munged.out" 2>&1 &
  SLURM_TEST_PIDS+=" $!"
  for _ in $(seq 50); do [[ -S $d/munge/munge.sock ]] && return 0; sleep 0.1; done
  return 1
}

# Writes $1/slurm.conf for a throwaway cluster: NAME CONTROLLER (SlurmctldHost) CTLD_PORT
# SLURMD_PORT FIRST_JOB, then the NodeName/PartitionName lines. Everything lives under $1
# (state, per-node spool $1/spool/<node>, pid and log files); root runs the daemons; munge on
# $1/munge/munge.sock; no cgroups or accounting; a 1 s scheduler.
slurm_write_conf() {
  local d=$1 name=$2 ctld=$3 ctld_port=$4 slurmd_port=$5 first_job=$6
  shift 6
  {
    cat <<EOF
ClusterName=$name
SlurmctldHost=$ctld
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$d/munge/munge.sock,cred_expire=5
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool/%n
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd-%n.pid
SlurmctldLogFile=$d/slurmctld.log
SlurmdLogFile=$d/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,bf_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
ReturnToService=2
FirstJobId=$first_job
TmpFS=$d/tmp
JobRequeue=1
KillWait=5
MinJobAge=300
SlurmdTimeout=60
InactiveLimit=0
EOF
    printf '%s\n' "$@"
  } >"$d/slurm.conf"
}

slurm_cluster_start() {
  local tool
  [[ $(id -u) -eq 0 ]] || slurm_skip "the test cluster runs slurmd, which needs root"
  for tool in munged slurmctld slurmd sbatch srun sinfo scontrol scancel squeue; do
    command -v "$tool" >/dev/null ||
      slurm_skip "$tool not installed (scripts/install-deps.sh installs slurmctld slurmd" \
        "slurm-client munge)"
  done
  SLURM_TEST_DIR=$(mktemp -d /tmp/ds2-slurm.XXXXXX)
  SLURM_TEST_PIDS=""
  trap slurm_cluster_stop EXIT
  trap 'exit 143' TERM INT # so that the EXIT trap runs on ctest's timeout or ^C too
  local d=$SLURM_TEST_DIR
  chmod 700 "$d"
  mkdir -p "$d/state" "$d/spool/localhost" "$d/tmp"

  slurm_start_munge "$d" || {
    slurm_dump_logs
    cat "$d/munged.out"
    slurm_skip "munged did not start"
  }

  local ports cpus first_job
  read -ra ports <<<"$(slurm_free_ports 2)" || true
  ((${#ports[@]} == 2)) || slurm_skip "no free ports on 127.0.0.1"
  cpus=$(nproc)
  # Job ids of concurrent test clusters differ, as do the paths derived from them (PMIx's
  # per-step folders in /tmp would otherwise collide).
  first_job=$((1000 + (RANDOM * 32768 + RANDOM) % 60000000)) # below MaxJobId (67043328)
  ((cpus >= 2)) || cpus=2 # config_overrides: the tests run 2 tasks even on one core
  slurm_write_conf "$d" ds2test localhost "${ports[0]}" "${ports[1]}" "$first_job" \
    "NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=1000 State=UNKNOWN" \
    "PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP"
  export SLURM_CONF=$d/slurm.conf
  # Nothing from the caller's environment may point the commands at another cluster.
  unset SLURM_JOB_ID SLURM_JOBID SLURM_NODELIST SLURM_NTASKS SLURM_PARTITION SBATCH_PARTITION

  slurmctld -D -i -f "$SLURM_CONF" >"$d/slurmctld.out" 2>&1 &
  SLURM_TEST_PIDS+=" $!"
  slurmd -D -N localhost -f "$SLURM_CONF" >"$d/slurmd.out" 2>&1 &
  SLURM_TEST_PIDS+=" $!"

  local state="" t0=$SECONDS
  while ((SECONDS - t0 < 30)); do
    state=$(sinfo -h -n localhost -o %t 2>/dev/null || true)
    [[ $state == idle ]] && break
    sleep 0.3
  done
  if [[ $state != idle ]]; then
    slurm_dump_logs
    slurm_skip "the test Slurm cluster did not come up (node state '${state:-none}' after 30 s)"
  fi
  echo "slurm test cluster up in $((SECONDS - t0)) s: $SLURM_CONF"
}

# Waits (bounded by $2 seconds) until job $1 is in one of the states in $3 (e.g.
# "COMPLETED|FAILED"); prints the state. Returns 1 on timeout.
slurm_wait_state() {
  local job=$1 limit=$2 want=$3 st="" t0=$SECONDS
  while ((SECONDS - t0 < limit)); do
    st=$(scontrol show job "$job" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
    [[ $st =~ ^($want)$ ]] && { echo "$st"; return 0; }
    sleep 0.2
  done
  echo "${st:-unknown}"
  return 1
}

# sbatch ARGS... and wait (up to $SLURM_TEST_JOB_LIMIT s, default 120) for the job to end; prints
# the job id. Returns 0 when the job COMPLETED, 1 otherwise. (`sbatch --wait` polls with growing
# sleeps, up to 10 s between looks, which would dominate these short jobs.)
slurm_run_job() {
  local job
  job=$(sbatch --parsable "$@") || return 1
  echo "$job"
  local st
  st=$(slurm_wait_state "$job" "${SLURM_TEST_JOB_LIMIT:-120}" \
    "COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE|PREEMPTED")
  [[ $st == COMPLETED ]]
}

# Test scaffolding shared by the sbatch tests.
fail() { echo "FAIL: $*" >&2; exit 1; }

# Makes $SLURM_TEST_DIR/work (with logs/, which sbatch needs) and cd's into it.
slurm_test_workdir() {
  work=$SLURM_TEST_DIR/work
  mkdir -p "$work/logs"
  cd "$work"
}

# The demo_corpus fixture (tests/e2e_fixtures.py demo-corpus: 12 espeak-ng utterances in
# FIXTURE/corpus, prepared with np=2 and 2 shards into FIXTURE/data/{train,dev}) linked into the
# work folder as ./corpus and, with a second argument "data", as ./data. The tests only read
# them (their own files go next to the links, never into the fixture).
slurm_test_fixture() {
  local fixture=$1
  [[ -f $fixture/corpus/train.tsv && -f $fixture/data/dev/index.h5 ]] ||
    fail "no demo corpus fixture in $fixture (ctest sets it up: fixture_demo_corpus)"
  ln -s "$fixture/corpus" corpus
  [[ ${2:-} != data ]] || ln -s "$fixture/data" data
}
