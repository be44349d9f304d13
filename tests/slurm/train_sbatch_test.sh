#!/usr/bin/env bash
# `sbatch slurm/train.sh` on a throwaway single-node Slurm (tests/slurm/slurm_cluster.sh).
# Usage: train_sbatch_test.sh SOURCE_DIR DS2_BINARY FIXTURE
# On the 12-utterance demo corpus, prepared (the demo_corpus fixture), ds2-tiny, 2 tasks:
#  1. a 2-epoch job completes (exit 0, one MPI job of 2 ranks) and leaves RUN/ckpt-last.h5 at
#     the last step of metrics.csv, whose steps run 1..N;
#  2. the time-limit path: a longer job is sent USR1 as `--signal=B:USR1@120` would send it
#     (`scancel --batch --signal=USR1`: the batch shell only); the shell forwards it, ds2
#     checkpoints at step K and exits 0, the job requeues itself, restarts (Restarts=1), adds
#     --resume, resumes at step K and completes all epochs: metrics.csv steps 1..M without a
#     gap or repeat, M = epochs x the steps per epoch of job 1, ckpt-last.h5 at step M;
#  3. part 2 again with DS2_LAUNCHER=mpirun (Open MPI's mpirun inside the allocation).
# With DS2_SLURM_REAL_TIMELIMIT=1, part 2 also runs once more with Slurm's own timer
# (--time=1 --signal=B:USR1@50; the signal comes 10-40 s in): slow, so not by default.
# Exits 77 (skipped) when ds2 has no train command, Slurm, munge or espeak-ng are missing, or
# the cluster does not start.
set -euo pipefail
src=${1:?usage: train_sbatch_test.sh SOURCE_DIR DS2_BINARY}
ds2=${2:?usage: train_sbatch_test.sh SOURCE_DIR DS2_BINARY FIXTURE}
fixture=${3:?usage: train_sbatch_test.sh SOURCE_DIR DS2_BINARY FIXTURE}
"$ds2" train --help >/dev/null 2>&1 || { echo "SKIP: ds2 train not built yet"; exit 77; }
command -v espeak-ng >/dev/null || { echo "SKIP: espeak-ng not installed (demo corpus)"; exit 77; }
source "$src/tests/slurm/slurm_cluster.sh"
t0=$SECONDS
slurm_cluster_start

slurm_test_workdir
slurm_test_fixture "$fixture" data
export DS2_BIN=$ds2 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
train_args=(--data data/train --dev data/dev --config "$src/share/configs/ds2-tiny.ini"
  --batch-size 4 --model.num_threads 1)

# h5py: extra/step of a checkpoint.
ckpt_step() {
  /usr/bin/python3 -c 'import sys, h5py; print(int(h5py.File(sys.argv[1], "r")["extra/step"][0]))' \
    "$1"
}
# Checks that RUN/metrics.csv's steps are exactly 1..$2 and RUN/ckpt-last.h5 is at step $2.
check_run() {
  local run=$1 steps=$2
  [[ -f $run/ckpt-last.h5 ]] || fail "no $run/ckpt-last.h5"
  local got
  got=$(tail -n +2 "$run/metrics.csv" | cut -d, -f1 | tr '\n' ' ')
  [[ $got == "$(seq -s ' ' "$steps") " ]] || fail "$run/metrics.csv steps are not 1..$steps: $got"
  [[ $(ckpt_step "$run/ckpt-last.h5") == "$steps" ]] ||
    fail "$run/ckpt-last.h5 is at step $(ckpt_step "$run/ckpt-last.h5"), not $steps"
}

