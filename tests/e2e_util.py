"""The one module of the end-to-end tests that drive the ds2 binary (tests/*/..._e2e_test.py and
the fixtures, tests/e2e_fixtures.py): running ds2 (directly or under mpiexec) with
single-threaded BLAS, writing wav files, the tiny tone corpus, a unigram ARPA LM, reading sclite
trn files, and taking the shared fixtures (ctest FIXTURES_SETUP) read-only. No test imports
another test's file."""
import argparse
import collections
import contextlib
import math
import os
import re
import shutil
import subprocess
import tempfile
import time
import wave

import numpy as np

ENV = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")

RATE = 16000  # Hz: every wav the tests write, unless asked otherwise
LETTERS = "abcdefgh"  # the tone corpus's letters

# ctest's SKIP_RETURN_CODE for every script test: "Not Run (Skipped)", never "Passed".
SKIP_RC = 77


class Skips:
    """Checks a test could not make because their oracle (a tool) is missing. The test runs every
    other check, then ends with exit(), which returns SKIP_RC when any check was skipped, so
    ctest shows the test as skipped instead of passed (scripts/check_skips.py then fails CI,
    where every such tool is installed)."""

    def __init__(self):
        self.missing = []

    def tool(self, path, what):
        """True when `path` (an absolute path or a program on PATH) exists; else records the
        skipped check `what` and returns False."""
        found = os.path.exists(path) if os.path.isabs(path) else shutil.which(path) is not None
        if not found:
            self.missing.append(f"{what} ({path} not installed)")
        return found

    def exit(self, summary):
        """Prints the summary and returns the exit code: 0, or SKIP_RC with a SKIPPED line per
        check that was not made."""
        for m in self.missing:
            print(f"SKIPPED: {m}")
        print(summary + (f" ({len(self.missing)} check(s) SKIPPED)" if self.missing else ""))
        return SKIP_RC if self.missing else 0


def e2e_parser(config=True, mpi=True, fixtures=()):
    """The command line every e2e test takes: --ds2 BUILD/ds2, --config INI (config=True),
    --mpiexec and --mpiflags (mpi=True), --keep DIR, and --tone-corpus DIR / --tiny-model DIR
    for each fixture named in `fixtures` ("tone_corpus", "tiny_model"; tests/e2e_fixtures.py
    says what they hold). The caller adds its own and parses."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--ds2", required=True, help="the ds2 binary under test")
    if config:
        ap.add_argument("--config", required=True, help="model INI (share/configs)")
    if mpi:
        ap.add_argument("--mpiexec", default="mpiexec")
        ap.add_argument("--mpiflags", default="", help="extra mpiexec flags, one string")
    for f in fixtures:
        ap.add_argument("--" + f.replace("_", "-"), required=True,
                        help=f"the {f} fixture's folder (read-only; tests/e2e_fixtures.py)")
    ap.add_argument("--keep", help="work in this folder and keep it")
    return ap


@contextlib.contextmanager
def work_dir(keep, prefix):
    """The test's scratch folder: `keep` (created, kept) or a new temporary one, removed after."""
    tmp = keep or tempfile.mkdtemp(prefix=prefix)
    os.makedirs(tmp, exist_ok=True)
    try:
        yield tmp
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)


def run_cmd(cmd, label, expect_rc=0):
    """Runs cmd, prints its time and exit code under `label`; on an exit code other than
    expect_rc (None: any) prints the output's tails and raises AssertionError."""
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
    print(f"[{time.time() - t0:5.1f} s] {label} rc={p.returncode}")
    if expect_rc is not None and p.returncode != expect_rc:
        print(p.stdout[-4000:], p.stderr[-4000:])
        raise AssertionError(f"rc {p.returncode} != {expect_rc}: {' '.join(cmd)}")
    return p


