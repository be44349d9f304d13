#!/usr/bin/env bash
# ds2 sweep: memory flat in the dataset size, and the cost of a night with nothing new.
#   Peak RSS (/usr/bin/time, max resident set) of `ds2 sweep` (np=1, ds2-tiny trained 1 epoch,
#   greedy + beam 4, no LM) on a dev set of N and of F x N tone-corpus utterances; the ratio
#   big/small is the result (1.00 = flat). Beside it, by arithmetic, the per-rank cache the
#   sweep kept before it streamed (T/2 output frames x 29 classes x 4 bytes per utterance, summed
#   from index.h5): what the RSS would have grown by.
#   Then the same sweep again on the big set, where every point is in the history: its wall
#   time as a ratio to the first (scoring) run's, measured in the same run (digests, the plan,
#   no forward pass).
#
#   bench/sweep_scale.sh [--ds2 build/ds2] [--utts 500] [--factor 8] [--keep DIR]
# The corpus is tests/e2e_util.py's make_corpus (needs numpy: /usr/bin/python3).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
ds2=$root/build/ds2 utts=500 factor=8 keep=""
while [ $# -gt 0 ]; do
  case $1 in
    --ds2) ds2=$2; shift 2 ;;
    --utts) utts=$2; shift 2 ;;
    --factor) factor=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "sweep_scale.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
work=${keep:-$(mktemp -d /tmp/ds2-sweep-scale.XXXXXX)}
mkdir -p "$work"
[[ -n $keep ]] || trap 'rm -rf "$work"' EXIT
cd "$work"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
/usr/bin/python3 - "$root/tests" "$utts" "$factor" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
from e2e_util import make_corpus
n, f = int(sys.argv[2]), int(sys.argv[3])
make_corpus(".", "train", 48, 1)
make_corpus(".", "small", n, 2, max_words=8)
make_corpus(".", "big", n * f, 3, max_words=8)
PY
alphabet=$root/share/alphabets/en.txt
for s in train small big; do
  "$ds2" prep --manifest $s.tsv --out d-$s --alphabet "$alphabet" --threads 2 -v 0 >prep-$s.log 2>&1
done
"$ds2" train --data d-train --config "$root/share/configs/ds2-tiny.ini" --out run --epochs 1 \
  --batch-size 8 --model.num_threads 1 -v 0 >train.log 2>&1
sweep() { # SET DB LABEL -> "peak_kb seconds"
  /usr/bin/time -f "%M %e" -o time.txt "$ds2" sweep --models run/ckpt-last.h5 --data "d-$1" \
    --grid beam=1,beam=4 --db "$2" --threads 1 -v 0 >/dev/null 2>&1
  cat time.txt
}
cache_mb() {
  /usr/bin/python3 -c "
import h5py, sys
fr = h5py.File(sys.argv[1] + '/index.h5', 'r')['utt_frames'][:]
print('%.1f' % ((fr // 2 + 1).sum() * 29 * 4 / 1e6))" "d-$1"
}
read -r small_kb small_s < <(sweep small h-small.sqlite)
read -r big_kb big_s < <(sweep big h-big.sqlite)
read -r again_kb again_s < <(sweep big h-big.sqlite)
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
printf 'utterances   peak RSS MiB   sweep s   old cache MB (arithmetic)\n'
printf '%10d   %12.1f   %7.2f   %6s\n' "$utts" "$(div "$small_kb" 1024)" "$small_s" "$(cache_mb small)"
printf '%10d   %12.1f   %7.2f   %6s\n' "$((utts * factor))" "$(div "$big_kb" 1024)" "$big_s" \
  "$(cache_mb big)"
echo "RSS ratio big/small: $(div "$big_kb" "$small_kb")"
echo "nothing new (big, all points in the history): $again_s s, $(div "$again_s" "$big_s") of" \
  "the scoring run, peak $(div "$again_kb" 1024) MiB"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
