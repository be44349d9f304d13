#!/usr/bin/env bash
# The Deep Speech 2 ablations at small scale on the demo corpus: one baseline and one run per
# change, everything else equal (corpus, seed, epochs, learning rate, batch), scored greedy on the
# dev set and on a noisy copy of it (SNR 10 dB, share/demo/add_noise.py: numpy mixing, not
# ds2's augmenter).
#   base          ds2-small: SortaGrad, sequence-wise BN, GRU, train set + 1 augmented copy
#                 (speed, pitch, noise at 5-20 dB with probability 0.4)
#   no-sortagrad  --sortagrad=0: epoch 0 in shuffled batches like the later ones
#   no-bn         --model.rnn_batch_norm 0
#   rnn           --model.rnn_type rnn: simple RNN (clipped ReLU) instead of GRU, same width
#   no-noise      trained on the same train set + 1 copy with speed and pitch only (no noise)
# Writes $WORK/ablations.md (a markdown table: dev and noisy-dev CER/WER, parameters, train
# time) and prints it. Reruns reuse finished runs (a run folder with results is skipped), so a
# killed sweep resumes; --fresh starts over.
#
# Usage: scripts/ablations.sh [--work DIR] [--hours H] [--epochs E] [--np N] [--lr LR]
#                             [--only NAME[,NAME]] [--fresh] [--config INI]
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=work/ablations HOURS=0.25 EPOCHS=4 NP=2 LR=3e-3 ONLY="" SEED=1
CONFIG=share/configs/ds2-small.ini
while [ $# -gt 0 ]; do
  case "$1" in
    --work) WORK=$2; shift 2 ;;
    --hours) HOURS=$2; shift 2 ;;
    --epochs) EPOCHS=$2; shift 2 ;;
    --np) NP=$2; shift 2 ;;
    --lr) LR=$2; shift 2 ;;
    --config) CONFIG=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --fresh) rm -rf "$WORK/runs" "$WORK/eval"; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "ablations.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
MPIRUN=(mpirun -np "$NP")
DS2=${DS2_BIN:-build/ds2}
stamp() { echo "== ablations: $* ($(date +%H:%M:%S))"; }
[ -x "$DS2" ] || { echo "ablations.sh: $DS2 not built (run scripts/demo.sh --stage 0 first)" >&2; exit 2; }

stamp "corpus ($HOURS h, 1000-word vocabulary) and the noisy dev set (10 dB)"
/usr/bin/python3 share/demo/make_corpus.py --out "$WORK/corpus" --hours "$HOURS" --seed "$SEED" \
  --noise --vocab 1000 --dev-fraction 0.2
[ -f "$WORK/noisy/dev.tsv" ] || /usr/bin/python3 share/demo/add_noise.py \
  --manifest "$WORK/corpus/dev.tsv" --noise "$WORK/corpus/noise.tsv" --snr 10 --out "$WORK/noisy"

prep() { # prep NAME MANIFEST [augment args...]
  local name=$1 manifest=$2; shift 2
  "${MPIRUN[@]}" "$DS2" prep --manifest "$manifest" --out "$WORK/data/$name" --shards $((NP * 2)) \
    --threads 1 -v 0 "$@"
}
AUG="copies=1,noise_prob=0.4,snr_db=5:20,speed=0.9:1.1,pitch_cents=-200:200"
stamp "prep"
prep train "$WORK/corpus/train.tsv" --augment "$AUG" --noise-manifest "$WORK/corpus/noise.tsv" \
  --babble 3
prep train-nonoise "$WORK/corpus/train.tsv" --augment "copies=1,noise_prob=0,speed=0.9:1.1,pitch_cents=-200:200"
prep dev "$WORK/corpus/dev.tsv"
prep dev-noisy "$WORK/noisy/dev.tsv"

declare -A ARGS=(
  [base]=""
  [no-sortagrad]="--sortagrad=0"
  [no-bn]="--model.rnn_batch_norm 0"
  [rnn]="--model.rnn_type rnn"
  [no-noise]=""
)
NAMES=(base no-sortagrad no-bn rnn no-noise)
for name in "${NAMES[@]}"; do
  if [ -n "$ONLY" ] && [[ ",$ONLY," != *",$name,"* ]]; then continue; fi
  run="$WORK/runs/$name"
  data="$WORK/data/train"
  [ "$name" = no-noise ] && data="$WORK/data/train-nonoise"
  if [ ! -f "$WORK/eval/$name/dev-noisy/results.json" ]; then
    stamp "train $name (${ARGS[$name]:-baseline})"
    rm -rf "$run"
    t0=$SECONDS
    # shellcheck disable=SC2086
    "${MPIRUN[@]}" "$DS2" train --data "$data" --dev "$WORK/data/dev" --config "$CONFIG" \
      --out "$run" --epochs "$EPOCHS" --lr "$LR" --batch-size 16 -v 0 ${ARGS[$name]}
    echo $((SECONDS - t0)) > "$run/train_seconds"
    for set in dev dev-noisy; do
      "${MPIRUN[@]}" "$DS2" eval --model "$run/ckpt-last.h5" --data "$WORK/data/$set" \
        --out "$WORK/eval/$name/$set" --decoder greedy -v 0
    done
  fi
done

stamp "table"
/usr/bin/python3 - "$WORK" "$EPOCHS" "$HOURS" "$LR" "${NAMES[@]}" <<'EOF'
import json, os, sys
work, epochs, hours, lr, names = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
what = {"base": "baseline: SortaGrad, BN, GRU, noise augmentation",
        "no-sortagrad": "without SortaGrad", "no-bn": "without batch norm",
        "rnn": "simple RNN instead of GRU", "no-noise": "without noise augmentation"}
rows = [f"Ablations: {hours} h demo corpus, ds2-small, {epochs} epochs, lr {lr}, batch 16, "
        "greedy decoding, last checkpoint.", "",
        "| run | change | dev CER | dev WER | noisy dev (10 dB) CER | noisy dev WER | train s |",
        "|---|---|---:|---:|---:|---:|---:|"]
for n in names:
    r = {}
    for s in ("dev", "dev-noisy"):
        p = os.path.join(work, "eval", n, s, "results.json")
        if os.path.exists(p):
            with open(p) as f:
                r[s] = json.load(f)
    if not r:
        continue
    secs = open(os.path.join(work, "runs", n, "train_seconds")).read().strip()
    cell = lambda s, k: f"{100 * r[s][k]:.1f}%" if s in r else "-"
    rows.append(f"| {n} | {what[n]} | {cell('dev', 'cer')} | {cell('dev', 'wer')} | "
                f"{cell('dev-noisy', 'cer')} | {cell('dev-noisy', 'wer')} | {secs} |")
text = "\n".join(rows) + "\n"
out = os.path.join(work, "ablations.md")
with open(out + ".tmp", "w") as f:
    f.write(text)
os.replace(out + ".tmp", out)
print(text + f"-> {out}")
EOF
