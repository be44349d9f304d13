# shellcheck shell=bash
# Shared by slurm/{prep,train,eval_sweep}.sh (sourced): site settings, the MPI launcher, and
# signal forwarding. Not a job script itself.
#
# Settings, each an environment variable that slurm/site.conf (or $DS2_SITE_CONF) may set;
# the environment at `sbatch` time wins over the file (sbatch exports it to the job):
#   DS2_ROOT       the ds2 checkout (default: the folder above the submitted script)
#   DS2_BIN        the ds2 binary (default: $DS2_ROOT/build/ds2)
#   DS2_LAUNCHER   srun (default) or mpirun: how the ranks start inside the allocation
#   DS2_SRUN_FLAGS flags for srun (default: --mpi=pmix; Debian's Open MPI needs PMIx under srun)
#   DS2_MPIRUN_FLAGS flags for mpirun (default: none; it reads the allocation from Slurm)
#   DS2_MODULES    environment modules to load first (`module load $DS2_MODULES`)
#   DS2_THREADS    OMP/OpenBLAS threads per rank (default: $SLURM_CPUS_PER_TASK, else 1)

ds2_log() { echo "[$(date +%H:%M:%S)] ${DS2_SCRIPT:-ds2}: $*"; }
ds2_die() {
  echo "${DS2_SCRIPT:-ds2}: error: $*" >&2
  exit "${DS2_DIE_CODE:-2}"
}

# Loads site.conf and the defaults above. $1: the job script's path as submitted (not the
# copy in slurmd's spool that sbatch runs).
ds2_setup() {
  DS2_ROOT=${DS2_ROOT:-$(cd "$(dirname "$1")/.." && pwd)}
  local conf=${DS2_SITE_CONF:-$DS2_ROOT/slurm/site.conf}
  if [[ -f $conf ]]; then
    # The environment wins: remember what is set, source, restore.
    local names saved=""
    names=$(compgen -v DS2_ || true)
    # shellcheck disable=SC2086 # one word per variable name
    [[ -z $names ]] || saved=$(declare -p $names |
      sed -E 's/^declare -- /declare -g /; s/^declare -([a-zA-Z]+) /declare -g\1 /')
    # shellcheck disable=SC1090
    source "$conf"
    eval "$saved"
  fi
  DS2_BIN=${DS2_BIN:-$DS2_ROOT/build/ds2}
  DS2_LAUNCHER=${DS2_LAUNCHER:-srun}
  DS2_SRUN_FLAGS=${DS2_SRUN_FLAGS---mpi=pmix}
  DS2_MPIRUN_FLAGS=${DS2_MPIRUN_FLAGS:-}
  if [[ -n ${DS2_MODULES:-} ]]; then
    # shellcheck disable=SC2086
    module load $DS2_MODULES || ds2_die "module load $DS2_MODULES failed"
  fi
  local threads=${DS2_THREADS:-${SLURM_CPUS_PER_TASK:-1}}
  export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads
  if [[ $DS2_LAUNCHER == mpirun && $(id -u) -eq 0 ]]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi
  [[ -x $DS2_BIN ]] || ds2_die "DS2_BIN=$DS2_BIN is not an executable (build ds2 or set DS2_BIN)"
  local array=""
  [[ -z ${SLURM_ARRAY_JOB_ID:-} ]] ||
    array=", array task ${SLURM_ARRAY_JOB_ID}_$SLURM_ARRAY_TASK_ID"
  ds2_log "job ${SLURM_JOB_ID:-none} (restart ${SLURM_RESTART_COUNT:-0}$array) on" \
    "${SLURM_JOB_NODELIST:-$(hostname)}, ${SLURM_NTASKS:-?} tasks, launcher $DS2_LAUNCHER," \
    "ds2 $DS2_BIN"
}

# Runs `ds2 ARGS...` on every task of the allocation and returns its exit status.
# The launcher runs in the background so that this shell can take signals while it waits:
# USR1 (what `#SBATCH --signal=B:USR1@120` sends the batch shell before the time limit) and
# TERM (scancel, preemption) set DS2_STOPPED=USR1/TERM and are passed on to the launcher as
# USR1; srun and Open MPI's mpirun both forward USR1 to every rank, where `ds2 train` takes it
# as "checkpoint and exit 0".
DS2_STOPPED=""
ds2_launch() {
  local cmd
  # shellcheck disable=SC2206 # the flags are split into words on purpose
  case $DS2_LAUNCHER in
    srun) cmd=(srun $DS2_SRUN_FLAGS "$DS2_BIN" "$@") ;;
    mpirun) cmd=(mpirun $DS2_MPIRUN_FLAGS "$DS2_BIN" "$@") ;;
    *) ds2_die "DS2_LAUNCHER=$DS2_LAUNCHER: expected srun or mpirun" ;;
  esac
  ds2_log "${cmd[*]}"
  "${cmd[@]}" &
  DS2_LAUNCH_PID=$!
  trap 'ds2_forward USR1' USR1
  trap 'ds2_forward TERM' TERM
  local rc
  while :; do
    wait "$DS2_LAUNCH_PID"
    rc=$?
    # wait returns > 128 when a trapped signal interrupts it; the launcher is still running.
    ((rc > 128)) && kill -0 "$DS2_LAUNCH_PID" 2>/dev/null && continue
    break
  done
  trap - USR1 TERM
  ds2_log "ds2 ${1:-} exited with status $rc${DS2_STOPPED:+ after SIG$DS2_STOPPED}"
  return "$rc"
}

ds2_forward() {
  DS2_STOPPED=$1
  ds2_log "got SIG$1: asking the ranks to checkpoint and stop (USR1 to the launcher)"
  kill -USR1 "$DS2_LAUNCH_PID" 2>/dev/null || true
}
