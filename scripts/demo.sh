#!/usr/bin/env bash
# The main job on the built-in demo corpus, from a fresh Debian machine:
#   stage 0: install dependencies (apt-get) and build
#   stage 1: synthesize the demo corpus with espeak-ng (cached in $WORK/corpus): fortunes
#            sentences over the 1,000 most frequent words (--vocab), split by sentence
#   stage 2: `mpirun -np $NP ds2 prep` of train (clean + 1 augmented copy: speed, pitch, and
#            noise from the corpus's noise set or babble) and dev (clean) into HDF5 shards
#   stage 3: `mpirun -np $NP ds2 train` of ds2-small with SortaGrad, dev loss + greedy CER per epoch
#   stage 4: a 3-gram LM from the train-split text (IRSTLM), `ds2 eval` of dev: greedy, and beam
#            search with the LM; a `ds2 sweep` over alpha x beta into an SQLite history and an
#            HTML report with the training curves; prints WER/CER and where the report is
#
# Usage: scripts/demo.sh [--hours H] [--epochs E] [--np N] [--stage N] [--work DIR] [--seed S]
#                        [--augment SPEC] [--config INI] [--lr LR] [--anneal A] [--vocab K]
#                        [--alpha A] [--beta B]
# Defaults: 1 h of train audio (+ 0.1 h dev), 8 epochs, lr 3e-3 annealed 1.15x per epoch, 2
# ranks, ds2-small: about 16 minutes on 2 cores once built (README, "Two commands").
# The longer recipe of the README (greedy CER 5.6%, 4.5% with the LM; about 70 minutes):
#   scripts/demo.sh --hours 2 --vocab 2000 --epochs 15 --anneal 1.1 --work work/long
set -euo pipefail
cd "$(dirname "$0")/.."
HOURS=1.0 NP=2 STAGE=0 WORK=work/demo SEED=1 EPOCHS=8 LR=3e-3 ANNEAL=1.15 VOCAB=1000
ALPHA=0.75 BETA=2 CONFIG=share/configs/ds2-small.ini
AUGMENT="copies=1,noise_prob=0.4,snr_db=5:20,speed=0.9:1.1,pitch_cents=-200:200"
while [ $# -gt 0 ]; do
  case "$1" in
    --hours) HOURS=$2; shift 2 ;;
    --np) NP=$2; shift 2 ;;
    --stage) STAGE=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --augment) AUGMENT=$2; shift 2 ;;
    --epochs) EPOCHS=$2; shift 2 ;;
    --lr) LR=$2; shift 2 ;;
    --anneal) ANNEAL=$2; shift 2 ;;
    --vocab) VOCAB=$2; shift 2 ;;
    --alpha) ALPHA=$2; shift 2 ;;
    --beta) BETA=$2; shift 2 ;;
    --config) CONFIG=$2; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "demo.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
MPIRUN=(mpirun -np "$NP")
stamp() { echo "== demo: $* ($(date +%H:%M:%S))"; }

if [ "$STAGE" -le 0 ]; then
  stamp "stage 0: dependencies and build"
  bash scripts/install-deps.sh
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DDS2_TESTS=OFF -DDS2_BENCH=OFF >/dev/null
  cmake --build build -j "$(nproc)" --target ds2
fi
if [ "$STAGE" -le 1 ]; then
  stamp "stage 1: demo corpus, $HOURS h (cached)"
  /usr/bin/python3 share/demo/make_corpus.py --out "$WORK/corpus" --hours "$HOURS" --seed "$SEED" \
    --noise --vocab "$VOCAB"
fi
if [ "$STAGE" -le 2 ]; then
  for split in train dev; do
    stamp "stage 2: prep $split on $NP ranks"
    extra=()
    if [ "$split" = train ] && [ -n "$AUGMENT" ]; then
      extra=(--augment "$AUGMENT" --noise-manifest "$WORK/corpus/noise.tsv" --babble 3)
    fi
    "${MPIRUN[@]}" build/ds2 prep --manifest "$WORK/corpus/$split.tsv" --out "$WORK/data/$split" \
      --shards $((NP * 4)) --threads 1 "${extra[@]}"
  done
  h5dump -H -A 0 "$WORK/data/train/index.h5" >/dev/null && echo "index: $WORK/data/train/index.h5 (h5dump reads it)"
fi
if [ "$STAGE" -le 3 ]; then
  stamp "stage 3: train $(basename "$CONFIG") on $NP ranks, $EPOCHS epochs"
  RUN="$WORK/runs/$(basename "$CONFIG" .ini)"
  resume=()
  [ -f "$RUN/ckpt-last.h5" ] && resume=(--resume)
  OMP_NUM_THREADS=1 "${MPIRUN[@]}" build/ds2 train --data "$WORK/data/train" --dev "$WORK/data/dev" \
    --config "$CONFIG" --out "$RUN" --epochs "$EPOCHS" --lr "$LR" --anneal "$ANNEAL" \
    --batch-size 16 "${resume[@]}"
  echo "dev loss and greedy CER per epoch ($RUN/dev.csv):"
  column -s, -t "$RUN/dev.csv" 2>/dev/null || cat "$RUN/dev.csv"
fi
if [ "$STAGE" -le 4 ]; then
  RUN="$WORK/runs/$(basename "$CONFIG" .ini)"
  stamp "stage 4: LM and evaluation of dev"
  mkdir -p "$WORK/lm"
  # The LM text is every train-split sentence of the corpus (lm.txt, never a dev sentence).
  [ -f "$WORK/lm/lm3.arpa" ] || bash share/lm/build_lm.sh --order 3 --out "$WORK/lm/lm3.arpa" \
    "$WORK/corpus/lm.txt"
  "${MPIRUN[@]}" build/ds2 eval --model "$RUN/ckpt-best.h5" --data "$WORK/data/dev" \
    --out "$WORK/eval/greedy" --decoder greedy -v 0
  "${MPIRUN[@]}" build/ds2 eval --model "$RUN/ckpt-best.h5" --data "$WORK/data/dev" \
    --out "$WORK/eval/lm" --decoder beam --lm "$WORK/lm/lm3.arpa" --beam 64 \
    --alpha "$ALPHA" --beta "$BETA" -v 0
  # A small alpha/beta grid into the SQLite history and the HTML report (with training curves).
  "${MPIRUN[@]}" build/ds2 sweep --models "$RUN/" --checkpoints all --data "$WORK/data/dev" \
    --lm "$WORK/lm/lm3.arpa" --grid "alpha=0.5:1.5:5,beta=0:4:5,beam=32" \
    --db "$WORK/history.sqlite" --report "$WORK/report.html" -v 0 >"$WORK/sweep.txt"
  if grep -q '^WER' "$WORK/sweep.txt"; then
    echo "best of the alpha/beta grid (beam 32): $(grep '^WER' "$WORK/sweep.txt" | sort -t' ' -k2 -g |
      head -1)"
  else  # a rerun: ds2 sweep skips the points the history already holds
    echo "alpha/beta grid: every point is already in $WORK/history.sqlite (see the report)"
  fi
  echo "results: $WORK/eval/greedy/results.json, $WORK/eval/lm/results.json"
  echo "report (training curves, WER per checkpoint, alpha/beta heatmap): $WORK/report.html"
fi
stamp "done"
