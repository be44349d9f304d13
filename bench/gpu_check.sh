#!/usr/bin/env bash
# bench/gpu_check.sh -- everything ds2 measures on a GPU machine, in one run of under 8 minutes,
# written to one folder (default gpu_check-<date>): run it on a machine with a GPU and a build
# configured with CUDA (DS2_CUDA=AUTO finds nvcc), then copy its figures into README's GPU part.
#
#   1. ctest -L gpu                      ctest_gpu.log (CUDA conformance vs the CPU backend)
#   2. bench_gpu                         bench_gpu.txt: cuBLAS sgemm FP32 and TF32 peaks (8192^3),
#                                        a training step of ds2-small and ds2-paper (seconds,
#                                        TFLOP/s, fraction of both peaks), GPU CTC vs CPU CTC
#   3. 100 steps of ds2-small, GPU vs CPU, same data, same seed (train_gpu/, train_cpu/,
#      loss_compare.txt). Tolerances (relative difference of the per-step mean loss; the two runs
#      differ only by float summation order in GEMMs, convolutions and reductions, which grows
#      over the steps): steps 1-10 <= 2e-3, every step <= 5e-2, mean of the last 10 <= 3e-2.
#   4. all-reduce of device buffers (bench_allreduce_gpu, 2 ranks): the ring staged through
#      pinned host memory vs NCCL when 2 GPUs exist; with one GPU, 2 ranks share it and only the
#      ring runs (NCCL refuses two ranks on one device).   allreduce_gpu.txt
#   summary.txt collects the lines that go into README; the exit code is 0 when every check
#   passed, 1 when one failed, 77 when there is no GPU or no CUDA build (nothing was measured).
#
# Usage: bench/gpu_check.sh [--build DIR] [--out DIR] [--steps 100]
#        bench/gpu_check.sh --selftest [--build DIR]   (no GPU needed: runs stage 3's data
#          preparation, a 6-step CPU training and the loss comparison on itself and on a
#          perturbed copy, so the script's own logic is tested on a CPU machine)
# Environment: MPIEXEC (default mpiexec), MPIFLAGS (default --oversubscribe, plus
# --allow-run-as-root as root), PYTHON (default: /usr/bin/python3 or python3, whichever has
# numpy, which the corpus needs).
set -u -o pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$SRC/build
OUT=
STEPS=100
SELFTEST=0
while [ $# -gt 0 ]; do
  case $1 in
    --build) BUILD=$(cd "$2" && pwd); shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --steps) STEPS=$2; shift 2 ;;
    --selftest) SELFTEST=1; shift ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