class MpiRunner:
    """Runs `ds2 ARGS` under `args.mpiexec -np N args.mpiflags` (args: --ds2, --mpiexec,
    --mpiflags of the test's command line)."""

    def __init__(self, args):
        self.args = args
        self.env = ENV

    def cmd(self, np_, *ds2_args):
        return [self.args.mpiexec, "-np", str(np_)] + self.args.mpiflags.split() + [
            self.args.ds2] + list(ds2_args)

    def run(self, np_, *ds2_args, expect_rc=0):
        return run_cmd(self.cmd(np_, *ds2_args), f"np={np_} ds2 {' '.join(ds2_args[:1])}",
                       expect_rc)


def copy_fixture(src, dst):
    """Copies the fixture folder `src` to `dst` (which must not exist) for a test that writes in
    or next to it; a fixture itself is never modified. `cp -a` keeps hard links (ckpt-best.h5
    and ckpt-last.h5 are links of a step checkpoint), modes and times."""
    subprocess.run(["cp", "-a", src, dst], check=True)
    return dst


def write_wav(path, samples, rate=RATE, channels=1):
    """16-bit PCM wav of `samples` (floats in [-1, 1], clipped; interleaved when channels > 1)
    with the standard library's wave module."""
    pcm = (np.clip(np.asarray(samples), -1, 1) * 32767).astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


# ---- the tone corpus: learnable in seconds by ds2-tiny ----
# Each letter of LETTERS is an 80 ms tone (300 + 220 * letter index Hz), a space is 80 ms of faint
# noise. Deterministic from the seed; utterance i depends only on the seed and i's predecessors,
# so a corpus of n utterances is the first n of any longer one with the same seed and max_words.


def synth(text, rng):
    n = int(0.08 * RATE)
    t = np.arange(n) / RATE
    parts = []
    for ch in text:
        if ch == " ":
            parts.append(0.002 * rng.standard_normal(n))
        else:
            f = 300 + 220 * LETTERS.index(ch)
            parts.append(0.4 * np.sin(2 * math.pi * f * t) + 0.01 * rng.standard_normal(n))
    return np.concatenate(parts)


def make_corpus(d, name, count, seed, max_words=3):
    """Writes d/name/uNNN.wav and the TSV manifest d/name.tsv (durations left empty) of `count`
    utterances of 1..max_words words of 2-3 letters. Returns (manifest path, transcripts)."""
    rng = np.random.default_rng(seed)
    os.makedirs(f"{d}/{name}", exist_ok=True)
    rows, texts = [], []
    for i in range(count):
        words = ["".join(rng.choice(list(LETTERS), size=rng.integers(2, 4)))
                 for _ in range(rng.integers(1, max_words + 1))]
        text = " ".join(words)
        path = f"{name}/u{i:03d}.wav"
        write_wav(f"{d}/{path}", synth(text, rng))
        rows.append(f"{path}\t\t{text}")
        texts.append(text)
    manifest = f"{d}/{name}.tsv"
    open(manifest, "w").write("\n".join(rows) + "\n")
    return manifest, texts


def manifest_texts(path):
    """The transcripts (third column) of a TSV manifest, in file order."""
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n").split("\t")[2] for line in f if line.strip()]


def write_unigram_arpa(path, texts):
    """A unigram ARPA LM of the words of `texts` (maximum-likelihood counts; </s> once per text,
    <unk> once), written with log10 probabilities as ARPA requires."""
    counts = collections.Counter(w for t in texts for w in t.split())
    total = sum(counts.values()) + len(texts) + 1  # + </s> per sentence + <unk>
    lines = ["\\data\\", f"ngram 1={len(counts) + 3}", "", "\\1-grams:",
             f"{math.log10(1 / total):.6f}\t<unk>", "-99\t<s>",
             f"{math.log10(len(texts) / total):.6f}\t</s>"]
    lines += [f"{math.log10(c / total):.6f}\t{w}" for w, c in sorted(counts.items())]
    lines += ["", "\\end\\", ""]
    open(path, "w").write("\n".join(lines))


def read_trn(path):
    """The (utt_id, text) pairs of an sclite trn file, in file order."""
    out = []
    for line in open(path, encoding="utf-8"):
        m = re.fullmatch(r"(.*?) ?\(([^()\s]+)\)\n", line)
        assert m, f"{path}: bad trn line {line!r}"
        out.append((m.group(2), m.group(1)))
    return out
