#!/usr/bin/env python3
"""Synthesize the ds2 demo corpus: labelled English (or Mandarin) speech made with espeak-ng.

Recipe (deterministic from --seed; the output does not depend on --jobs):
  1. Text: every entry of the Debian fortunes databases (/usr/share/games/fortunes, entries
     separated by lines of '%'; the .dat indexes, the .u8 links and the offensive off/ folder
     are skipped) is cut into sentences. A sentence is kept when it reads as natural English:
     starts with a capital, ends with . ! or ?, 4-20 words, every word dictionary-like, no
     digits, URLs, code, ASCII art, abbreviations, ALL-CAPS words or attribution lines.
     Transcripts are normalized to the ds2 English alphabet (share/alphabets/en.txt: a-z,
     space, apostrophe): lowercase, hyphens/dashes -> space, other punctuation dropped,
     apostrophes kept inside words only, spaces collapsed. Duplicates (same transcript) are
     dropped. With --vocab K only sentences whose words are all among the K most frequent words
     of that text are kept (a closed-vocabulary task; the demo uses K = 1000).
  2. Split by sentence: a sentence is in dev iff sha256(seed, transcript) < dev_fraction, so
     no sentence is in both splits. Each split is ordered by sha256(seed, split, transcript).
  3. Utterance i of a split speaks the i-th sentence with a voice, speed and pitch drawn from
     random.Random(sha256(seed, split, i)): voice from en-us and en (British) with the variants
     m1-m7 and f1-f4 only (every other espeak-ng voice and every other TTS engine is kept out
     of training data for robustness evaluation), speed 140-200 wpm, pitch 30-70.
     espeak-ng writes 22.05 kHz audio; sox (no dither, repeatable) converts it to 16 kHz mono
     16-bit WAV: wav/<split>/<utt_id>.wav.
  4. Size: train utterances are taken in order until train audio reaches --hours; dev until
     it reaches --hours * --dev-fraction (or --max-utts in all, if given). When a split has
     fewer sentences than that needs, utterance i speaks sentence i mod n (another voice).
  5. Outputs: train.tsv and dev.tsv (ds2 TSV manifests: path relative to the manifest, TAB,
     duration in seconds from the WAV header with 3 decimals, TAB, transcript; rows sorted by
     utt_id), lm.txt (every train-split sentence, spoken or not: LM text that never holds a
     dev sentence), synthesis.tsv (voice/speed/pitch per utterance), README.txt, and with --noise
     noise/{white,pink,brown}.wav + noise.tsv (sox synth, repeatable RNG, cut at a seeded
     offset, scaled to -20 dBFS RMS) unless real noise files are given with --noise-files.
Mandarin (--lang cmn): the text is fortunes-zh's (share/demo/cmn_text.py: sentences of 4-20
CJK characters, transcripts without spaces), --vocab K keeps the sentences whose characters are
all among the K most frequent, and the voices are espeak-ng's cmn-latn-pinyin with the same
variants, speeds and pitches: espeak-ng 1.51's cmn dictionary turns every character into its
pinyin syllable with a tone number, which this voice speaks as Mandarin (the plain cmn voice
reads it as English, "bu four" for 不, for 4,739 of fortunes-zh's 5,566 characters).
Caching: .complete holds a key of (script version, seed, hours, dev fraction, max utts, noise,
espeak-ng and sox versions); a matching key ends the run at once ("cached"). Every WAV is
written under a temporary name and renamed; .journal.tsv records the parameter hash of each
finished WAV so a killed run resumes and keeps the WAVs whose parameters still match.
"""

import argparse
import array
import concurrent.futures as cf
import functools
import hashlib
import json
import operator
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
import wave

import cmn_text

SCRIPT_VERSION = 3  # bump whenever the output for the same settings changes (part of the cache key)
FORTUNES_DIR = "/usr/share/games/fortunes"
SAMPLE_RATE = 16000
LANGUAGES = ("en-us", "en")
VARIANTS = tuple(f"m{i}" for i in range(1, 8)) + tuple(f"f{i}" for i in range(1, 5))
VOICES = tuple(f"{lang}+{var}" for lang in LANGUAGES for var in VARIANTS)
SPEED_RANGE = (140, 200)  # words per minute, inclusive
PITCH_RANGE = (30, 70)  # espeak-ng pitch 0-99, inclusive
MIN_WORDS, MAX_WORDS = 4, 20
NOISE_TYPES = ("white", "pink", "brown")
NOISE_SECONDS = 30
NOISE_RMS_DBFS = -20.0
DEFAULT_ALPHABET = ["<blank>", "<space>", "'"] + [chr(c) for c in range(ord("a"), ord("z") + 1)]
HERE = os.path.dirname(os.path.abspath(__file__))
ALPHABET_PATH = os.path.join(HERE, "..", "alphabets", "en.txt")

