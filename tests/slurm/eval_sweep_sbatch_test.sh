#!/usr/bin/env bash
# `sbatch slurm/eval_sweep.sh` on a throwaway single-node Slurm (tests/slurm/slurm_cluster.sh).
# Usage: eval_sweep_sbatch_test.sh SOURCE_DIR DS2_BINARY
# Were ds2 built without a sweep command: checks that the job refuses with exit 3 and says why in
# its log (logs/ds2-sweep-<jobid>_4294967294.log: %a of a job that is not an array), then exits 77
# (skipped) saying so. With `ds2 sweep` (today): trains ds2-tiny for 2 epochs on a 12-utterance demo
# corpus, runs the sweep as a 2-task job, then again as a 2-task job array over two run folders
# (DS2_MODELS) whose tasks append to the same history, and checks that each job appended rows
# to the SQLite history (counted with the sqlite3 shell): as many as the result lines ("WER ...")
# its logs show, and that the report exists with its charts.
# Grid: $DS2_SWEEP_TEST_GRID (default alpha=0:1:2,beta=0,beam=4, DESIGN.md's `--grid …`).
# Exits 77 (skipped) when Slurm, munge or espeak-ng are missing or the cluster does not start.
set -euo pipefail
src=${1:?usage: eval_sweep_sbatch_test.sh SOURCE_DIR DS2_BINARY}
ds2=${2:?usage: eval_sweep_sbatch_test.sh SOURCE_DIR DS2_BINARY}
source "$src/tests/slurm/slurm_cluster.sh"
t0=$SECONDS
slurm_cluster_start
slurm_test_workdir
export DS2_BIN=$ds2 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

if ! "$ds2" sweep --help >/dev/null 2>&1; then
  if job=$(slurm_run_job --ntasks-per-node=2 "$src/slurm/eval_sweep.sh" --models run/ \
    --data data --db history.sqlite --report report.html); then
    fail "eval_sweep.sh ran without ds2 sweep"
  fi
  log=logs/ds2-sweep-${job}_4294967294.log
  cat "$log" || fail "no log $log"
  grep -q "has no 'sweep' subcommand yet" "$log" || fail "the refusal does not say why"
  scontrol show job "$job" | grep -q "ExitCode=3:0" || fail "job $job did not exit 3"
  echo "SKIP: ds2 sweep not built yet (checked: eval_sweep.sh refuses with exit 3 and says why)"
  exit 77
fi
# (The help text in a variable: `ds2 ... | grep -q` under pipefail fails when grep stops reading
# early and ds2 gets SIGPIPE, which skipped this test although ds2 sweep has both options.)
help=$("$ds2" sweep --help)
if [[ $help != *--grid* || $help != *--db* ]]; then
  echo "SKIP: ds2 sweep has no --grid/--db (DESIGN.md's CLI); update this test"
  exit 77
fi
command -v espeak-ng >/dev/null || { echo "SKIP: espeak-ng not installed (demo corpus)"; exit 77; }
command -v sqlite3 >/dev/null || { echo "SKIP: sqlite3 not installed"; exit 77; }

/usr/bin/python3 "$src/share/demo/make_corpus.py" --out corpus --max-utts 12 --jobs 2 --seed 5 \
  2>corpus.log || { cat corpus.log; fail "demo corpus"; }
for split in train dev; do
  srun --mpi=pmix -n 2 "$ds2" prep --manifest "corpus/$split.tsv" --out "data/$split" \
    --shards 2 --threads 1 >"prep-$split.log" 2>&1 || { cat "prep-$split.log"; fail "prep"; }
done
for run in runA runB; do
  srun --mpi=pmix -n 2 "$ds2" train --data data/train --config "$src/share/configs/ds2-tiny.ini" \
    --out "$run" --epochs 2 --batch-size 4 --model.num_threads 1 >"$run.log" 2>&1 ||
    { cat "$run.log"; fail "train $run"; }
done
rows() { # rows in all tables of the history
  [[ -f history.sqlite ]] || { echo 0; return; }
  local total=0 t
  for t in $(sqlite3 history.sqlite "SELECT name FROM sqlite_master WHERE type = 'table'"); do
    total=$((total + $(sqlite3 history.sqlite "SELECT COUNT(*) FROM \"$t\"")))
  done
  echo "$total"
}
grid=${DS2_SWEEP_TEST_GRID:-alpha=0:1:2,beta=0,beam=4}
sweep_args=(--data data/dev --grid "$grid" --db "$work/history.sqlite" --report "$work/report.html")

before=$(rows)
job=$(slurm_run_job --ntasks-per-node=2 "$src/slurm/eval_sweep.sh" --models runA/ \
  "${sweep_args[@]}") || { cat logs/*; fail "sweep job failed"; }
cat "logs/ds2-sweep-${job}_4294967294.log"
after=$(rows)
((after > before)) || fail "the sweep appended no rows ($before -> $after)"
# One row per result line the job printed ("WER ..." on rank 0's stdout).
printed=$(grep -c '^WER ' "logs/ds2-sweep-${job}_4294967294.log" || true)
((after - before == printed)) || fail "the sweep printed $printed results but appended $((after - before)) rows"
[[ -s report.html ]] || fail "no report.html"
grep -q '<svg' report.html || fail "report.html has no charts"

before=$after
job=$(DS2_MODELS="runA/ runB/" sbatch --parsable --ntasks-per-node=2 --array=0-1 \
  "$src/slurm/eval_sweep.sh" "${sweep_args[@]}")
for i in 0 1; do
  st=$(slurm_wait_state "${job}_$i" 120 "COMPLETED|FAILED|CANCELLED|TIMEOUT") || true
  cat "logs/ds2-sweep-${job}_$i.log"
  [[ $st == COMPLETED ]] || fail "array task $i ended $st"
  grep -q -- "--models run$([[ $i == 0 ]] && echo A || echo B)/" "logs/ds2-sweep-${job}_$i.log" ||
    fail "array task $i did not take run folder $i"
done
after=$(rows)
((after > before)) || fail "the array appended no rows ($before -> $after)"
# Both tasks appended to the one history (SQLite's lock + busy timeout, not lost updates).
printed=$(cat "logs/ds2-sweep-${job}_0.log" "logs/ds2-sweep-${job}_1.log" | grep -c '^WER ' || true)
((after - before == printed)) || fail "the array printed $printed results but appended $((after - before)) rows"
echo "eval sweep sbatch test passed in $((SECONDS - t0)) s"
