#!/usr/bin/env bash
# bench/scale.sh: ds2 at growing corpus sizes, on synthetic corpora of short utterances.
#
#   bench/scale.sh [--sizes 20000,200000] [--np 2] [--shard-mb 8] [--work DIR] [--ds2 build/ds2]
#                  [--keep]
#
# Per size N it builds a corpus of N utterances (20 distinct 0.3 s WAV files written by Python,
# symlinked N times, durations in the manifest), then measures, each rank wrapped by
# bench/procstat.py (exact peak RSS from wait4, bytes read from /proc/PID/io rchar):
#   prep   `ds2 prep --shard-mb M` at --np ranks (8 MiB of these 2 KB utterances: ~4,000 rows
#          per shard, as a 1 GiB shard of 161-bin 5 s utterances; the shard count grows with
#          the corpus as it does at real scale): peak RSS of rank 0 (the planner) and of the others;
#   train  one epoch of a 1-conv, 1-GRU model at batch 32: peak RSS per rank, and the bytes read
#          by all ranks over the bytes of the shards (1.0: each byte once);
#   eval   `ds2 eval` (greedy) of the trained model on the same data: peak RSS per rank.
# Growth per utterance is the difference between consecutive sizes over the difference in N:
# the baseline is the smaller corpus of the same run. Features: --window-ms 2 (17 bins), so
# 2 M utterances fit in 4 GB of shards; per-utterance overheads do not depend on the bins.
# Prints a Markdown table; raw figures go to WORK/scale.json.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sizes=20000,200000 np=2 shard_mb=8 work=/tmp/ds2-scale ds2=$root/build/ds2 keep=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --sizes) sizes=$2; shift 2 ;;
    --np) np=$2; shift 2 ;;
    --shard-mb) shard_mb=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --ds2) ds2=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "bench/scale.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ -x $ds2 ]] || { echo "bench/scale.sh: $ds2 not found: build first" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
mkdir -p "$work"
stat=$root/bench/procstat.py
cfg=$work/scale-model.ini
cat > "$cfg" <<'EOF'
# bench/scale.sh's model: 17 bins (--window-ms 2), one conv layer, one bidirectional GRU.
[model]
n_bins = 17
alphabet_size = 29
conv_filters = 4
conv_kernel = 5x5
conv_stride = 2x2
rnn_type = gru
rnn_layers = 1
rnn_hidden = 16
bidirectional = true
rnn_batch_norm = true
fc_hidden = 0
seed = 1
num_threads = 1
EOF

make_corpus() {  # N DIR
  python3 - "$1" "$2" <<'EOF'
import math, os, random, struct, sys, wave
n, d = int(sys.argv[1]), sys.argv[2]
os.makedirs(f"{d}/wav", exist_ok=True)
words = ["alpha", "bravo", "delta", "echo", "golf", "hotel", "india", "kilo", "lima", "mike",
         "oscar", "papa", "romeo", "sierra", "tango", "victor", "whiskey", "yankee", "zulu", "x ray"]
rng = random.Random(1)
for k, w in enumerate(words):
    with wave.open(f"{d}/base{k}.wav", "wb") as f:
        f.setnchannels(1); f.setsampwidth(2); f.setframerate(16000)
        f.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * (200 + 37 * k) * t / 16000)
                                                  + rng.gauss(0, 300))) for t in range(4800)))
with open(f"{d}/manifest.tsv", "w") as m:
    for i in range(n):
        k = i % len(words)
        sub = f"wav/{i // 10000:04d}"
        os.makedirs(f"{d}/{sub}", exist_ok=True)
        p = f"{sub}/u{i:08d}.wav"
        if not os.path.lexists(f"{d}/{p}"):
            os.symlink(f"../../base{k}.wav", f"{d}/{p}")
        m.write(f"{p}\t0.3\t{words[k]}\n")
EOF
}