# Abbreviations that espeak-ng expands (Mr. -> mister) so the transcript would not match.
_ABBREV = re.compile(
    r"\b(?:mr|mrs|ms|dr|st|jr|sr|prof|vs|etc|inc|ltd|co|mt|no|gen|col|capt|lt|sgt|rev|ave|"
    r"dept|univ|vol|ch|fig|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|approx|esp|"
    r"adj|adv|prep|pron|conj|interj|abbr|cf|viz|pp|pl|syn|ca|ibid|op|cit|al|"
    r"[a-z])\.", re.IGNORECASE)
_BAD_TOKEN = re.compile(r"(?:https?:|www\.|\.com\b|\.org\b|\.net\b|::|->|=>|\(\)|;\s*$)")
_SENTENCE_SPLIT = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"']))\s+")
_ALLOWED_CHARS = re.compile(r"^[A-Za-z .,;:!?'\"-]+$")
_UNICODE_MAP = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                              "\u2013": "-", "\u2014": "-", "\u00a0": " ", "`": "'"})
_WORD = re.compile(r"^[a-z]+(?:'[a-z]+)?$")
_FORBIDDEN_WORDS = {"mr", "mrs", "ms", "dr", "st", "jr", "sr", "vs", "etc", "ok", "ie", "eg",
                    "prof", "inc", "ltd", "tv", "pc", "cd", "dvd", "usa", "uk", "nyc"}


class RecipeError(Exception):
    """A one-line, user-facing error."""


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- text


def load_alphabet():
    """Returns the set of transcript characters of share/alphabets/en.txt (blank excluded)."""
    symbols = DEFAULT_ALPHABET
    if os.path.exists(ALPHABET_PATH):
        with open(ALPHABET_PATH, encoding="utf-8") as f:
            symbols = [line.rstrip("\n") for line in f if line.rstrip("\n")]
    chars = set()
    for s in symbols[1:]:
        chars.add(" " if s == "<space>" else s)
    return chars


def normalize(text):
    """Maps text to the ds2 English alphabet: a-z, space, word-internal apostrophe."""
    t = text.translate(_UNICODE_MAP).lower()
    t = re.sub(r"-+", " ", t)
    t = re.sub(r"[^a-z' ]", " ", t)
    t = re.sub(r"(?<![a-z])'|'(?![a-z])", " ", t)  # keep apostrophes only between letters
    return " ".join(t.split())


def spoken_form(sentence):
    """The text given to espeak-ng: same words as the transcript, prosodic punctuation kept."""
    t = sentence.translate(_UNICODE_MAP)
    t = re.sub(r"\s*--+\s*", ", ", t)
    t = t.replace("-", " ").replace('"', "")
    t = re.sub(r"(?<![A-Za-z])'|'(?![A-Za-z])", "", t)
    return " ".join(t.split())


_VOWEL = re.compile(r"[aeiouy]")
_CONSONANT_RUN = re.compile(r"[^aeiouy']{6,}")
_TRIPLE = re.compile(r"(.)\1\1")


@functools.lru_cache(maxsize=None)
def word_ok(word):
    """True for a dictionary-like lowercase word that espeak-ng reads as a word."""
    if not _WORD.match(word) or len(word) > 15 or word in _FORBIDDEN_WORDS:
        return False
    if len(word) == 1:
        return word in ("a", "i")
    if not _VOWEL.search(word):
        return False
    return not (_CONSONANT_RUN.search(word) or _TRIPLE.search(word))


