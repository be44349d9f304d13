#!/bin/bash
# ds2's prefix beam search against pyctcdecode (+ kenlm) and flashlight-text's lexicon decoder on
# the same stored network outputs and the same ARPA LM: WER (ds2 score, sclite's counts) and ms
# per utterance at each beam, each decoder at its best alpha/beta of a small grid. Not in CI.
#
#   bench/peers/peers.sh --logprobs DEV.h5 --data DATA/dev --lm LM.arpa --python VENV/bin/python
#                        [--ds2 build/ds2] [--out DIR] [--beams 16,64,256]
#                        [--alphas 0.5,0.75,1,1.5] [--betas 0,1,2,4]
#                        [--fl-alphas 0.5,1,1.5,2] [--fl-betas -1,0,1,2] [--core 1|none]
#
# DEV.h5: `ds2 eval --model CKPT --data DATA/dev --save-logprobs DEV.h5` (the demo's model:
# scripts/demo.sh, then that command on its ckpt-best.h5). VENV: a virtual environment outside
# the project with h5py numpy pyctcdecode kenlm flashlight-text (pip). Decoders:
#   ds2             `ds2 decode` (one process, one thread), open vocabulary
#   ds2 -t 10       the same at --beam-threshold 10 (default 15): pyctcdecode's own beam pruning
#                   (beam_prune_logp -10), the peer's default, not ds2's
#   ds2 --lexicon   the same as ds2, only the LM's words can be emitted (--lexicon lm)
#   pyctcdecode     open vocabulary, kenlm on the ARPA file
#   flashlight lex  LexiconDecoder, lexicon = the ARPA's unigrams (its LM weight is on its own
#                   scale, hence its own grid)
# Every decoder runs pinned to one core (--core, taskset; default core 1): unpinned, a single
# pass of `ds2 decode` moved between the two cores of the development machine (with the MPI
# singleton's daemon on the other) and its search time varied 0.54-0.89 ms/utt against a steady
# 0.47-0.50 pinned. ms/utt counts the decode calls only (the LM is loaded before): for ds2 its
# results.json search_seconds (the searches, without the text and the WER alignment that
# decode_seconds also counts). Prints one table per beam and writes DIR/summary.tsv.
set -euo pipefail
cd "$(dirname "$0")/../.."
DS2=build/ds2 OUT=/tmp/ds2-peers BEAMS=16,64,256 ALPHAS=0.5,0.75,1,1.5 BETAS=0,1,2,4
FL_ALPHAS=0.5,1,1.5,2 FL_BETAS=-1,0,1,2 LOGPROBS= DATA= LM= PY= CORE=1
while [ $# -gt 0 ]; do
  case "$1" in
    --logprobs) LOGPROBS=$2; shift 2 ;;
    --data) DATA=$2; shift 2 ;;
    --lm) LM=$2; shift 2 ;;
    --python) PY=$2; shift 2 ;;
    --ds2) DS2=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --beams) BEAMS=$2; shift 2 ;;
    --alphas) ALPHAS=$2; shift 2 ;;
    --betas) BETAS=$2; shift 2 ;;
    --fl-alphas) FL_ALPHAS=$2; shift 2 ;;
    --fl-betas) FL_BETAS=$2; shift 2 ;;
    --core) CORE=$2; shift 2 ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "peers.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
for v in LOGPROBS DATA LM PY; do
  [ -n "${!v}" ] || { echo "peers.sh: --$(echo $v | tr A-Z a-z) is required" >&2; exit 2; }
done
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
PIN=()
if [ "$CORE" != none ]; then
  command -v taskset >/dev/null || { echo "peers.sh: taskset not found (--core none to run unpinned)" >&2; exit 2; }
  PIN=(taskset -c "$CORE")
fi
mkdir -p "$OUT"
: >"$OUT/points.tsv"  # decoder beam alpha beta ms/utt hyp.trn

