#!/usr/bin/env bash
# Training weak scaling, np=1 vs np=2: the same per-rank batch (the global --batch-size is
# per-rank batch x np), the same corpus and epochs, one compute thread per rank. Throughput is
# utterances per second of training from the last row of the run's metrics.csv (utts_per_s:
# utterances done / seconds since the run started, start-up and checkpoint writes included);
#   efficiency = tput(np=2) / (2 * tput(np=1))      (1.0 = perfect weak scaling)
# Every repeat runs np=1 then np=2 back to back, so background load hits both alike; the table
# gives each repeat, then the median and range of the efficiency. Peak RSS is per rank, from
# /usr/bin/time (max resident set, MiB), the largest rank of the run.
#
# The corpus is the synthetic tone corpus of the tests (make_corpus in tests/e2e_util.py: 80 ms
# tones per letter), prepared once with `ds2 prep`.
#
#   bench/weak_scaling.sh --ds2 build/ds2 [--config share/configs/ds2-tiny.ini] [--utts 128]
#       [--batch 8] [--epochs 4] [--repeat 3] [--mpiexec mpirun] [--keep DIR] [--python PY]
#
# On a 2-core machine np=2 uses both cores with one thread each, while np=1 leaves one idle: the
# ratio then measures the cost of the gradient all-reduce and of rank synchronisation.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
ds2=$root/build/ds2
config=$root/share/configs/ds2-tiny.ini
utts=128 batch=8 epochs=4 repeat=3 mpiexec=mpirun keep=""
python=python3  # needs numpy (the tone corpus); the system one has it where a venv may not
[ -x /usr/bin/python3 ] && python=/usr/bin/python3
while [ $# -gt 0 ]; do
  case $1 in
    --ds2) ds2=$2; shift 2 ;;
    --config) config=$2; shift 2 ;;
    --utts) utts=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --mpiexec) mpiexec=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    --python) python=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "weak_scaling.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ -x "$ds2" ] || { echo "weak_scaling.sh: --ds2 '$ds2' is not an executable" >&2; exit 2; }
[ -f "$config" ] || { echo "weak_scaling.sh: --config '$config' does not exist" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "weak_scaling.sh: needs /usr/bin/time (GNU time)" >&2; exit 2; }

if [ -n "$keep" ]; then
  work=$keep
  mkdir -p "$work"
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/ds2-weak-XXXXXX")
  trap 'rm -rf "$work"' EXIT
fi
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

if [ ! -f "$work/data/index.h5" ]; then
  "$python" -c "import sys; sys.path.insert(0, '$root/tests'); \
from e2e_util import make_corpus; make_corpus('$work', 'train', $utts, 1, max_words=3)"
  "$ds2" prep --manifest "$work/train.tsv" --out "$work/data" --shards 2 \
    --alphabet "$root/share/alphabets/en.txt" > "$work/prep.log" 2>&1 ||
    { cat "$work/prep.log" >&2; exit 1; }
fi

# run NP REPEAT: trains, prints "utts_per_s peak_rss_mib"
run() {
  local np=$1 out=$work/run-np$1-r$2
  rm -rf "$out"
  # Each rank under GNU time; the rank number names its report file.
  local timed='/usr/bin/time -f %M -o "$0.${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-0}}" "$@"'
  "$mpiexec" -np "$np" sh -c "$timed" "$out.rss" \
    "$ds2" train --data "$work/data" --config "$config" --out "$out" \
    --batch-size $((batch * np)) --epochs "$epochs" --model.num_threads 1 --log-every 100000 \
    > "$out.log" 2>&1 || { tail -20 "$out.log" >&2; exit 1; }
  local ups rss
  ups=$(tail -1 "$out/metrics.csv" | cut -d, -f6)
  rss=$(cat "$out".rss.* | sort -n | tail -1)
  echo "$ups $((rss / 1024))"
}

cfg=$(basename "$config" .ini)
echo "# weak scaling: $cfg, $utts utterances x $epochs epochs, $batch utterances per rank per step,"
echo "# 1 thread per rank; efficiency = tput(np=2) / (2 * tput(np=1));" \
  "$(getconf _NPROCESSORS_ONLN) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%6s %14s %14s %10s %13s %13s\n" repeat "np1 utt/s" "np2 utt/s" efficiency \
  "np1 RSS MiB" "np2 RSS MiB"
effs=()
for ((i = 1; i <= repeat; i++)); do
  r1=$(run 1 "$i") || exit 1
  r2=$(run 2 "$i") || exit 1
  read -r u1 m1 <<< "$r1"
  read -r u2 m2 <<< "$r2"
  eff=$("$python" -c "print(f'{$u2 / (2 * $u1):.3f}')")
  effs+=("$eff")
  printf "%6d %14.1f %14.1f %10s %13s %13s\n" "$i" "$u1" "$u2" "$eff" "$m1" "$m2"
done
"$python" -c "
import statistics, sys
e = [float(x) for x in sys.argv[1:]]
print(f'# efficiency median {statistics.median(e):.3f}, '
      f'range {min(e):.3f}..{max(e):.3f} over {len(e)} repeats')
" "${effs[@]}"