def sentence_ok(raw, alphabet):
    """True when `raw` (one sentence, original case/punctuation) is natural English to keep."""
    s = raw.translate(_UNICODE_MAP).strip()
    if not _ALLOWED_CHARS.match(s) or _BAD_TOKEN.search(s):
        return False
    if not re.match(r"^[\"']?[A-Z]", s) or not re.search(r"[.!?][\"']?$", s):
        return False
    if re.match(r"^[A-Z]:", s):
        return False  # dialogue label ("A: ...", "Q: ...")
    for tok in re.findall(r"[A-Za-z]+", s):
        if tok != "I" and len(tok) >= 2 and tok.isupper():
            return False  # ALL-CAPS word: acronym or shouting, espeak may spell it out
    norm = normalize(s)
    words = norm.split()
    if not MIN_WORDS <= len(words) <= MAX_WORDS:
        return False
    if not all(word_ok(w) for w in words):
        return False
    return set(norm) <= alphabet


def fortune_files(root):
    out = []
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name)
        if name.endswith(".dat") or os.path.islink(path) or not os.path.isfile(path):
            continue  # skips indexes, the .u8 links and the off/ folder
        if name in cmn_text.ZH_FILES:
            continue  # fortunes-zh (--lang cmn)
        out.append(path)
    return out


def entry_sentences(entry):
    """Yields the candidate sentences of one fortune entry."""
    lines = []
    for line in entry.split("\n"):
        st = line.strip()
        if not st:
            continue
        if re.match(r"^(?:--|\u2014|- |~)", st) or re.match(r"^\s{8,}\S", line) and "--" in st:
            continue  # attribution line ("-- Author")
        if re.search(r"[_|/\\<>{}\[\]#@*=~^+$%&]", st):
            return  # ASCII art, code or markup somewhere in the entry: drop the entry
        lines.append(st)
    if len(lines) > 1 and len(lines[0].split()) <= 3 and not re.search(r"[.!?:,;\"']$", lines[0]):
        lines = lines[1:]  # a title line ("Restraint") would run into the first sentence
    text = " ".join(lines)
    if _ABBREV.search(text):
        return  # an abbreviation or initial splits sentences wrongly and is expanded by espeak
    for s in _SENTENCE_SPLIT.split(text):
        yield s.strip()


def collect_sentences(root, alphabet):
    """Returns ({transcript: spoken text}, files read, entries read), deduplicated by transcript."""
    files = fortune_files(root)
    if not files:
        raise RecipeError(f"no fortunes databases in {root}: install the Debian packages "
                          "fortunes and fortune-mod (scripts/install-deps.sh)")
    kept = {}
    entries = 0
    for path in files:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        for entry in re.split(r"(?m)^%\s*$", text):
            entries += 1
            for s in entry_sentences(entry):
                if sentence_ok(s, alphabet):
                    norm = normalize(s)
                    if norm not in kept:
                        kept[norm] = spoken_form(s)
    return kept, len(files), entries


# ----------------------------------------------------------------------------- plan


def limit_vocabulary(pool, k):
    """Keeps the sentences of pool whose words are all among the k most frequent words.

    Word frequency counts every word of every pooled sentence; ties are broken alphabetically,
    so the vocabulary is deterministic. Returns (kept pool, vocabulary size actually used).
    """
    counts = {}
    for norm in pool:
        for w in norm.split():
            counts[w] = counts.get(w, 0) + 1
    ranked = sorted(counts, key=lambda w: (-counts[w], w))
    vocab = set(ranked[:k])
    kept = {t: sp for t, sp in pool.items() if all(w in vocab for w in t.split())}
    return kept, len(vocab)


def h64(*parts):
    """Deterministic 64-bit hash of the parts (independent of PYTHONHASHSEED)."""
    data = "\x1f".join(str(p) for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.sha256(data).digest()[:8], "big")


def split_sentences(sentences, seed, dev_fraction):
    """Returns {"train": [...], "dev": [...]} of transcripts, each in its seeded order."""
    splits = {"train": [], "dev": []}
    for norm in sentences:
        is_dev = h64("split", seed, norm) < dev_fraction * 2.0**64
        splits["dev" if is_dev else "train"].append(norm)
    for name, items in splits.items():
        items.sort(key=lambda t: (h64("order", seed, name, t), t))
    return splits


def utt_params(seed, split, index, voices=VOICES):
    rng = random.Random(h64("utt", seed, split, index))
    voice = voices[rng.randrange(len(voices))]
    speed = SPEED_RANGE[0] + rng.randrange(SPEED_RANGE[1] - SPEED_RANGE[0] + 1)
    pitch = PITCH_RANGE[0] + rng.randrange(PITCH_RANGE[1] - PITCH_RANGE[0] + 1)
    return voice, speed, pitch


# ----------------------------------------------------------------------------- tools