OUT=${OUT:-$PWD/gpu_check-$(date -u +%Y%m%d-%H%M)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
if [ -z "${PYTHON:-}" ]; then  # the one with numpy (the system python3, as ctest's e2e tests)
  for PYTHON in /usr/bin/python3 python3; do "$PYTHON" -c 'import numpy' 2> /dev/null && break; done
fi
MPIEXEC=${MPIEXEC:-mpiexec}
if [ -z "${MPIFLAGS+x}" ]; then
  MPIFLAGS="--oversubscribe"
  [ "$(id -u)" = 0 ] && MPIFLAGS="$MPIFLAGS --allow-run-as-root"
fi
DS2=$BUILD/ds2
SUMMARY=$OUT/summary.txt
FAILED=0
T0=$(date +%s)

note() { echo "$*" | tee -a "$SUMMARY"; }
fail() { note "FAIL: $*"; FAILED=1; }
stage() { echo "== [$(( $(date +%s) - T0 )) s] $*"; }

[ -x "$DS2" ] || { echo "gpu_check.sh: $DS2 not found (build first, or pass --build)" >&2; exit 2; }

# ---- stage 3's pieces: a corpus, ds2 prep, a training run, the loss comparison ----
make_data() {  # $1: folder, $2: utterances
  "$PYTHON" - "$1" "$2" "$SRC" <<'PY' || return 1
import sys
sys.path.insert(0, sys.argv[3] + "/tests")
from e2e_util import make_corpus
make_corpus(sys.argv[1], "train", int(sys.argv[2]), 7, max_words=3)
PY
  timeout 120 "$DS2" prep --manifest "$1/train.tsv" --out "$1/data" \
    --alphabet "$SRC/share/alphabets/en.txt" > "$1/prep.log" 2>&1
}

train_run() {  # $1: run folder, $2: device, $3: steps, $4: data folder, $5: time limit (s)
  timeout "$5" "$DS2" train --data "$4" --out "$1" --config "$SRC/share/configs/ds2-small.ini" \
    --epochs 1000 --stop-after-steps "$3" --batch-size 16 --log-every 10 \
    --replica-check-every 0 --model.device "$2" --model.num_threads "$(nproc)" \
    > "$1.log" 2>&1
}

compare_losses() {  # $1: metrics A (gpu), $2: metrics B (cpu), $3: steps expected; prints, rc
  "$PYTHON" - "$1" "$2" "$3" <<'PY'
import csv, sys
def losses(p):
    with open(p) as f:
        return [float(r["loss"]) for r in csv.DictReader(f)]
a, b, n = losses(sys.argv[1]), losses(sys.argv[2]), int(sys.argv[3])
if len(a) < n or len(b) < n:
    print(f"loss curves: {len(a)} and {len(b)} steps, expected {n}: FAIL")
    sys.exit(1)
a, b = a[:n], b[:n]
rel = [abs(x - y) / max(abs(y), 1e-12) for x, y in zip(a, b)]
first = max(rel[:10])
worst = max(rel)
last = abs(sum(a[-10:]) - sum(b[-10:])) / max(abs(sum(b[-10:])), 1e-12)
ok = first <= 2e-3 and worst <= 5e-2 and last <= 3e-2
print(f"loss curves over {n} steps: max rel diff steps 1-10 {first:.2e} (<= 2e-3), "
      f"all steps {worst:.2e} (<= 5e-2, at step {rel.index(worst) + 1}), mean of last 10 "
      f"{last:.2e} (<= 3e-2); loss step 1 {a[0]:.4f} vs {b[0]:.4f}, step {n} {a[-1]:.4f} vs "
      f"{b[-1]:.4f}: {'ok' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
PY
}

if [ "$SELFTEST" = 1 ]; then
  stage "selftest: data, a 6-step CPU run, the comparison logic"
  make_data "$OUT/corpus" 48 || { echo "selftest: corpus/prep failed (see $OUT)"; exit 1; }
  train_run "$OUT/train_cpu" cpu 6 "$OUT/corpus/data" 300 || { echo "selftest: train failed"; exit 1; }
  M=$OUT/train_cpu/metrics.csv
  compare_losses "$M" "$M" 6 || { echo "selftest: a curve does not match itself"; exit 1; }
  awk -F, 'NR == 1 { print; next } { $3 = $3 * 1.01; print }' OFS=, "$M" > "$OUT/perturbed.csv"
  if compare_losses "$OUT/perturbed.csv" "$M" 6; then
    echo "selftest: a 1% difference passed the comparison"; exit 1
  fi
  echo "selftest passed: $OUT"
  exit 0
fi

# ---- is there anything to measure? ----
if ! grep -q "^#define DS2_HAS_CUDA" "$BUILD/generated/ds2/config.h" 2>/dev/null; then
  echo "gpu_check.sh: $BUILD was configured without CUDA (DS2_CUDA=OFF or no nvcc): nothing to measure"
  exit 77
fi
NGPU=0
command -v nvidia-smi > /dev/null && NGPU=$(nvidia-smi -L 2> /dev/null | grep -c '^GPU ')
if [ "$NGPU" -lt 1 ]; then
  echo "gpu_check.sh: no GPU on this machine (nvidia-smi lists none): nothing to measure; exit 77"
  exit 77
fi
: > "$SUMMARY"
{
  date -u
  git -C "$SRC" describe --always --dirty 2> /dev/null
  nvidia-smi -L
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  nvcc --version 2> /dev/null | tail -2
  echo "nproc $(nproc); $(uptime)"
} > "$OUT/env.txt" 2>&1
note "gpu_check $(date -u +%F) on $(nvidia-smi -L | head -1), $NGPU GPU(s), $(nproc) cores"

stage "1/4 ctest -L gpu"
(cd "$BUILD" && timeout 150 ctest -L gpu --output-on-failure) > "$OUT/ctest_gpu.log" 2>&1 \
  || fail "ctest -L gpu (see ctest_gpu.log)"
note "ctest -L gpu: $(grep -E 'tests passed|tests failed' "$OUT/ctest_gpu.log" | tail -1)"

stage "2/4 bench_gpu"
timeout 120 "$BUILD/bench/bench_gpu" --iters 5 > "$OUT/bench_gpu.txt" 2>&1 \
  || fail "bench_gpu (see bench_gpu.txt)"
grep -E '^(peak|model|ctc)' "$OUT/bench_gpu.txt" | tee -a "$SUMMARY"

stage "3/4 $STEPS steps of ds2-small, GPU vs CPU"
if make_data "$OUT/corpus" 400; then
  train_run "$OUT/train_gpu" cuda "$STEPS" "$OUT/corpus/data" 120 || fail "GPU training (train_gpu.log)"
  train_run "$OUT/train_cpu" cpu "$STEPS" "$OUT/corpus/data" 150 || fail "CPU training (train_cpu.log)"
  compare_losses "$OUT/train_gpu/metrics.csv" "$OUT/train_cpu/metrics.csv" "$STEPS" \
    > "$OUT/loss_compare.txt" 2>&1 || fail "loss curves differ beyond tolerance"
  tee -a "$SUMMARY" < "$OUT/loss_compare.txt"
  for d in gpu cpu; do
    awk -F, -v d=$d 'NR > 1 { t = $8 } END { if (NR > 1) printf "train %s: %d steps in %.1f s\n", d, NR - 1, t }' \
      "$OUT/train_$d/metrics.csv" 2> /dev/null | tee -a "$SUMMARY"
  done
else
  fail "corpus or prep (see $OUT/corpus)"
fi

stage "4/4 all-reduce of device buffers"
if [ "$NGPU" -ge 2 ]; then ALGOS="ring nccl"; else ALGOS="ring"; fi
# shellcheck disable=SC2086
timeout 90 $MPIEXEC -np 2 $MPIFLAGS "$BUILD/bench/bench_allreduce_gpu" --algos "$ALGOS" \
  --sizes-mib "1 8 64 256" --iters 10 > "$OUT/allreduce_gpu.txt" 2>&1 \
  || fail "bench_allreduce_gpu (see allreduce_gpu.txt)"
[ "$NGPU" -lt 2 ] && note "one GPU: 2 ranks share it, ring only (NCCL refuses two ranks on one GPU)"
grep -E '^ *(ring|nccl|mpi) ' "$OUT/allreduce_gpu.txt" | tee -a "$SUMMARY"
grep -q FAIL "$OUT/allreduce_gpu.txt" && fail "all-reduce result check"

note "done in $(( $(date +%s) - T0 )) s; $( [ $FAILED = 0 ] && echo 'all checks passed' || echo 'SOME CHECKS FAILED')"
exit $FAILED
