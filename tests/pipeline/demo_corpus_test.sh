#!/usr/bin/env bash
# Test of the demo corpus recipe share/demo/make_corpus.py.
# Usage: demo_corpus_test.sh SOURCE_DIR
# Builds tiny corpora and checks, against oracles written here independently of the script:
# determinism (two builds with different --jobs are byte-identical), WAV format via soxi,
# durations against soxi's sample count, transcripts within share/alphabets/en.txt, no sentence
# in both splits, only the allowed voices/speeds/pitches, the --hours stop rule, the cache
# ("cached", nothing rewritten), resume after a lost WAV, the --noise set, and --vocab (closed
# vocabulary, lm.txt without dev sentences, sentences reused with other voices).
# Exits 77 (skipped) when espeak-ng, sox or the fortunes databases are not installed.
set -euo pipefail
export LC_ALL=C

src=${1:?usage: demo_corpus_test.sh SOURCE_DIR}
script="$src/share/demo/make_corpus.py"
alphabet="$src/share/alphabets/en.txt"
for tool in python3 espeak-ng sox soxi; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
[[ -d /usr/share/games/fortunes ]] || { echo "SKIP: fortunes not installed"; exit 77; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
make() { python3 "$script" --max-utts 24 --dev-fraction 0.25 --seed 7 "$@"; }

# --- two builds of the same corpus with different job counts --------------------------------
make --out "$work/a" --jobs 2 --noise 2>"$work/a.log" || { cat "$work/a.log"; fail "build a"; }
make --out "$work/b" --jobs 1 2>"$work/b.log" || { cat "$work/b.log"; fail "build b"; }
for f in train.tsv dev.tsv synthesis.tsv; do
  cmp -s "$work/a/$f" "$work/b/$f" || fail "$f differs between the two builds"
done
(cd "$work/a" && find wav -name '*.wav' | sort | xargs sha256sum) >"$work/a.sha"
(cd "$work/b" && find wav -name '*.wav' | sort | xargs sha256sum) >"$work/b.sha"
cmp -s "$work/a.sha" "$work/b.sha" || fail "WAV bytes differ between the two builds"
[[ $(wc -l <"$work/a.sha") -eq 24 ]] || fail "expected 24 WAVs, got $(wc -l <"$work/a.sha")"
[[ $(wc -l <"$work/a/dev.tsv") -eq 6 && $(wc -l <"$work/a/train.tsv") -eq 18 ]] ||
  fail "expected 18 train + 6 dev rows"

# --- manifests: paths, format, durations, sort order ---------------------------------------
a=$work/a
cut -f1 "$a/train.tsv" "$a/dev.tsv" | sort >"$work/listed"
(cd "$a" && find wav -name '*.wav' | sort) >"$work/found"
cmp -s "$work/listed" "$work/found" || fail "manifest paths and WAV files differ"
for m in train dev; do
  sort -c "$a/$m.tsv" || fail "$m.tsv not sorted by utt_id"
  while IFS=$'\t' read -r path dur text; do
    wav="$a/$path"
    [[ $path == wav/$m/$m-*.wav ]] || fail "$m.tsv: unexpected path $path"
    [[ $(soxi -r "$wav") == 16000 ]] || fail "$path: rate $(soxi -r "$wav")"
    [[ $(soxi -c "$wav") == 1 ]] || fail "$path: channels $(soxi -c "$wav")"
    [[ $(soxi -b "$wav") == 16 ]] || fail "$path: bits $(soxi -b "$wav")"
    [[ $(soxi -e "$wav") == "Signed Integer PCM" ]] || fail "$path: encoding"
    expect=$(awk -v s="$(soxi -s "$wav")" 'BEGIN { printf "%.3f", s / 16000 }')
    [[ $dur == "$expect" ]] || fail "$path: manifest duration $dur, soxi says $expect"
    [[ -n $text && $text != " "* && $text != *" " && $text != *"  "* ]] ||
      fail "$path: badly spaced transcript '$text'"
    words=$(wc -w <<<"$text")
    ((words >= 4 && words <= 20)) || fail "$path: $words words"
  done <"$a/$m.tsv"
done

# --- transcripts use only the alphabet file's symbols ---------------------------------------
chars=$(tail -n +2 "$alphabet" | sed 's/^<space>$/ /' | tr -d '\n')
[[ $(head -1 "$alphabet") == "<blank>" ]] || fail "alphabet does not start with <blank>"
bad=$(cut -f3 "$a/train.tsv" "$a/dev.tsv" | tr -d "$chars" | tr -d '\n')
[[ -z $bad ]] || fail "transcripts hold characters outside the alphabet: '$bad'"

# --- train and dev share no sentence; transcripts are unique ------------------------------
cut -f3 "$a/train.tsv" | sort >"$work/tr.txt"
cut -f3 "$a/dev.tsv" | sort >"$work/dv.txt"
[[ -z $(comm -12 "$work/tr.txt" "$work/dv.txt") ]] || fail "a sentence is in train and dev"
[[ -z $(sort "$work/tr.txt" "$work/dv.txt" | uniq -d) ]] || fail "duplicate transcripts"

# --- voices, speeds and pitches ------------------------------------------------------------
allowed=" "
for lang in en-us en; do
  for v in m1 m2 m3 m4 m5 m6 m7 f1 f2 f3 f4; do allowed+="$lang+$v "; done
done
[[ $(head -1 "$a/synthesis.tsv" | cut -f1-4) == $'utt_id\tvoice\tspeed_wpm\tpitch' ]] ||
  fail "synthesis.tsv header"
[[ $(tail -n +2 "$a/synthesis.tsv" | wc -l) -eq 24 ]] || fail "synthesis.tsv rows"
while IFS=$'\t' read -r utt voice speed pitch dur spoken; do
  [[ $allowed == *" $voice "* ]] || fail "$utt: voice $voice not allowed"
  ((speed >= 140 && speed <= 200)) || fail "$utt: speed $speed"
  ((pitch >= 30 && pitch <= 70)) || fail "$utt: pitch $pitch"
  [[ -n $spoken ]] || fail "$utt: no spoken text"
done < <(tail -n +2 "$a/synthesis.tsv")
[[ $(tail -n +2 "$a/synthesis.tsv" | cut -f2 | sort -u | wc -l) -ge 5 ]] ||
  fail "voices are not varied"

# --- cache: a second run says cached and rewrites nothing --------------------------------
touch -d '1 minute ago' "$work/marker"
find "$a" -exec touch -d '2 minutes ago' {} +
make --out "$a" --jobs 2 --noise 2>"$work/c.log" || { cat "$work/c.log"; fail "cached run"; }
grep -q cached "$work/c.log" || { cat "$work/c.log"; fail "second run did not say cached"; }
[[ -z $(find "$a" -newer "$work/marker" -print -quit) ]] || fail "cached run rewrote files"

# --- resume: a lost WAV is remade identically, the others are kept ------------------------
rm "$work/b/wav/train/train-000003.wav" "$work/b/.complete"
make --out "$work/b" --jobs 2 2>"$work/r.log" || { cat "$work/r.log"; fail "resume run"; }
grep -q "synthesized 1 utterances, reused 23" "$work/r.log" || { cat "$work/r.log"; fail "resume"; }
(cd "$work/b" && find wav -name '*.wav' | sort | xargs sha256sum) >"$work/b2.sha"
cmp -s "$work/a.sha" "$work/b2.sha" || fail "resumed build differs"

# --- noise set -----------------------------------------------------------------------------
[[ $(cut -f3 "$a/noise.tsv" | tr '\n' ' ') == "white pink brown " ]] || fail "noise.tsv labels"
for kind in white pink brown; do
  wav="$a/noise/$kind.wav"
  [[ -f $wav ]] || fail "missing $wav"
  [[ $(soxi -r "$wav") == 16000 && $(soxi -c "$wav") == 1 && $(soxi -b "$wav") == 16 ]] ||
    fail "$kind noise format"
  [[ $(soxi -s "$wav") == 480000 ]] || fail "$kind noise is not 30 s"
  rms=$(sox "$wav" -n stats 2>&1 | awk '/^RMS lev dB/ { print $4 }')
  awk -v r="$rms" 'BEGIN { exit !(r > -20.2 && r < -19.8) }' || fail "$kind RMS $rms dBFS"
done
[[ $(sha256sum <"$a/noise/white.wav") != $(sha256sum <"$a/noise/pink.wav") ]] ||
  fail "white and pink noise are identical"
make --out "$work/b" --jobs 2 --noise 2>"$work/n.log" || { cat "$work/n.log"; fail "noise b"; }
for kind in white pink brown; do
  cmp -s "$a/noise/$kind.wav" "$work/b/noise/$kind.wav" || fail "$kind noise not deterministic"
done

# --- --hours: train stops at the first utterance that reaches the target --------------------
python3 "$script" --out "$work/h" --hours 0.005 --seed 3 --jobs 2 2>"$work/h.log" ||
  { cat "$work/h.log"; fail "hours build"; }
for m in train:18 dev:1.8; do
  split=${m%%:*} target=${m#*:}
  awk -F'\t' -v t="$target" -v s="$split" '
    { last = $2; sum += $2 }
    END { if (NR == 0 || sum < t || sum - last >= t) {
            printf "FAIL: %s has %d utts, %.3f s for target %s s\n", s, NR, sum, t; exit 1 } }
  ' "$work/h/$split.tsv" || exit 1
done
grep -q "sentences available" "$work/h.log" || fail "no sentence count printed"

# --- --vocab K: closed vocabulary, lm.txt, sentences reused with other voices ---------------
# Checks what --vocab promises: at most K word types in all transcripts and lm.txt, lm.txt holds
# every train transcript and no dev sentence, and with few sentences the train split repeats
# sentences, with another voice setting at least once.
python3 "$script" --out "$work/v" --vocab 40 --hours 0.02 --dev-fraction 0.2 --seed 3 \
  --jobs 2 2>"$work/v.log" || { cat "$work/v.log"; fail "vocab build"; }
types=$(cut -f3 "$work/v/train.tsv" "$work/v/dev.tsv" | cat - "$work/v/lm.txt" | tr ' ' '\n' |
  sort -u | grep -c .)
((types <= 40)) || fail "--vocab 40: $types word types"
cut -f3 "$work/v/dev.tsv" | sort -u >"$work/vdev"
sort -u "$work/v/lm.txt" >"$work/vlm"
[[ -z $(comm -12 "$work/vdev" "$work/vlm") ]] || fail "lm.txt holds a dev sentence"
[[ -z $(cut -f3 "$work/v/train.tsv" | sort -u | comm -23 - "$work/vlm") ]] ||
  fail "a train transcript is missing from lm.txt"
n_sent=$(wc -l <"$work/v/lm.txt") n_train=$(wc -l <"$work/v/train.tsv")
((n_train > n_sent)) || fail "expected sentences to be reused ($n_train utts, $n_sent sentences)"
grep -q "spoken .* times on average" "$work/v.log" || fail "reuse not reported"
# A repeated sentence gets another (voice, speed, pitch) at least once.
join -t $'\t' <(tail -n +2 "$work/v/synthesis.tsv" | sort) \
  <(sed 's|^wav/train/\(.*\)\.wav\t|\1\t|' "$work/v/train.tsv" | sort) |
  awk -F'\t' '{ key = $NF; set = $2 " " $3 " " $4; if (key in first && first[key] != set) diff = 1;
                 first[key] = set } END { exit !diff }' || fail "reused sentences keep one voice"

echo "demo corpus test passed"