def tool_version(cmd):
    """First line of `cmd`'s output, spaces collapsed; a missing tool is a RecipeError."""
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise RecipeError(f"{cmd[0]} not found: install it with scripts/install-deps.sh") from None
    text = (r.stdout + r.stderr).strip()
    return " ".join(text.splitlines()[0].split()) if text else ""


def check_voices():
    """Fails unless espeak-ng has the languages en-us, en and the variants m1-m7, f1-f4."""
    out = subprocess.run(["espeak-ng", "--voices=variant"], capture_output=True, text=True).stdout
    have = set()
    for line in out.splitlines()[1:]:
        cols = line.split()
        if len(cols) >= 5:
            have.add(cols[4].split("/")[-1])
    missing = [v for v in VARIANTS if v not in have]
    langs = subprocess.run(["espeak-ng", "--voices=en"], capture_output=True, text=True).stdout
    codes = {line.split()[1] for line in langs.splitlines()[1:] if len(line.split()) > 1}
    missing += [lang for lang in LANGUAGES if lang not in codes and lang != "en"]
    if missing:
        raise RecipeError("espeak-ng lacks voices " + ", ".join(missing) +
                          ": reinstall espeak-ng (scripts/install-deps.sh)")


def wav_duration(path):
    with wave.open(path, "rb") as w:
        return w.getnframes() / w.getframerate()


def check_wav_format(path):
    with wave.open(path, "rb") as w:
        return (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, SAMPLE_RATE)


# ----------------------------------------------------------------------------- synthesis


class Synthesizer:
    """Makes WAVs in parallel; records each finished one in the resume journal."""

    def __init__(self, out, espeak_version):
        self.out = out
        self.tmp = os.path.join(out, ".tmp")
        os.makedirs(self.tmp, exist_ok=True)
        self.espeak_version = espeak_version
        self.journal_path = os.path.join(out, ".journal.tsv")
        self.journal = {}
        if os.path.exists(self.journal_path):
            with open(self.journal_path, encoding="utf-8") as f:
                for line in f:
                    cols = line.rstrip("\n").split("\t")
                    if len(cols) == 2 and len(cols[1]) == 64:
                        self.journal[cols[0]] = cols[1]
        self.lock = threading.Lock()
        self.journal_file = open(self.journal_path, "a", encoding="utf-8")
        self.reused = 0

    def close(self):
        self.journal_file.close()

    def key(self, spoken, voice, speed, pitch):
        data = json.dumps([SCRIPT_VERSION, self.espeak_version, spoken, voice, speed, pitch])
        return hashlib.sha256(data.encode("utf-8")).hexdigest()

    def make(self, rel_path, spoken, voice, speed, pitch):
        """Writes out/rel_path unless a matching one exists; returns its duration in seconds."""
        path = os.path.join(self.out, rel_path)
        key = self.key(spoken, voice, speed, pitch)
        if self.journal.get(rel_path) == key and os.path.exists(path):
            try:
                if check_wav_format(path):
                    with self.lock:
                        self.reused += 1
                    return wav_duration(path)
            except (wave.Error, EOFError):
                pass
        stem = os.path.basename(rel_path)[:-4]
        raw = os.path.join(self.tmp, stem + ".22k.wav")
        part = path + ".part"
        os.makedirs(os.path.dirname(path), exist_ok=True)
        r = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch),
                            "-w", raw, "--stdin"], input=spoken.encode("utf-8"),
                           capture_output=True)
        if r.returncode != 0:
            raise RecipeError(f"espeak-ng failed on {rel_path} (voice {voice}): "
                              + r.stderr.decode(errors="replace").strip().replace("\n", " "))
        # -R: repeatable RNG, -D: no dither, so the bytes depend only on the input.
        r = subprocess.run(["sox", "-R", "-D", "-V1", raw, "-r", str(SAMPLE_RATE), "-c", "1",
                            "-b", "16", "-e", "signed-integer", "-t", "wav", part],
                           capture_output=True)
        os.remove(raw)
        if r.returncode != 0:
            raise RecipeError(f"sox failed on {rel_path}: "
                              + r.stderr.decode(errors="replace").strip().replace("\n", " "))
        duration = wav_duration(part)
        if duration < 0.2:
            raise RecipeError(f"espeak-ng made {duration:.3f} s of audio for {rel_path}: "
                              f"{spoken!r}")
        os.replace(part, path)
        with self.lock:
            self.journal_file.write(f"{rel_path}\t{key}\n")
            self.journal_file.flush()
        return duration


