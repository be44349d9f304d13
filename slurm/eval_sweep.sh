#!/usr/bin/env bash
# The nightly evaluation: `ds2 sweep` over checkpoints x datasets x alpha x beta x beam,
# appending every NEW result to an SQLite history and rewriting its HTML report. A point the
# history already holds (same checkpoint, dataset and LM contents, same settings) is skipped, so
# a nightly `--checkpoints all` decodes only the checkpoints that appeared since the last night.
#   mkdir -p logs && sbatch slurm/eval_sweep.sh --models runs/small/ --checkpoints all \
#       --data data/dev-clean --data data/dev-other \
#       --grid alpha=0.5:2.0:4,beta=0:2:3,beam=64 --db history.sqlite --report report.html
# One MPI job over the whole grid by default (ds2 sweep spreads the decoding over the ranks and
# rank 0 is the only writer of the history). As a job array, task i evaluates the i-th run
# folder of DS2_MODELS (space-separated; the --models argument is then left out):
#   DS2_MODELS="runs/a/ runs/b/ runs/c/" sbatch --array=0-2 slurm/eval_sweep.sh --data ... --db ...
# The array's tasks append to one history, so it must sit on a file system with working POSIX
# locks (SQLite's requirement), not on one that ignores them.
# Nightly: a `scrontab` line where the site has scrontab (slurm/README.md), or, without it,
# DS2_SWEEP_RESUBMIT=WHEN: the job first submits its own next run with `sbatch --begin=WHEN`
# (e.g. "02:00": the next 02:00; "now+1day"), same arguments, node and task counts, then sweeps;
# so the chain continues even when one night's sweep fails. `scancel` the pending job to stop.
# With --fail-on-regression the job exits 4 when a row of this night is a regression.
# The arguments go to `ds2 sweep` (env DS2_SWEEP_ARGS is put in front of them).
#SBATCH --job-name=ds2-sweep
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=4
#SBATCH --cpus-per-task=1
#SBATCH --time=02:00:00
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=logs/%x-%A_%a.log
set -uo pipefail
DS2_SCRIPT=eval_sweep.sh
src=$0 # sbatch runs a spooled copy; the job's Command is the submitted script (no spaces)
if [[ -n ${SLURM_JOB_ID:-} && ! -f $(dirname "$src")/lib.sh ]]; then
  src=$(scontrol show job "$SLURM_JOB_ID" | sed -n 's/^ *Command=\([^ ]*\).*/\1/p' | head -1)
  [[ $src == /* ]] || src=$SLURM_SUBMIT_DIR/$src
fi
# shellcheck source=slurm/lib.sh
source "$(dirname "$src")/lib.sh" && ds2_setup "$src" || exit 2

help=$("$DS2_BIN" sweep --help 2>&1) || help=""
if [[ $help != *--rescore* ]]; then
  DS2_DIE_CODE=3 ds2_die "$DS2_BIN is older than this script (its 'sweep' lacks --rescore, the" \
    "history schema 2 that skips scored points): rebuild ds2 or set DS2_BIN"
fi
if [[ -n ${DS2_SWEEP_RESUBMIT:-} && -n ${SLURM_JOB_ID:-} &&
  ${SLURM_ARRAY_TASK_ID:-0} == "${SLURM_ARRAY_TASK_MIN:-0}" ]]; then
  next=(--begin="$DS2_SWEEP_RESUBMIT" --nodes="${SLURM_JOB_NUM_NODES:-1}")
  [[ -z ${SLURM_NTASKS_PER_NODE:-} ]] || next+=(--ntasks-per-node="${SLURM_NTASKS_PER_NODE%%(*}")
  [[ -z ${SLURM_ARRAY_JOB_ID:-} ]] ||
    next+=(--array="$SLURM_ARRAY_TASK_MIN-$SLURM_ARRAY_TASK_MAX")
  if id=$(sbatch --parsable "${next[@]}" "$src" "$@"); then
    ds2_log "next night: job $id, begins $DS2_SWEEP_RESUBMIT (DS2_SWEEP_RESUBMIT)"
  else
    ds2_log "warning: could not submit the next night (sbatch ${next[*]} $src): the chain stops"
  fi
fi
# shellcheck disable=SC2206
args=(${DS2_SWEEP_ARGS:-} "$@")
if [[ -n ${DS2_MODELS:-} ]]; then
  # shellcheck disable=SC2206
  models=($DS2_MODELS)
  if [[ -n ${SLURM_ARRAY_TASK_ID:-} ]]; then
    ((SLURM_ARRAY_TASK_ID < ${#models[@]})) ||
      ds2_die "array task $SLURM_ARRAY_TASK_ID, but DS2_MODELS has ${#models[@]} run folders"
    models=("${models[SLURM_ARRAY_TASK_ID]}")
  fi
  for m in "${models[@]}"; do
    ds2_launch sweep --models "$m" "${args[@]}" || exit
  done
else
  ds2_launch sweep "${args[@]}"
fi