# ds2: one `ds2 decode` per point; its ref.trn is the reference for every decoder.
for mode in ds2 ds2-t10 ds2-lexicon; do
  extra=()
  [ "$mode" = ds2-t10 ] && extra=(--beam-threshold 10)
  [ "$mode" = ds2-lexicon ] && extra=(--lexicon lm)
  for b in ${BEAMS//,/ }; do for a in ${ALPHAS//,/ }; do for w in ${BETAS//,/ }; do
    d="$OUT/$mode-b$b-a$a-w$w"
    "${PIN[@]}" "$DS2" decode --logprobs "$LOGPROBS" --data "$DATA" --out "$d" --decoder beam --lm "$LM" \
      --beam "$b" --alpha "$a" --beta "$w" "${extra[@]}" -v 0 >/dev/null
    ms=$(python3 -c "import json; r = json.load(open('$d/results.json')); \
print('%.3f' % (1000 * r['search_seconds'] / r['utterances']))")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$b" "$a" "$w" "$ms" "$d/hyp.trn" >>"$OUT/points.tsv"
  done; done; done
done
REF="$OUT/ds2-b${BEAMS%%,*}-a${ALPHAS%%,*}-w${BETAS%%,*}/ref.trn"

"${PIN[@]}" "$PY" bench/peers/peer_decode.py --decoder pyctcdecode --logprobs "$LOGPROBS" --lm "$LM" \
  --out "$OUT/peers" --beams "$BEAMS" --alphas="$ALPHAS" --betas="$BETAS" 2>"$OUT/pyctcdecode.log"
"${PIN[@]}" "$PY" bench/peers/peer_decode.py --decoder flashlight --logprobs "$LOGPROBS" --lm "$LM" \
  --out "$OUT/peers" --beams "$BEAMS" --alphas="$FL_ALPHAS" --betas="$FL_BETAS" \
  2>"$OUT/flashlight.log"
for p in pyctcdecode flashlight; do sed "s/^/$p\t/" "$OUT/peers/$p.tsv" >>"$OUT/points.tsv"; done

# Score every point with `ds2 score`, then the best point per decoder and beam.
: >"$OUT/scored.tsv"
while IFS=$'\t' read -r dec b a w ms trn; do
  line=$("$DS2" score --ref "$REF" --hyp "$trn")  # "WER 10.89% | sub 98 del 9 ins 22 | ..."
  read -r wer sub del ins <<<"$(echo "$line" |
    sed -E 's/^WER ([0-9.]+)% \| sub ([0-9]+) del ([0-9]+) ins ([0-9]+).*/\1 \2 \3 \4/')"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$dec" "$b" "$a" "$w" "$ms" "$wer" "$sub" "$del" \
    "$ins" >>"$OUT/scored.tsv"
done <"$OUT/points.tsv"
python3 - "$OUT/scored.tsv" "$OUT/summary.tsv" <<'EOF'
import sys, collections
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
by = collections.defaultdict(list)
for d, b, a, w, ms, wer, s, de, i in rows:
    by[(int(b), d)].append((float(wer), float(ms), a, w, s, de, i))
names = {"ds2": "ds2", "ds2-t10": "ds2 --beam-threshold 10", "ds2-lexicon": "ds2 --lexicon lm",
         "pyctcdecode": "pyctcdecode",
         "flashlight": "flashlight-text lexicon"}
with open(sys.argv[2], "w") as out:
    out.write("beam\tdecoder\talpha\tbeta\twer\tsub\tdel\tins\tms_utt\tgrid_wer_min\tgrid_wer_max\n")
    for beam in sorted({k[0] for k in by}):
        print(f"beam {beam}: best alpha/beta of the grid (WER range over the grid)")
        print(f"  {'decoder':<24} {'alpha':>5} {'beta':>5} {'WER':>7} {'sub/del/ins':>12}"
              f" {'ms/utt':>8} {'grid WER':>14}")
        for d in ("ds2", "ds2-t10", "ds2-lexicon", "pyctcdecode", "flashlight"):
            pts = by.get((beam, d))
            if not pts:
                continue
            wer, ms, a, w, s, de, i = min(pts, key=lambda p: (p[0], p[1]))
            lo, hi = min(p[0] for p in pts), max(p[0] for p in pts)
            print(f"  {names[d]:<24} {a:>5} {w:>5} {wer:>6.2f}% {s + '/' + de + '/' + i:>12}"
                  f" {ms:>8.3f} {lo:>6.2f}-{hi:.2f}%")
            out.write(f"{beam}\t{d}\t{a}\t{w}\t{wer}\t{s}\t{de}\t{i}\t{ms}\t{lo}\t{hi}\n")
EOF
