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
# --lang cmn (Mandarin): stage 1 synthesizes fortunes-zh sentences over the --vocab most frequent
#            characters with espeak-ng cmn-latn-pinyin; stage 2 first makes the alphabet from the
#            training text (`ds2 alphabet --no-space` of train.tsv and lm.txt); stage 4 builds a character 3-gram LM
#            (build_lm.sh --chars) and evaluates dev greedy, beam without LM and beam with the
#            character LM, scored by CER (no sweep: it ranks by WER)
#
# Usage: scripts/demo.sh [--hours H] [--epochs E] [--np N] [--stage N] [--work DIR] [--seed S]
#                        [--augment SPEC] [--config INI] [--lr LR] [--anneal A] [--vocab K]
#                        [--alpha A] [--beta B] [--lang en|cmn] [--max-utts N] [--rnn gru|rnn]
# Defaults: 1 h of train audio (+ 0.1 h dev), 8 epochs, lr 3e-3 annealed 1.15x per epoch, 2
# ranks, ds2-small: about 16 minutes on 2 cores once built (README, "Two commands").
# --lang cmn defaults: --hours 0.5, --vocab 300 (characters), --rnn rnn (ds2-small with simple
# RNN cells), --work work/demo-cmn, alpha 0.5, beta 1 (share/demo/README.md has its figures).
# DS2=path picks the ds2 binary (default build/ds2).
# The longer recipe of the README (greedy CER 5.6%, 4.5% with the LM; about 70 minutes):
#   scripts/demo.sh --hours 2 --vocab 2000 --epochs 15 --anneal 1.1 --work work/long
set -euo pipefail
cd "$(dirname "$0")/.."
HOURS="" NP=2 STAGE=0 SEED=1 EPOCHS="" LR=3e-3 ANNEAL=1.15 RNN=""
ALPHA="" BETA="" CONFIG=share/configs/ds2-small.ini LANG_ID=en WORK="" VOCAB="" MAX_UTTS=""
DS2=${DS2:-build/ds2}
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
    --lang) LANG_ID=$2; shift 2 ;;
    --max-utts) MAX_UTTS=$2; shift 2 ;;
    --rnn) RNN=$2; shift 2 ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "demo.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$LANG_ID" in
  en) : "${WORK:=work/demo}" "${HOURS:=1.0}" "${VOCAB:=1000}" "${ALPHA:=0.75}" "${BETA:=2}" \
        "${EPOCHS:=8}" ;;
  cmn) : "${WORK:=work/demo-cmn}" "${HOURS:=0.5}" "${VOCAB:=300}" "${ALPHA:=0.5}" "${BETA:=1}" \
         "${EPOCHS:=8}" "${RNN:=rnn}" ;;
  *) echo "demo.sh: --lang must be en or cmn" >&2; exit 2 ;;
esac
corpus_extra=(--lang "$LANG_ID")
[ -n "$MAX_UTTS" ] && corpus_extra+=(--max-utts "$MAX_UTTS")
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
    --noise --vocab "$VOCAB" "${corpus_extra[@]}"
fi
ALPHABET=share/alphabets/en.txt
[ "$LANG_ID" = cmn ] && ALPHABET="$WORK/alphabet.txt"
if [ "$STAGE" -le 2 ] && [ "$LANG_ID" = cmn ]; then
  # The characters of the training text: the train transcripts and lm.txt (every train-split
  # sentence, spoken or not), given to `ds2 alphabet` as a manifest without audio.
  stamp "stage 2: alphabet of the training text"
  { cat "$WORK/corpus/train.tsv"; awk '{ printf "lm-%d.wav\t\t%s\n", NR, $0 }' "$WORK/corpus/lm.txt"; } \
    > "$WORK/alphabet-text.tsv"
  "$DS2" alphabet --manifest "$WORK/alphabet-text.tsv" --no-space --out "$ALPHABET"
fi
if [ "$STAGE" -le 2 ]; then
  for split in train dev; do
    stamp "stage 2: prep $split on $NP ranks"
    extra=()
    if [ "$split" = train ] && [ -n "$AUGMENT" ]; then
      extra=(--augment "$AUGMENT" --noise-manifest "$WORK/corpus/noise.tsv" --babble 3)
    fi
    "${MPIRUN[@]}" "$DS2" prep --manifest "$WORK/corpus/$split.tsv" --out "$WORK/data/$split" \
      --alphabet "$ALPHABET" --shards $((NP * 4)) --threads 1 "${extra[@]}"
  done
  h5dump -H -A 0 "$WORK/data/train/index.h5" >/dev/null && echo "index: $WORK/data/train/index.h5 (h5dump reads it)"
