#!/usr/bin/env bash
# `sbatch slurm/prep.sh` on a throwaway single-node Slurm (tests/slurm/slurm_cluster.sh).
# Usage: prep_sbatch_test.sh SOURCE_DIR DS2_BINARY FIXTURE (the demo_corpus fixture; its corpus)
# Checks, against expectations computed here: the job completes with exit 0 on 2 tasks; its log
# is logs/ds2-prep-<jobid>.log and shows one MPI job of size 2 (not two singletons); index.h5
# lists exactly the manifest's utterances; a resubmission reuses every shard and takes its srun
# flags from a site.conf whose DS2_BIN loses to the environment's; a missing manifest fails
# the job (non-zero exit) with the manifest named in the log.
# Exits 77 (skipped) when Slurm, munge or espeak-ng are missing or the cluster does not start.
set -euo pipefail
src=${1:?usage: prep_sbatch_test.sh SOURCE_DIR DS2_BINARY}
ds2=${2:?usage: prep_sbatch_test.sh SOURCE_DIR DS2_BINARY FIXTURE}
fixture=${3:?usage: prep_sbatch_test.sh SOURCE_DIR DS2_BINARY FIXTURE}
command -v espeak-ng >/dev/null || { echo "SKIP: espeak-ng not installed (demo corpus)"; exit 77; }
source "$src/tests/slurm/slurm_cluster.sh"
t0=$SECONDS
slurm_cluster_start

slurm_test_workdir
slurm_test_fixture "$fixture"
export DS2_BIN=$ds2

submit() { # prints the job id; waits for the end; returns the job's exit code
  slurm_run_job --ntasks-per-node=2 "$src/slurm/prep.sh" "$@"
}
job=$(submit --manifest corpus/train.tsv --out data/train --shards 3 --threads 1) ||
  { cat logs/* 2>/dev/null; fail "sbatch prep.sh exited non-zero"; }
log=logs/ds2-prep-$job.log
[[ -f $log ]] || { ls logs; fail "no log $log"; }
cat "$log"
grep -q "job $job (restart 0) on localhost, 2 tasks, launcher srun" "$log" || fail "log header"
grep -q "srun --mpi=pmix $ds2 prep" "$log" || fail "log does not show the srun command"
grep -qE "ds2 prep exited with status 0$" "$log" || fail "log does not show exit 0"
grep -q "\[r0/2\]" "$log" || fail "ds2 did not run as one job of 2 ranks"
scontrol show job "$job" | grep -q "NumTasks=2 " || fail "job did not have 2 tasks"
[[ -f data/train/index.h5 ]] || fail "no data/train/index.h5"
/usr/bin/python3 - corpus/train.tsv data/train/index.h5 <<'PY' || fail "index.h5 content"
import sys, h5py
rows = [l.split("\t")[0] for l in open(sys.argv[1]) if l.strip()]
stems = [r.rsplit("/", 1)[-1].rsplit(".", 1)[0] for r in rows]
assert len(set(stems)) == len(stems), "demo corpus file stems repeat"
want = sorted(stems)  # utt id: the file stem, as the stems are unique
with h5py.File(sys.argv[2], "r") as f:
    got = sorted(x.decode() if isinstance(x, bytes) else x for x in f["utt_id"][()])
print(f"index.h5: {len(got)} utterances, manifest {len(want)}")
assert got == want, (got, want)
PY

# A resubmission reuses the finished shards. Site settings from a site.conf: its srun flags are
# used, its DS2_BIN loses to the environment's.
printf '%s\n' 'DS2_BIN=/nonexistent/ds2' 'DS2_SRUN_FLAGS="--mpi=pmix --label"' >site.conf
job2=$(DS2_SITE_CONF=$work/site.conf submit --manifest corpus/train.tsv --out data/train \
  --shards 3 --threads 1) || { cat "logs/ds2-prep-$job2.log"; fail "resubmitted prep failed"; }
grep -q "srun --mpi=pmix --label $ds2 prep" "logs/ds2-prep-$job2.log" || fail "site.conf unused"
grep -q "(0 made, 3 reused)" "logs/ds2-prep-$job2.log" ||
  { cat "logs/ds2-prep-$job2.log"; fail "no reuse"; }

# A bad manifest fails the job and says why.
if job3=$(submit --manifest corpus/missing.tsv --out data/bad --shards 2); then # id even so
  fail "prep of a missing manifest succeeded"
fi
grep -q "missing.tsv" "logs/ds2-prep-$job3.log" || { cat "logs/ds2-prep-$job3.log"; fail "error"; }
scontrol show job "$job3" | grep -q "JobState=FAILED" || fail "job $job3 is not FAILED"
echo "prep sbatch test passed in $((SECONDS - t0)) s"