# --- 1. a short job completes -------------------------------------------------------------
t1=$SECONDS
job=$(slurm_run_job --ntasks-per-node=2 "$src/slurm/train.sh" "${train_args[@]}" --out run1 \
  --epochs 2) || { cat logs/*; fail "train.sh job did not complete"; }
log=logs/ds2-train-$job.log
[[ -f $log ]] || { ls logs; fail "no log $log"; }
grep -q "job $job (restart 0) on localhost, 2 tasks" "$log" || { cat "$log"; fail "log header"; }
grep -q "\[r0/2\]" "$log" || { cat "$log"; fail "ds2 did not run as one job of 2 ranks"; }
grep -q "done: .* steps, 2 epochs complete" "$log" || { cat "$log"; fail "no 'done' line"; }
grep -q "resum" "$log" && { cat "$log"; fail "a fresh run resumed"; }
per_epoch=$(awk -F, 'NR > 1 && $2 == 1' run1/metrics.csv | wc -l)
((per_epoch >= 1)) || fail "no steps in epoch 1"
check_run run1 $((2 * per_epoch))
echo "1. 2 epochs x $per_epoch steps completed in $((SECONDS - t1)) s"

# --- 2. the time-limit signal: checkpoint, requeue, resume ----------------------------------
# Sends USR1 to the batch shell of job $1 once RUN $2 has $3 metrics rows (or, with $4 = wait,
# leaves it to Slurm's timer); waits for the job to complete after its restart. $5: launcher.
timelimit_case() {
  local job=$1 run=$2 rows=$3 how=$4 launcher=$5 t=$SECONDS
  until [[ -f $run/metrics.csv && $(($(wc -l <"$run/metrics.csv") - 1)) -ge $rows ]]; do
    ((SECONDS - t < 60)) || { cat logs/*; fail "job $job: no $rows metrics rows in 60 s"; }
    sleep 0.1
  done
  [[ $how == send ]] && scancel --batch --signal=USR1 "$job"
  local st
  st=$(SLURM_TEST_JOB_LIMIT=150 slurm_wait_state "$job" 150 "COMPLETED|FAILED|CANCELLED|TIMEOUT") ||
    true
  local log=logs/ds2-train-$job.log
  cat "$log"
  [[ $st == COMPLETED ]] || fail "job $job ended $st"
  local restarts
  restarts=$(scontrol show job "$job" | sed -n 's/.*Restarts=\([0-9]*\).*/\1/p')
  ((restarts >= 1)) || fail "job $job was not requeued (Restarts=$restarts)"
  grep -q "got SIGUSR1" "$log" || fail "the batch shell did not take USR1"
  local k
  k=$(sed -n 's/.*stopped after step \([0-9]*\) on request.*/\1/p' "$log" | head -1)
  [[ -n $k ]] || fail "ds2 did not stop on request"
  grep -q "checkpointed before the time limit; requeueing job $job" "$log" || fail "no requeue"
  grep -q "job $job (restart 1) on localhost" "$log" || fail "no restart 1 in the log"
  grep -q "resuming from $run/ckpt-last.h5" "$log" || fail "train.sh did not add --resume"
  grep -q "resuming $run/ckpt-last.h5 at .* (after step $k)" "$log" || fail "ds2 did not resume after step $k"
  grep -q "done: .* steps, $epochs epochs complete" "$log" || fail "the resumed run did not finish"
  local total=$((epochs * per_epoch))
  ((k < total)) || fail "stopped at step $k of $total: the signal came too late to test resume"
  check_run "$run" "$total"
  grep -q "launcher $launcher" "$log" || fail "job $job did not use $launcher"
  echo "time limit ($how, $launcher): stopped at step $k, requeued $restarts time(s)," \
    "resumed to step $total in $((SECONDS - t)) s"
}
epochs=12
job=$(sbatch --parsable --ntasks-per-node=2 "$src/slurm/train.sh" "${train_args[@]}" \
  --out run2 --epochs $epochs)
timelimit_case "$job" run2 2 send srun

# --- 3. the same with Open MPI's mpirun as the launcher inside the allocation ---------------
epochs=6
job=$(DS2_LAUNCHER=mpirun sbatch --parsable --ntasks-per-node=2 "$src/slurm/train.sh" \
  "${train_args[@]}" --out run4 --epochs $epochs)
timelimit_case "$job" run4 2 send mpirun
grep -q "\[r0/2\]" "logs/ds2-train-$job.log" || fail "mpirun: ds2 did not run as one job of 2 ranks"

if [[ ${DS2_SLURM_REAL_TIMELIMIT:-0} == 1 ]]; then
  epochs=60
  job=$(sbatch --parsable --ntasks-per-node=2 --time=1 --signal=B:USR1@50 "$src/slurm/train.sh" \
    "${train_args[@]}" --out run3 --epochs $epochs)
  timelimit_case "$job" run3 1 wait srun
fi
echo "train sbatch test passed in $((SECONDS - t0)) s"
