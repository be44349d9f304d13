#!/usr/bin/env bash
# Builds a word (or character) n-gram language model in ARPA format from training transcripts
# with IRSTLM (Debian package irstlm: build-lm.sh, then compile-lm --text=yes), for `ds2 eval --lm`.
#
# Usage: share/lm/build_lm.sh [--order N] [--smoothing S] [--no-normalize] [--chars]
#                             --out LM.arpa INPUT...
#   INPUT         a TSV manifest (path<TAB>duration<TAB>transcript; *.tsv: the third column is
#                 used) or plain text, one sentence per line. Several inputs are concatenated.
#   --order N     n-gram order (default 3)
#   --smoothing S IRSTLM smoothing: witten-bell (default), kneser-ney, improved-kneser-ney,
#                 shift-beta, ... (see build-lm.sh -h)
#   --no-normalize  take the text as it is. By default it is normalized like the English
#                 alphabet's rules (pipeline/alphabet.h): ASCII lower-cased, - _ / as spaces,
#                 other ASCII punctuation but the apostrophe dropped, spaces squeezed -- so the
#                 LM's words match what the decoder spells.
#   --chars       a character LM, for alphabets without a space (Mandarin): every character is
#                 a token. Normalized (unless --no-normalize) as the alphabet's default rules do
#                 it: NFKC + case folding, ANSI escape sequences (fortunes-zh) removed,
#                 punctuation, symbols, spaces and control characters dropped. The decoder
#                 scores characters with it when the alphabet has no <space> (decode/ctc_decode.h).
# Sentences get <s> ... </s> (add-start-end.sh); the result has <s>, </s> and <unk>.
# A large LM is best compiled once: `ds2 lm compile LM.arpa LM.bin` writes the memory-mapped
# binary form (decode/compiled_lm.h: opens in O(header), shared by the ranks of a node, the
# same scores); `--lm LM.bin` then takes it wherever `--lm LM.arpa` was given.
set -euo pipefail

order=3
smoothing=witten-bell
normalize=1
chars=0
out=""
inputs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --order) order="$2"; shift 2 ;;
    --smoothing) smoothing="$2"; shift 2 ;;
    --no-normalize) normalize=0; shift ;;
    --chars) chars=1; shift ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "build_lm.sh: unknown option $1" >&2; exit 2 ;;
    *) inputs+=("$1"); shift ;;
  esac
done
[ -n "$out" ] || { echo "build_lm.sh: --out LM.arpa is required" >&2; exit 2; }
[ ${#inputs[@]} -gt 0 ] || { echo "build_lm.sh: no input files" >&2; exit 2; }
[[ "$order" =~ ^[1-9][0-9]*$ ]] || { echo "build_lm.sh: --order must be a positive integer" >&2; exit 2; }

export IRSTLM="${IRSTLM:-/usr/lib/irstlm}"
export PATH="$IRSTLM/bin:$PATH"
for tool in build-lm.sh compile-lm add-start-end.sh; do
  command -v "$tool" > /dev/null || {
    echo "build_lm.sh: $tool not found: install IRSTLM (apt-get install irstlm)" >&2; exit 3; }
done

tmp="$(mktemp -d "${TMPDIR:-/tmp}/ds2-lm.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

for f in "${inputs[@]}"; do
  [ -r "$f" ] || { echo "build_lm.sh: cannot read $f" >&2; exit 2; }
  case "$f" in
    *.tsv) cut -f3 "$f" ;;
    *) cat "$f" ;;
  esac
done > "$tmp/raw.txt"

if [ "$chars" = 1 ]; then
  # One sentence per line, its characters separated by spaces.
  command -v python3 > /dev/null || { echo "build_lm.sh: --chars needs python3" >&2; exit 3; }
  python3 -c '
import re, sys, unicodedata
normalize = sys.argv[1] == "1"
ansi = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
for line in open(sys.argv[2], encoding="utf-8", errors="replace"):
    if normalize:
        line = unicodedata.normalize("NFKC", ansi.sub("", line)).casefold()
        kept = [ch for ch in line if unicodedata.category(ch)[0] not in "PSZC"]
    else:
        kept = [ch for ch in line if not ch.isspace()]
    print(" ".join(kept))
' "$normalize" "$tmp/raw.txt" > "$tmp/text.txt"
elif [ "$normalize" = 1 ]; then
  LC_ALL=C tr 'A-Z' 'a-z' < "$tmp/raw.txt" | LC_ALL=C sed -e "s/[-_/]/ /g" \
    -e "s/[!\"#$%&()*+,.:;<=>?@^\`{|}~]//g" -e 's/\[//g; s/\]//g; s/\\//g' \
    -e 's/[[:space:]]\+/ /g; s/^ //; s/ $//' > "$tmp/text.txt"
else
  cp "$tmp/raw.txt" "$tmp/text.txt"
fi
grep -v '^[[:space:]]*$' "$tmp/text.txt" > "$tmp/text.nonempty" || {
  echo "build_lm.sh: no text in ${inputs[*]}" >&2; exit 2; }

add-start-end.sh < "$tmp/text.nonempty" > "$tmp/text.se"
build-lm.sh -i "$tmp/text.se" -n "$order" -o "$tmp/lm.ilm.gz" -k 1 -s "$smoothing" \
  -t "$tmp/stat" > "$tmp/build.log" 2>&1 || {
  echo "build_lm.sh: IRSTLM build-lm.sh failed:" >&2; cat "$tmp/build.log" >&2; exit 1; }
compile-lm --text=yes "$tmp/lm.ilm.gz" "$tmp/lm.arpa" > "$tmp/compile.log" 2>&1 || {
  echo "build_lm.sh: IRSTLM compile-lm failed:" >&2; cat "$tmp/compile.log" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
mv "$tmp/lm.arpa" "$out.tmp" && mv "$out.tmp" "$out"
unit=words; [ "$chars" = 1 ] && unit=characters
echo "build_lm.sh: wrote $out ($(grep -m3 '^ngram' "$out" | tr -s ' ' | paste -sd' '); order $order over $unit, $smoothing, $(wc -l < "$tmp/text.nonempty") sentences)"
