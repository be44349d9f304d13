#!/usr/bin/env bash
# The nightly evaluation: `ds2 sweep` over checkpoints x alpha x beta x beam, appending every
# result to an SQLite history and rewriting its HTML report.
#   mkdir -p logs && sbatch slurm/eval_sweep.sh --models runs/small/ --data data/dev \
#       --grid alpha=0.5:2.0:4,beta=0:2:3,beam=64 --db history.sqlite --report report.html
# One MPI job over the whole grid by default (ds2 sweep spreads the decoding over the ranks and
# rank 0 is the only writer of the history). As a job array, task i evaluates the i-th run
# folder of DS2_MODELS (space-separated; the --models argument is then left out):
#   DS2_MODELS="runs/a/ runs/b/ runs/c/" sbatch --array=0-2 slurm/eval_sweep.sh --data ... --db ...
# The array's tasks append to one history, so it must sit on a file system with working POSIX
# locks (SQLite's requirement), not on one that ignores them. Nightly: see slurm/README.md.
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

if ! "$DS2_BIN" sweep --help >/dev/null 2>&1; then
  DS2_DIE_CODE=3 ds2_die "$DS2_BIN has no 'sweep' subcommand yet: this ds2 cannot run the" \
    "evaluation sweep (build a ds2 with eval/sweep, or set DS2_BIN)"
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