class Progress:
    def __init__(self, target_seconds, max_count=None):
        self.target = target_seconds
        self.max_count = max_count
        self.count = 0
        self.start = time.monotonic()
        self.last = 0.0
        self.audio = 0.0

    def add(self, label, count, seconds, force=False):
        self.audio += seconds
        self.count += 1 if seconds > 0 else 0
        now = time.monotonic()
        if not force and now - self.last < 2.0:
            return
        self.last = now
        wall = max(now - self.start, 1e-6)
        frac = min(self.audio / self.target, 1.0) if self.target > 0 else 1.0
        if self.max_count:
            frac = max(frac, min(self.count / self.max_count, 1.0))
        eta = wall * (1 - frac) / frac if frac > 0 else 0.0
        cap = f" (cap {self.max_count} utts)" if self.max_count else ""
        log(f"[make_corpus] {label}: {count} utts, {self.audio / 3600:.3f} h of "
            f"~{self.target / 3600:.3f} h{cap}, {self.audio / wall:.1f}x realtime, "
            f"ETA {int(eta) // 60}m{int(eta) % 60:02d}s")


def synthesize_split(synth, split, sentences, pool, seed, target_s, max_utts, jobs, progress,
                     voices=VOICES):
    """Synthesizes utterances 0.. of a split in order until target_s or max_utts is reached.

    Work is submitted in a window of 2*jobs and consumed in index order, so the stop point and
    every file are the same for any job count. Returns a list of row dicts.
    """
    rows = []
    total = 0.0
    pending = {}
    next_index = 0
    # With fewer sentences than the target needs, utterance i speaks sentence i mod n: a later
    # pass repeats the split's sentences with other voices, speeds and pitches (drawn from i).
    limit = 1 << 40 if max_utts is None else max_utts
    if not sentences:
        limit = 0

    def submit(i):
        voice, speed, pitch = utt_params(seed, split, i, voices)
        utt_id = f"{split}-{i:06d}"
        rel = f"wav/{split}/{utt_id}.wav"
        text = sentences[i % len(sentences)]
        spoken = pool[text]
        fut = ex.submit(synth.make, rel, spoken, voice, speed, pitch)
        pending[i] = (fut, dict(utt_id=utt_id, path=rel, text=text, spoken=spoken,
                                voice=voice, speed=speed, pitch=pitch))

    with cf.ThreadPoolExecutor(max_workers=jobs) as ex:
        i = 0
        try:
            while i < limit and total < target_s:
                while next_index < limit and len(pending) < 2 * jobs:
                    submit(next_index)
                    next_index += 1
                fut, row = pending.pop(i)
                row["duration"] = round(fut.result(), 3)
                total += row["duration"]
                rows.append(row)
                progress.add(split, len(rows), row["duration"])
                i += 1
        finally:
            for fut, _ in pending.values():
                fut.cancel()
    if len(rows) > len(sentences):
        log(f"[make_corpus] {split}: {len(sentences)} sentences spoken "
            f"{len(rows) / len(sentences):.2f} times on average, each time by another voice")
    return rows


# ----------------------------------------------------------------------------- noise


