#!/usr/bin/env bash
# ds2 prep as a Slurm batch job: one rank per task, each writing its share of the shards.
#   mkdir -p logs && sbatch slurm/prep.sh --manifest corpus/train.tsv --out data/train \
#       --shards 64 [more ds2 prep options]
# The arguments go to `ds2 prep` (env DS2_PREP_ARGS is put in front of them). Finished shards
# are reused, so a requeued or resubmitted job only redoes the shards that were not complete.
# Site settings (partition, account, launcher, modules): slurm/README.md.
#SBATCH --job-name=ds2-prep
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=8
#SBATCH --cpus-per-task=1
#SBATCH --time=04:00:00
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=logs/%x-%j.log
set -uo pipefail
DS2_SCRIPT=prep.sh
src=$0 # sbatch runs a spooled copy; the job's Command is the submitted script (no spaces)
if [[ -n ${SLURM_JOB_ID:-} && ! -f $(dirname "$src")/lib.sh ]]; then
  src=$(scontrol show job "$SLURM_JOB_ID" | sed -n 's/^ *Command=\([^ ]*\).*/\1/p' | head -1)
  [[ $src == /* ]] || src=$SLURM_SUBMIT_DIR/$src
fi
# shellcheck source=slurm/lib.sh
source "$(dirname "$src")/lib.sh" && ds2_setup "$src" || exit 2

# shellcheck disable=SC2086 # DS2_PREP_ARGS is split into words on purpose
ds2_launch prep ${DS2_PREP_ARGS:-} "$@"
