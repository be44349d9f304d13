#!/usr/bin/env bash
# `sbatch slurm/eval_sweep.sh` on a throwaway single-node Slurm (tests/slurm/slurm_cluster.sh):
# two nights of the nightly sweep, then a job array.
# Usage: eval_sweep_sbatch_test.sh SOURCE_DIR DS2_BINARY FIXTURE (the demo_corpus fixture)
# Debian's Slurm has no scrontab, so the nightly schedule is its equivalent, the job that
# resubmits itself (DS2_SWEEP_RESUBMIT, sbatch --begin); "the next night" comes when the test
# moves the pending job's start time to now (scontrol update StartTime=now).
#   night 1: trains ds2-tiny for 2 epochs on the 12-utterance demo corpus (the fixture's
#            data); the sweep (2 tasks, --checkpoints all) scores every checkpoint of runA and
#            submits night 2, which waits for its begin time (checked: PENDING, reason
#            BeginTime);
#   then:    `ds2 train --resume --epochs 3` adds a checkpoint (and rewrites ckpt-last.h5 in
#            place: a new content digest under the same name);
#   night 2: decodes only the checkpoint contents the history does not hold. Checked row by row
#            against the sqlite3 shell and h5dump: night 1's rows are unchanged; night 2's
#            rows are exactly (new checkpoint contents) x (grid points), each with its file's
#            step, and no row of night 2 is of a checkpoint file that night 1 scored unchanged;
#            its log says how many points it skipped; the report shows one trend panel with as
#            many checkpoints as the history has digests and the best WER of each; a night 3
#            is pending (the chain goes on) and is cancelled.
#   array:   DS2_MODELS="runA/ runB/" as a 2-task array appending to the same history: runA's
#            task has nothing new (0 rows), runB's appends its rows; rows appended == result
#            lines printed ("WER ..."), so no update is lost between the two writers.
# Grid: beam=1,beam=4 (greedy and a beam of 4 without an LM: two points).
# Exits 77 (skipped) when Slurm, munge, espeak-ng, sqlite3 or h5dump are missing or the cluster
# does not start.
set -euo pipefail
src=${1:?usage: eval_sweep_sbatch_test.sh SOURCE_DIR DS2_BINARY}
ds2=${2:?usage: eval_sweep_sbatch_test.sh SOURCE_DIR DS2_BINARY FIXTURE}
fixture=${3:?usage: eval_sweep_sbatch_test.sh SOURCE_DIR DS2_BINARY FIXTURE}
source "$src/tests/slurm/slurm_cluster.sh"
t0=$SECONDS
for tool in espeak-ng sqlite3 h5dump; do
  command -v $tool >/dev/null || slurm_skip "$tool not installed (scripts/install-deps.sh)"
done
slurm_cluster_start
slurm_test_workdir
export DS2_BIN=$ds2 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

slurm_test_fixture "$fixture" data
train() { # RUN EPOCHS [--resume]
  srun --mpi=pmix -n 2 "$ds2" train --data data/train --config "$src/share/configs/ds2-tiny.ini" \
    --out "$1" --epochs "$2" --batch-size 4 --model.num_threads 1 "${@:3}" >>"$1.log" 2>&1 ||
    { cat "$1.log"; fail "train $1"; }
}
train runA 2
q() { sqlite3 -separator ' ' history.sqlite "$@"; }
step_of() { h5dump -d /extra/step "$1" | sed -n 's/^ *(0): \([0-9]*\).*/\1/p'; }
grid=beam=1,beam=4 # greedy and beam 4, no LM: 2 points per checkpoint and dataset
npoints=2
sweep_args=(--models runA/ --checkpoints all --data data/dev --grid "$grid"
  --db "$work/history.sqlite" --report "$work/report.html")