def read_pcm16(path):
    with wave.open(path, "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        samples = array.array("h", w.readframes(w.getnframes()))
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def make_noise(out, seed, noise_files):
    """Writes noise/*.wav and noise.tsv; returns the rows."""
    ndir = os.path.join(out, "noise")
    os.makedirs(ndir, exist_ok=True)
    rows = []
    if noise_files:
        for src in noise_files:
            label = re.sub(r"[^A-Za-z0-9_-]", "_", os.path.splitext(os.path.basename(src))[0])
            dst = os.path.join(ndir, label + ".wav")
            r = subprocess.run(["sox", "-R", "-D", "-V1", src, "-r", str(SAMPLE_RATE), "-c", "1",
                                "-b", "16", "-e", "signed-integer", "-t", "wav", dst + ".part"],
                               capture_output=True)
            if r.returncode != 0:
                raise RecipeError(f"sox cannot read noise file {src}: "
                                  + r.stderr.decode(errors="replace").strip().split("\n")[0])
            os.replace(dst + ".part", dst)
            rows.append((f"noise/{label}.wav", wav_duration(dst), label))
        return rows
    target_rms = 32768.0 * 10 ** (NOISE_RMS_DBFS / 20)
    for kind in NOISE_TYPES:
        # sox -R makes synth's RNG repeatable; the seed picks where the 30 s are cut out.
        offset_ms = random.Random(h64("noise", seed, kind)).randrange(10000)
        offset = offset_ms * SAMPLE_RATE // 1000
        raw = os.path.join(ndir, kind + ".raw.wav")
        length = f"{NOISE_SECONDS + 1 + offset_ms // 1000}.{offset_ms % 1000:03d}"
        r = subprocess.run(["sox", "-R", "-D", "-V1", "-n", "-r", str(SAMPLE_RATE), "-c", "1",
                            "-b", "16", "-e", "signed-integer", "-t", "wav", raw, "synth",
                            length, kind + "noise"], capture_output=True)
        if r.returncode != 0:
            raise RecipeError("sox synth failed: " + r.stderr.decode(errors="replace").strip())
        n = NOISE_SECONDS * SAMPLE_RATE
        x = read_pcm16(raw)[offset:offset + n]
        if len(x) != n:
            os.remove(raw)
            raise RecipeError(f"sox synth made {len(x) + offset} samples, too few, for {kind}")
        rms = (sum(map(operator.mul, x, x)) / n) ** 0.5
        dst = os.path.join(ndir, kind + ".wav")
        # Cut the n samples at the seeded offset and scale them to the target RMS (no dither).
        r = subprocess.run(["sox", "-R", "-D", "-V1", raw, "-t", "wav", dst + ".part", "trim",
                            f"{offset}s", f"{n}s", "vol", f"{target_rms / max(rms, 1e-9):.6f}"],
                           capture_output=True)
        os.remove(raw)
        if r.returncode != 0:
            raise RecipeError("sox vol failed: " + r.stderr.decode(errors="replace").strip())
        os.replace(dst + ".part", dst)
        rows.append((f"noise/{kind}.wav", wav_duration(dst), kind))
    return rows


# ----------------------------------------------------------------------------- outputs


def write_text_atomic(path, text):
    part = path + ".part"
    with open(part, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    os.replace(part, path)


def manifest_text(rows):
    return "".join(f"{r['path']}\t{r['duration']:.3f}\t{r['text']}\n"
                   for r in sorted(rows, key=lambda r: r["utt_id"]))


def remove_strays(out, keep):
    """Deletes WAVs under wav/ that are not in the manifests (extra or older utterances)."""
    for split in ("train", "dev"):
        d = os.path.join(out, "wav", split)
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            if f"wav/{split}/{name}" not in keep:
                os.remove(os.path.join(d, name))


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Synthesize the ds2 demo corpus (espeak-ng speech of fortunes sentences, "
                    "16 kHz WAV + TSV manifests). Deterministic from --seed; cached in --out.")
    p.add_argument("--out", required=True, help="output folder (created)")
    p.add_argument("--hours", type=float, default=1.0, help="train audio hours (default 1.0)")
    p.add_argument("--seed", type=int, default=1, help="seed for split, order, voices (1)")
    p.add_argument("--dev-fraction", type=float, default=0.1,
                   help="share of sentences held out for dev; dev audio is about "
                        "hours * this (default 0.1)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                   help="parallel synthesis jobs (default: number of CPUs)")
    p.add_argument("--noise", action="store_true",
                   help="also write noise/{white,pink,brown}.wav and noise.tsv")
    p.add_argument("--noise-files", nargs="+", metavar="FILE",
                   help="with --noise: real noise recordings to convert instead of synth noise")
    p.add_argument("--max-utts", type=int, help="cap on utterances in all (train + dev)")
    p.add_argument("--lang", choices=("en", "cmn"), default="en",
                   help="en: English fortunes (default); cmn: Mandarin from fortunes-zh, "
                        "--vocab counting characters")
    p.add_argument("--fortunes", default=FORTUNES_DIR, help=f"text source ({FORTUNES_DIR})")
    p.add_argument("--vocab", type=int, default=0, metavar="K",
                   help="keep only sentences whose words are all among the K most frequent "
                        "words of the filtered text (a closed-vocabulary task like DARPA "
                        "Resource Management's 1,000 words); 0: no limit (default)")
    a = p.parse_args(argv)
    if a.vocab < 0:
        p.error("--vocab must be >= 0")
    if a.hours <= 0:
        p.error("--hours must be > 0")
    if not 0 <= a.dev_fraction < 1:
        p.error("--dev-fraction must be in [0, 1)")
    if a.jobs < 1:
        p.error("--jobs must be >= 1")
    if a.max_utts is not None and a.max_utts < 1:
        p.error("--max-utts must be >= 1")
    if a.noise_files and not a.noise:
        p.error("--noise-files needs --noise")
    return a


def run(a):
    t0 = time.monotonic()
    espeak_version = tool_version(["espeak-ng", "--version"]).split(" Data at:")[0]
    sox_version = tool_version(["sox", "--version"])
    out = os.path.abspath(a.out)
    noise_key = None
    if a.noise:
        noise_key = [os.path.abspath(f) for f in a.noise_files] if a.noise_files else "synth"
    lang_key = {}
    if a.lang == "cmn":
        lang_key = {"lang": a.lang, "voice": cmn_text.VOICE}
    key = json.dumps(dict(version=SCRIPT_VERSION, seed=a.seed, hours=a.hours,
                          dev_fraction=a.dev_fraction, max_utts=a.max_utts, noise=noise_key,
                          vocab=a.vocab, **lang_key,
                          fortunes=os.path.abspath(a.fortunes), espeak=espeak_version,
                          sox=sox_version), sort_keys=True)
    stamp = os.path.join(out, ".complete")
    if os.path.exists(stamp):
        with open(stamp, encoding="utf-8") as f:
            if f.read().strip() == key:
                log(f"[make_corpus] cached: {out} is complete for these settings")
                return
    if a.lang == "cmn":
        have = subprocess.run(["espeak-ng", "--voices=cmn"], capture_output=True, text=True).stdout
        if f" {cmn_text.VOICE} " not in have:
            raise RecipeError(f"espeak-ng lacks the voice {cmn_text.VOICE}: reinstall "
                              "espeak-ng-data")
    check_voices()
    os.makedirs(out, exist_ok=True)
    if os.path.exists(stamp):
        os.remove(stamp)

    voices = VOICES
    if a.lang == "cmn":
        voices = cmn_text.VOICES
        try:
            pool, nfiles, nentries = cmn_text.collect_sentences(a.fortunes)
        except FileNotFoundError as e:
            raise RecipeError(str(e)) from None
        if a.vocab:
            pool, used = cmn_text.limit_characters(pool, a.vocab)
            log(f"[make_corpus] --vocab {a.vocab}: {len(pool)} sentences use only the "
                f"{used} most frequent characters")
    else:
        pool, nfiles, nentries = collect_sentences(a.fortunes, load_alphabet())
    if a.vocab and a.lang == "en":
        pool, vocab_used = limit_vocabulary(pool, a.vocab)
        log(f"[make_corpus] --vocab {a.vocab}: {len(pool)} sentences use only the "
            f"{vocab_used} most frequent words")
    splits = split_sentences(pool, a.seed, a.dev_fraction)
    log(f"[make_corpus] {len(pool)} sentences available from {nentries} entries in {nfiles} "
        f"fortunes files ({len(splits['train'])} train, {len(splits['dev'])} dev)")

    targets = {"train": a.hours * 3600.0, "dev": a.hours * a.dev_fraction * 3600.0}
    caps = {"train": None, "dev": None}
    if a.max_utts is not None:
        dev_cap = 0 if a.dev_fraction == 0 else max(1, round(a.max_utts * a.dev_fraction))
        dev_cap = min(dev_cap, a.max_utts - 1)
        caps = {"train": a.max_utts - dev_cap, "dev": dev_cap}
    synth = Synthesizer(out, espeak_version)
    progress = Progress(targets["train"] + targets["dev"], a.max_utts)
    rows = {}
    t_synth = time.monotonic()
    try:
        for split in ("dev", "train"):
            if caps[split] == 0 or targets[split] <= 0:
                rows[split] = []
                continue
            rows[split] = synthesize_split(synth, split, splits[split], pool, a.seed,
                                           targets[split], caps[split], a.jobs, progress,
                                           voices)
    finally:
        synth.close()
    synth_wall = time.monotonic() - t_synth
    progress.add("done", sum(len(r) for r in rows.values()), 0.0, force=True)

    keep = {r["path"] for split in rows for r in rows[split]}
    remove_strays(out, keep)
    shutil.rmtree(synth.tmp, ignore_errors=True)
    # Compact the journal to the kept files.
    journal = {}
    with open(synth.journal_path, encoding="utf-8") as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) == 2 and cols[0] in keep:
                journal[cols[0]] = cols[1]
    write_text_atomic(synth.journal_path,
                      "".join(f"{p}\t{k}\n" for p, k in sorted(journal.items())))

    noise_rows = make_noise(out, a.seed, a.noise_files) if a.noise else []
    if noise_rows:
        write_text_atomic(os.path.join(out, "noise.tsv"),
                          "".join(f"{p}\t{d:.3f}\t{lab}\n" for p, d, lab in noise_rows))
    for split in ("train", "dev"):
        write_text_atomic(os.path.join(out, f"{split}.tsv"), manifest_text(rows[split]))
    # Language-model text: every train-split sentence of the pool (spoken or not), never a dev
    # sentence -- the text side of a corpus is usually larger than its transcribed audio.
    write_text_atomic(os.path.join(out, "lm.txt"), "".join(t + "\n" for t in splits["train"]))
    all_rows = sorted(rows["train"] + rows["dev"], key=lambda r: r["utt_id"])
    write_text_atomic(os.path.join(out, "synthesis.tsv"),
                      "utt_id\tvoice\tspeed_wpm\tpitch\tduration\tspoken_text\n" +
                      "".join(f"{r['utt_id']}\t{r['voice']}\t{r['speed']}\t{r['pitch']}\t"
                              f"{r['duration']:.3f}\t{r['spoken']}\n" for r in all_rows))

    hours = {s: sum(r["duration"] for r in rows[s]) / 3600 for s in rows}
    audio_s = sum(hours.values()) * 3600
    made = len(keep) - synth.reused
    summary = [f"train: {len(rows['train'])} utterances, {hours['train']:.3f} h",
               f"dev: {len(rows['dev'])} utterances, {hours['dev']:.3f} h"]
    cmd = " ".join(shlex.quote(x) for x in ["python3", "share/demo/make_corpus.py"] + sys.argv[1:])
    readme = f"""ds2 demo corpus (share/demo/make_corpus.py, version {SCRIPT_VERSION})

Made by: {cmd}
Seed {a.seed}, --hours {a.hours}, --dev-fraction {a.dev_fraction}, --max-utts {a.max_utts}, \
--vocab {a.vocab}
Text: {"Mandarin sentences from fortunes-zh" if a.lang == "cmn" else "natural English sentences from the fortunes databases"} in {a.fortunes}
  ({len(pool)} sentences kept after filtering, deduplicated; split by sentence,
  {len(splits['train'])} train / {len(splits['dev'])} dev available).
Speech: {espeak_version}
  voices {' '.join(voices)}
  speed {SPEED_RANGE[0]}-{SPEED_RANGE[1]} wpm, pitch {PITCH_RANGE[0]}-{PITCH_RANGE[1]}
  (other espeak-ng voices and other TTS engines are kept for robustness evaluation)
Audio: 16 kHz mono 16-bit WAV via {sox_version} (no dither, repeatable RNG)
{chr(10).join(summary)}
Files: train.tsv, dev.tsv (path<TAB>duration_seconds<TAB>transcript, paths relative to this
  folder), lm.txt (every train-split sentence, for the LM; no dev sentence), synthesis.tsv (voice, speed, pitch per utterance), wav/<split>/<utt_id>.wav"""
    if noise_rows:
        readme += "\nNoise: noise.tsv lists " + ", ".join(r[0] for r in noise_rows) + (
            " (converted from the given files)" if a.noise_files else
            f" (sox synth, {NOISE_SECONDS} s each, {NOISE_RMS_DBFS:g} dBFS RMS)")
    write_text_atomic(os.path.join(out, "README.txt"), readme + "\n")
    write_text_atomic(stamp, key + "\n")
    log(f"[make_corpus] {summary[0]}; {summary[1]}")
    log(f"[make_corpus] synthesized {made} utterances, reused {synth.reused}; "
        f"{audio_s / max(synth_wall, 1e-6):.1f}x realtime with {a.jobs} jobs; "
        f"total {time.monotonic() - t0:.1f} s -> {out}")


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        run(a)
    except RecipeError as e:
        log(f"make_corpus: error: {e}")
        return 1
    except KeyboardInterrupt:
        log("make_corpus: interrupted; rerun the same command to resume")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
