#!/usr/bin/env bash
# `sbatch -N 2 slurm/train.sh` on a two-node Slurm inside the simulated cluster (cluster.sh):
# slurmctld in node0, one slurmd per node namespace (each with its own hostname and its own
# TmpFS, as real nodes have local /tmp), a fresh munge key and socket, the client commands run
# from node0. The job trains ds2-tiny across the 2 nodes (1 rank each, srun --mpi=pmix), is sent
# USR1 as Slurm does before a time limit (scancel --batch --signal=USR1), checkpoints, requeues
# itself, resumes and finishes; the oracle is the same training run uninterrupted on ONE node
# (plain mpiexec): the final checkpoint must equal it bit for bit.
# Usage: slurm_nodes_test.sh SOURCE_DIR DS2_BINARY MPIEXEC "MPIEXEC_FLAGS". Exits 77 (skipped)
# without root, Slurm or munge, or when the cluster does not come up; tears everything down.
set -euo pipefail
src=${1:?usage: slurm_nodes_test.sh SOURCE_DIR DS2_BINARY MPIEXEC FLAGS}
ds2=${2:?}
mpiexec=${3:-mpiexec}
read -ra mpiflags <<<"${4:-}"
cluster=$src/tests/cluster/cluster.sh
export DS2_CLUSTER_PREFIX=ds2s  # its own namespaces: cluster_e2e may run at the same time
# slurm_start_munge, slurm_write_conf, slurm_skip, fail: the single-node cluster's helpers
source "$src/tests/slurm/slurm_cluster.sh"
skip() { slurm_skip "$@"; }
[[ $(id -u) -eq 0 ]] || skip "needs root (network namespaces, slurmd)"
for tool in munged slurmctld slurmd sbatch srun scontrol scancel nsenter; do
  command -v "$tool" >/dev/null || skip "$tool not installed (scripts/install-deps.sh)"
done
t0=$SECONDS
d=$(mktemp -d /tmp/ds2-slurm-nodes.XXXXXX)
SLURM_TEST_PIDS=""
cleanup() {
  local p
  for p in $SLURM_TEST_PIDS; do kill "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in $SLURM_TEST_PIDS; do kill -9 "$p" 2>/dev/null || true; done
  "$cluster" down || true
  [[ ${SLURM_TEST_KEEP:-0} == 1 ]] || rm -rf "$d"
}
trap cleanup EXIT
trap 'exit 143' TERM INT
"$cluster" up 2 --rate 1gbit || skip "cluster.sh up failed (network namespaces not permitted)"
on0() { "$cluster" exec 0 "$@"; }  # Slurm's client commands reach slurmctld from node0

mkdir -p "$d/state" "$d/work/logs" "$d/tmp"
slurm_start_munge "$d" || skip "munged did not start"
slurm_write_conf "$d" ds2nodes "node0(198.18.0.1)" 6817 6818 \
  $((1000 + (RANDOM * 32768 + RANDOM) % 60000000)) \
  "NodeName=node0 NodeAddr=198.18.0.1 CPUs=2 RealMemory=1000 State=UNKNOWN" \
  "NodeName=node1 NodeAddr=198.18.0.2 CPUs=2 RealMemory=1000 State=UNKNOWN" \
  "PartitionName=debug Nodes=node0,node1 Default=YES MaxTime=INFINITE State=UP"
export SLURM_CONF=$d/slurm.conf
unset SLURM_JOB_ID SLURM_JOBID SLURM_NODELIST SLURM_NTASKS SLURM_PARTITION SBATCH_PARTITION
on0 slurmctld -D -i -f "$SLURM_CONF" >"$d/slurmctld.out" 2>&1 &
SLURM_TEST_PIDS+=" $!"
for i in 0 1; do
  mkdir -p "$d/spool/node$i" "$d/tmp-node$i"
  # Each node's TmpFS is its own (PMIx's per-step folders would collide otherwise).
  "$cluster" exec "$i" unshare --mount --propagation private sh -c \
    "mount --bind $d/tmp-node$i $d/tmp && exec slurmd -D -N node$i -f $SLURM_CONF" \
    >"$d/slurmd$i.out" 2>&1 &
  SLURM_TEST_PIDS+=" $!"