json=$work/scale.json
echo "[" > "$json"
first=1
IFS=, read -ra ns <<< "$sizes"
for n in "${ns[@]}"; do
  d=$work/n$n
  echo "== $n utterances ($d)" >&2
  [[ -f $d/manifest.tsv ]] || make_corpus "$n" "$d"
  rm -rf "$d/data" "$d/run" "$d/eval" "$d"/*.stat.*
  mpirun -np "$np" python3 "$stat" --out "$d/prep.stat.%r" -- \
    "$ds2" prep --manifest "$d/manifest.tsv" --out "$d/data" --shard-mb "$shard_mb" --window-ms 2 \
    --threads 0 2> "$d/prep.log"
  shard_bytes=$(du -cb "$d"/data/shard-*.h5 | tail -1 | cut -f1)
  mpirun -np "$np" python3 "$stat" --out "$d/train.stat.%r" -- \
    "$ds2" train --data "$d/data" --config "$cfg" --out "$d/run" --epochs 1 --batch-size 32 \
    --log-every 100000 --replica-check-every 0 2> "$d/train.log"
  mpirun -np "$np" python3 "$stat" --out "$d/eval.stat.%r" -- \
    "$ds2" eval --model "$d/run/ckpt-last.h5" --data "$d/data" --out "$d/eval" 2> "$d/eval.log"
  python3 - "$d" "$n" "$np" "$shard_bytes" "$json" "$first" <<'EOF'
import glob, json, sys
d, n, np_, shard_bytes, out, first = sys.argv[1:]
def load(kind):
    return sorted((json.load(open(f)) for f in glob.glob(f"{d}/{kind}.stat.*")), key=lambda r: r["rank"])
prep, train, ev = load("prep"), load("train"), load("eval")
rec = {"utterances": int(n), "ranks": int(np_), "shard_bytes": int(shard_bytes),
       "shards": len(glob.glob(f"{d}/data/shard-*.h5")),
       "prep_rss_kib": [r["peak_rss_kib"] for r in prep], "prep_s": max(r["wall_s"] for r in prep),
       "train_rss_kib": [r["peak_rss_kib"] for r in train], "train_s": max(r["wall_s"] for r in train),
       "train_read_ratio": sum(r["rchar"] for r in train) / int(shard_bytes),
       "eval_rss_kib": [r["peak_rss_kib"] for r in ev], "eval_s": max(r["wall_s"] for r in ev)}
with open(out, "a") as f:
    f.write(("" if first == "1" else ",\n") + json.dumps(rec))
EOF
  first=0
  [[ $keep == 1 ]] || rm -rf "$d/data" "$d/run" "$d/eval"
done
echo "]" >> "$json"

python3 - "$json" <<'EOF'
import json, sys
rows = json.load(open(sys.argv[1]))
print("| utterances | shards | shard GB | prep RSS rank 0 / others (MiB) | train RSS per rank (MiB) | train read / shard bytes | eval RSS per rank (MiB) | prep / train / eval s |")
print("|---|---|---|---|---|---|---|---|")
mib = lambda k: k / 1024
for r in rows:
    print(f"| {r['utterances']:,} | {r['shards']} | {r['shard_bytes']/1e9:.2f} | {mib(r['prep_rss_kib'][0]):.0f} / "
          f"{max(r['prep_rss_kib'][1:] or [0])/1024:.0f} | {'/'.join(f'{mib(x):.0f}' for x in r['train_rss_kib'])} | "
          f"{r['train_read_ratio']:.2f} | {'/'.join(f'{mib(x):.0f}' for x in r['eval_rss_kib'])} | "
          f"{r['prep_s']:.0f} / {r['train_s']:.0f} / {r['eval_s']:.0f} |")
print()
print("Growth per utterance between consecutive sizes (bytes of peak RSS per added utterance, per rank):")
print("| from -> to | prep rank 0 | prep others (max) | train (max over ranks) | eval (max over ranks) |")
print("|---|---|---|---|---|")
for a, b in zip(rows, rows[1:]):
    dn = b["utterances"] - a["utterances"]
    g = lambda ka, kb: (kb - ka) * 1024 / dn
    po = max((g(x, y) for x, y in zip(a["prep_rss_kib"][1:], b["prep_rss_kib"][1:])), default=float("nan"))
    tr = max(g(x, y) for x, y in zip(a["train_rss_kib"], b["train_rss_kib"]))
    ev = max(g(x, y) for x, y in zip(a["eval_rss_kib"], b["eval_rss_kib"]))
    print(f"| {a['utterances']:,} -> {b['utterances']:,} | {g(a['prep_rss_kib'][0], b['prep_rss_kib'][0]):.0f} | "
          f"{po:.0f} | {tr:.0f} | {ev:.0f} |")
last = rows[-1]
print()
print("Extrapolated to 8 M utterances (the growth of the last pair, added to the largest size's peak):")
if len(rows) >= 2:
    a, b = rows[-2], rows[-1]
    dn = b["utterances"] - a["utterances"]
    for name, key, idx in (("prep rank 0", "prep_rss_kib", 0), ("prep other ranks", "prep_rss_kib", 1),
                           ("train per rank", "train_rss_kib", 0), ("eval per rank", "eval_rss_kib", 0)):
        if idx >= len(b[key]):
            continue
        per = (b[key][idx] - a[key][idx]) * 1024 / dn
        at8m = b[key][idx] * 1024 + per * (8e6 - b["utterances"])
        print(f"- {name}: {per:.0f} B/utt -> {at8m/2**30:.2f} GiB at 8 M")
EOF