# ---- night 1 ----
night1=$(DS2_SWEEP_RESUBMIT=now+1hour slurm_run_job --ntasks-per-node=2 \
  "$src/slurm/eval_sweep.sh" "${sweep_args[@]}") || { cat logs/*; fail "night 1 failed"; }
log1=logs/ds2-sweep-${night1}_4294967294.log
cat "$log1"
night2=$(sed -n 's/.*next night: job \([0-9]*\),.*/\1/p' "$log1")
[[ -n $night2 ]] || fail "night 1 did not submit night 2"
# (scontrol's text in a variable: `scontrol | grep -q` under pipefail fails when grep stops
# reading early and scontrol gets SIGPIPE.)
info=$(scontrol show job "$night2")
[[ $info == *"JobState=PENDING Reason=BeginTime"* ]] ||
  fail "night 2 ($night2) is not waiting for its begin time: $info"
n1=$(q "SELECT COUNT(*) FROM results")
ckpts1=$(q "SELECT COUNT(DISTINCT ckpt_digest) FROM results")
((n1 == ckpts1 * npoints && n1 > 0)) ||
  fail "night 1: $n1 rows for $ckpts1 checkpoint digests x $npoints points"
((n1 == $(grep -c '^WER ' "$log1"))) || fail "night 1: rows != printed results"
q "SELECT id, checkpoint, step, ckpt_digest, settings, wer, sub, del, ins FROM results ORDER BY id" \
  >night1.rows
# What night 1 scored, by file: name and digest (the digests in the history are ds2's own; the
# test compares files by bytes with cmp, not by digest).
mkdir -p seen
for f in runA/ckpt-*.h5; do cp "$f" "seen/$(basename "$f")"; done

# ---- a new checkpoint appears ----
train runA 3 --resume
new=()
for f in runA/ckpt-*.h5; do
  b=$(basename "$f")
  if [[ ! -f seen/$b ]] || ! cmp -s "$f" "seen/$b"; then new+=("$f"); fi
done
((${#new[@]} > 0)) || fail "training on did not change any checkpoint file"
echo "new or rewritten checkpoint files: ${new[*]}"

# ---- night 2 ----
scontrol update JobId="$night2" StartTime=now
st=$(slurm_wait_state "$night2" 120 "COMPLETED|FAILED|CANCELLED|TIMEOUT") || true
log2=logs/ds2-sweep-${night2}_4294967294.log
cat "$log2"
[[ $st == COMPLETED ]] || fail "night 2 ended $st"
q "SELECT id, checkpoint, step, ckpt_digest, settings, wer, sub, del, ins FROM results WHERE id <= $n1 ORDER BY id" \
  >night1.after
cmp -s night1.rows night1.after || { diff night1.rows night1.after; fail "night 1's rows changed"; }
# Night 2's rows, row by row: a new content (not one night 1 scored), its file's step, and every
# grid point once per new content.
digests2=$(q "SELECT COUNT(DISTINCT ckpt_digest) FROM results WHERE id > $n1")
old_digests=$(q "SELECT COUNT(*) FROM (SELECT DISTINCT ckpt_digest FROM results WHERE id > $n1 INTERSECT SELECT DISTINCT ckpt_digest FROM results WHERE id <= $n1)")
((old_digests == 0)) || fail "night 2 scored $old_digests checkpoint content(s) night 1 had scored"
n2=$(q "SELECT COUNT(*) FROM results WHERE id > $n1")
((n2 == digests2 * npoints && n2 > 0)) ||
  fail "night 2: $n2 rows for $digests2 new checkpoint digests x $npoints points"
((n2 == $(grep -c '^WER ' "$log2"))) || fail "night 2: rows != printed results"
while read -r id ck step; do
  found=0
  for f in "${new[@]}"; do [[ $(readlink -f "$f") == "$ck" ]] && found=1; done
  ((found)) || fail "night 2 row $id is of $ck, which did not change since night 1"
  [[ $(step_of "$ck") == "$step" ]] || fail "row $id: step $step, but $ck holds $(step_of "$ck")"
done < <(q "SELECT id, checkpoint, step FROM results WHERE id > $n1")
# The same contents under one name per grid point: settings x digest pairs are unique.
((n2 == $(q "SELECT COUNT(*) FROM (SELECT DISTINCT ckpt_digest, settings FROM results WHERE id > $n1)"))) ||
  fail "night 2 scored a point twice"
grep -q "already in the history" "$log2" || fail "night 2 does not say what it skipped"
# The report after night 2: one panel (runA on dev) over every checkpoint content, the best WER
# of each in the best-results table.
grep -q "<h3>runA on dev</h3>" report.html || fail "no trend panel for runA on dev"
total=$(q "SELECT COUNT(DISTINCT ckpt_digest) FROM results")
grep -q "$total checkpoint(s)" report.html || fail "the panel does not count $total checkpoints"
while read -r wer; do
  grep -q "<tr><td>$wer%</td>" report.html || fail "best WER $wer% not in the report"
done < <(q "SELECT printf('%.2f', 100 * MIN(wer)) FROM results GROUP BY checkpoint")
night3=$(sed -n 's/.*next night: job \([0-9]*\),.*/\1/p' "$log2")
[[ -n $night3 ]] || fail "night 2 did not submit night 3"
info=$(scontrol show job "$night3")
[[ $info == *JobState=PENDING* ]] || fail "night 3 ($night3) is not pending: $info"
scancel "$night3"

# ---- job array over two run folders, one history ----
train runB 2
before=$(q "SELECT COUNT(*) FROM results")
job=$(DS2_MODELS="runA/ runB/" sbatch --parsable --ntasks-per-node=2 --array=0-1 \
  "$src/slurm/eval_sweep.sh" --data data/dev --grid "$grid" --db "$work/history.sqlite" \
  --report "$work/report.html")
for i in 0 1; do
  st=$(slurm_wait_state "${job}_$i" 120 "COMPLETED|FAILED|CANCELLED|TIMEOUT") || true
  cat "logs/ds2-sweep-${job}_$i.log"
  [[ $st == COMPLETED ]] || fail "array task $i ended $st"
  grep -q -- "--models run$([[ $i == 0 ]] && echo A || echo B)/" "logs/ds2-sweep-${job}_$i.log" ||
    fail "array task $i did not take run folder $i"
done
((0 == $(grep -c '^WER ' "logs/ds2-sweep-${job}_0.log"))) ||
  fail "array task 0 re-scored runA's best checkpoint"
after=$(q "SELECT COUNT(*) FROM results")
((after > before)) || fail "the array appended no rows ($before -> $after)"
printed=$(cat "logs/ds2-sweep-${job}_0.log" "logs/ds2-sweep-${job}_1.log" | grep -c '^WER ' || true)
((after - before == printed)) || fail "the array printed $printed results but appended $((after - before)) rows"
echo "eval sweep sbatch test passed in $((SECONDS - t0)) s (night 1: $n1 rows, night 2: $n2)"