done
state="" t1=$SECONDS
while ((SECONDS - t1 < 30)); do
  state=$(on0 sinfo -h -o %t 2>/dev/null | sort -u | tr '\n' ' ')
  [[ $state == "idle " ]] && break
  sleep 0.3
done
if [[ $state != "idle " ]]; then
  tail -n 5 "$d"/slurmctld.log "$d"/slurmd-node*.log 2>/dev/null || true
  skip "the two-node Slurm did not come up (node states '$state' after 30 s)"
fi
echo "two-node Slurm up in $((SECONDS - t1)) s"

cd "$d/work"
export DS2_BIN=$ds2 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
/usr/bin/python3 - "$src/tests" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
from e2e_util import make_corpus
make_corpus(".", "train", 32, 1, max_words=2)
EOF
on0 srun --mpi=pmix -N 2 -n 2 "$ds2" prep --manifest train.tsv --out data --shards 3 \
  --alphabet "$src/share/alphabets/en.txt" >prep.log 2>&1 || { cat prep.log; fail "prep on 2 nodes"; }
epochs=30
args=(--data data --config "$src/share/configs/ds2-tiny.ini" --batch-size 8 --lr 0.003
  --allreduce ring --model.num_threads 1 --epochs "$epochs" --log-every 1000)
"$mpiexec" -np 2 "${mpiflags[@]}" "$ds2" train "${args[@]}" --out oracle >oracle.log 2>&1 ||
  { cat oracle.log; fail "the one-node run"; }

job=$(on0 sbatch --parsable -N 2 --ntasks-per-node=1 "$src/slurm/train.sh" "${args[@]}" --out run)
t2=$SECONDS
until [[ -f run/metrics.csv && $(($(wc -l <run/metrics.csv) - 1)) -ge 4 ]]; do
  ((SECONDS - t2 < 90)) || { cat logs/* || true; fail "job $job: no training progress in 90 s"; }
  sleep 0.1
done
on0 scancel --batch --signal=USR1 "$job"
st=""
while ((SECONDS - t2 < 240)); do
  st=$(on0 scontrol show job "$job" | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
  [[ $st =~ ^(COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL)$ ]] && break
  sleep 0.3
done
log=logs/ds2-train-$job.log
cat "$log"
[[ $st == COMPLETED ]] || fail "job $job ended ${st:-unknown}"
restarts=$(on0 scontrol show job "$job" | sed -n 's/.*Restarts=\([0-9]*\).*/\1/p')
((restarts >= 1)) || fail "job $job was not requeued (Restarts=$restarts)"
k=$(sed -n 's/.*stopped after step \([0-9]*\) on request.*/\1/p' "$log" | head -1)
[[ -n $k ]] || fail "ds2 did not stop on USR1"
grep -q "resuming run/ckpt-last.h5 at .* (after step $k)" "$log" || fail "no resume after step $k"
grep -q "done: .* steps, $epochs epochs complete" "$log" || fail "the resumed run did not finish"
/usr/bin/python3 - <<'EOF' || fail "the 2-node run with a requeue differs from the one-node run"
import h5py, sys
a, b = h5py.File("oracle/ckpt-last.h5", "r"), h5py.File("run/ckpt-last.h5", "r")
bad = [f"{g}/{k}" for g in ("params", "buffers") for k in a[g]
       if a[g][k][()].tobytes() != b[g][k][()].tobytes()]
bad += [k for k in ("velocity", "bn_per_rank", "step")
        if a[f"extra/{k}"][()].tobytes() != b[f"extra/{k}"][()].tobytes()]
print("differs:", bad[:6]) if bad else print("final checkpoint: bit-identical to one node")
sys.exit(1 if bad else 0)
EOF
echo "sbatch -N 2: stopped at step $k by USR1, requeued $restarts time(s), resumed and finished" \
  "$epochs epochs; slurm nodes test passed in $((SECONDS - t0)) s"
