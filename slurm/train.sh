#!/usr/bin/env bash
# ds2 train as a Slurm batch job that checkpoints before its time limit and requeues itself.
#   mkdir -p logs && sbatch slurm/train.sh --data data/train --dev data/dev \
#       --config share/configs/ds2-small.ini --out runs/small [more ds2 train options]
# The arguments go to `ds2 train` (env DS2_TRAIN_ARGS is put in front of them). When
# RUN/ckpt-last.h5 exists, --resume is added, so a requeued (or resubmitted) job continues.
# Before the time limit Slurm sends this shell USR1 (--signal=B:USR1@120); it is forwarded to
# the ranks, which checkpoint and exit 0, and the job requeues itself (at most DS2_MAX_REQUEUES
# times, default 50). scancel's TERM also checkpoints, but does not requeue.
# Site settings (partition, account, GPUs, launcher, modules): slurm/README.md.
#SBATCH --job-name=ds2-train
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=4
#SBATCH --cpus-per-task=1
#SBATCH --time=24:00:00
#SBATCH --signal=B:USR1@120
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=logs/%x-%j.log
set -uo pipefail
DS2_SCRIPT=train.sh
src=$0 # sbatch runs a spooled copy; the job's Command is the submitted script (no spaces)
if [[ -n ${SLURM_JOB_ID:-} && ! -f $(dirname "$src")/lib.sh ]]; then
  src=$(scontrol show job "$SLURM_JOB_ID" | sed -n 's/^ *Command=\([^ ]*\).*/\1/p' | head -1)
  [[ $src == /* ]] || src=$SLURM_SUBMIT_DIR/$src
fi
# shellcheck source=slurm/lib.sh
source "$(dirname "$src")/lib.sh" && ds2_setup "$src" || exit 2

# shellcheck disable=SC2206
args=(${DS2_TRAIN_ARGS:-} "$@")
run="" resume=0
for ((i = 0; i < ${#args[@]}; i++)); do
  case ${args[i]} in
    --out) run=${args[i + 1]:-} ;;
    --out=*) run=${args[i]#--out=} ;;
    --resume) resume=1 ;;
  esac
done
[[ -n $run ]] || ds2_die "no --out RUN among the arguments (usage: see the top of slurm/train.sh)"
if [[ $resume == 0 && -f $run/ckpt-last.h5 ]]; then
  ds2_log "resuming from $run/ckpt-last.h5"
  args+=(--resume)
fi

ds2_launch train "${args[@]}"
rc=$?
if [[ $rc == 0 && $DS2_STOPPED == USR1 ]]; then
  if ((${SLURM_RESTART_COUNT:-0} >= ${DS2_MAX_REQUEUES:-50})); then
    ds2_die "stopped at the time limit, but already requeued $SLURM_RESTART_COUNT times"
  fi
  ds2_log "checkpointed before the time limit; requeueing job $SLURM_JOB_ID"
  scontrol requeue "$SLURM_JOB_ID" || ds2_die "scontrol requeue $SLURM_JOB_ID failed"
  sleep 60 # Slurm ends this shell as part of the requeue
fi
exit "$rc"