fi
if [ "$STAGE" -le 3 ]; then
  stamp "stage 3: train $(basename "$CONFIG") on $NP ranks, $EPOCHS epochs"
  RUN="$WORK/runs/$(basename "$CONFIG" .ini)"
  resume=()
  [ -f "$RUN/ckpt-last.h5" ] && resume=(--resume)
  # Model overrides: the network's outputs are the alphabet's symbols (blank included; not rules
  # or comments); --rnn picks the recurrent cell (cmn: the simple RNN, see share/demo/README.md).
  size=()
  [ "$LANG_ID" = cmn ] && size=(--model.alphabet_size "$(awk 'length($0) > 0 &&
    !(length($0) >= 2 && ($0 ~ /^#/ || $0 ~ /^@/))' "$ALPHABET" | wc -l)")
  [ -n "$RNN" ] && size+=(--model.rnn_type "$RNN")
  OMP_NUM_THREADS=1 "${MPIRUN[@]}" "$DS2" train --data "$WORK/data/train" --dev "$WORK/data/dev" \
    --config "$CONFIG" --out "$RUN" --epochs "$EPOCHS" --lr "$LR" --anneal "$ANNEAL" \
    --batch-size 16 "${size[@]}" "${resume[@]}"
  echo "dev loss and greedy CER per epoch ($RUN/dev.csv):"
  column -s, -t "$RUN/dev.csv" 2>/dev/null || cat "$RUN/dev.csv"
fi
if [ "$STAGE" -le 4 ] && [ "$LANG_ID" = cmn ]; then
  RUN="$WORK/runs/$(basename "$CONFIG" .ini)"
  stamp "stage 4: character LM and evaluation of dev (CER)"
  mkdir -p "$WORK/lm"
  [ -f "$WORK/lm/chars3.arpa" ] || bash share/lm/build_lm.sh --chars --order 3 \
    --out "$WORK/lm/chars3.arpa" "$WORK/corpus/lm.txt"
  evals=(greedy "--decoder greedy"
         beam "--decoder beam --beam 64 --cum-prob 0.99"
         lm "--decoder beam --beam 64 --cum-prob 0.99 --lm $WORK/lm/chars3.arpa --alpha $ALPHA --beta $BETA")
  for ((i = 0; i < ${#evals[@]}; i += 2)); do
    # shellcheck disable=SC2086  # the options are words
    "${MPIRUN[@]}" "$DS2" eval --model "$RUN/ckpt-best.h5" --data "$WORK/data/dev" \
      --out "$WORK/eval/${evals[i]}" ${evals[i + 1]} -v 0 | sed "s/^/${evals[i]}: /"
  done
  echo "results: $WORK/eval/{greedy,beam,lm}/results.json"
elif [ "$STAGE" -le 4 ]; then
  RUN="$WORK/runs/$(basename "$CONFIG" .ini)"
  stamp "stage 4: LM and evaluation of dev"
  mkdir -p "$WORK/lm"
  # The LM text is every train-split sentence of the corpus (lm.txt, never a dev sentence).
  [ -f "$WORK/lm/lm3.arpa" ] || bash share/lm/build_lm.sh --order 3 --out "$WORK/lm/lm3.arpa" \
    "$WORK/corpus/lm.txt"
  "${MPIRUN[@]}" "$DS2" eval --model "$RUN/ckpt-best.h5" --data "$WORK/data/dev" \
    --out "$WORK/eval/greedy" --decoder greedy -v 0
  "${MPIRUN[@]}" "$DS2" eval --model "$RUN/ckpt-best.h5" --data "$WORK/data/dev" \
    --out "$WORK/eval/lm" --decoder beam --lm "$WORK/lm/lm3.arpa" --beam 64 \
    --alpha "$ALPHA" --beta "$BETA" -v 0
  # A small alpha/beta grid into the SQLite history and the HTML report (with training curves).
  "${MPIRUN[@]}" "$DS2" sweep --models "$RUN/" --checkpoints all --data "$WORK/data/dev" \
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
