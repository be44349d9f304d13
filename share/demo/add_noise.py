#!/usr/bin/env python3
"""Make a noisy copy of a ds2 TSV manifest: every utterance mixed with noise at a fixed SNR.

Used for the noise-augmentation ablation (scripts/ablations.sh): a model trained with and one
trained without noise augmentation are both scored on the same noisy dev set. This mixes with
numpy, independently of ds2's own augmenter (augment/mix.cc), so the test set does not share
code with the training-time augmentation.

Recipe (deterministic from --seed):
  - the noise file of utterance i is noise row (h % n) and its start offset (h / n) % (len -
    utt_len) where h = sha256(seed, utt_id); a noise file shorter than the utterance is looped;
  - speech power P_s = mean(x^2) over the whole utterance, noise power P_n over the chosen
    segment; the noise is scaled by sqrt(P_s / (P_n * 10^(snr/10))) so the SNR is exact;
  - the mix is written as 16-bit PCM; samples beyond +-32767 are clipped and counted (the
    count is printed; the demo's speech at -20 dBFS noise never clips at 10 dB).
Output: OUT/<name>.tsv (same rows, same durations and transcripts, paths to OUT/wav/...).

Usage: add_noise.py --manifest dev.tsv --noise noise.tsv --snr 10 --out DIR [--seed 1]
"""

import argparse
import hashlib
import os
import sys
import wave

import numpy as np


def read_wav(path):
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise SystemExit(f"add_noise.py: {path}: expected 16-bit mono WAV")
        rate = w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    return rate, data


def write_wav_atomic(path, rate, samples):
    tmp = f"{path}.tmp.{os.getpid()}"
    with wave.open(tmp, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())
    os.replace(tmp, path)


def read_tsv(path):
    base = os.path.dirname(os.path.abspath(path))
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            cols = line.rstrip("\n").split("\t")
            if not line.strip():
                continue
            if len(cols) < 1:
                raise SystemExit(f"add_noise.py: {path}:{n}: empty row")
            p = cols[0] if os.path.isabs(cols[0]) else os.path.join(base, cols[0])
            rows.append((p, cols))
    return rows


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--manifest", required=True, help="ds2 TSV manifest (path, duration, text)")
    ap.add_argument("--noise", required=True, help="noise list: TSV whose first column is a WAV")
    ap.add_argument("--snr", type=float, required=True, help="SNR in dB")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)

    noises = []
    for path, _ in read_tsv(a.noise):
        rate, data = read_wav(path)
        if data.size == 0 or not np.any(data):
            raise SystemExit(f"add_noise.py: {path}: silent or empty noise file")
        noises.append((rate, data))
    os.makedirs(os.path.join(a.out, "wav"), exist_ok=True)
    name = os.path.splitext(os.path.basename(a.manifest))[0]
    out_rows, clipped, worst = [], 0, 0.0
    for path, cols in read_tsv(a.manifest):
        rate, x = read_wav(path)
        uid = os.path.splitext(os.path.basename(path))[0]
        h = int.from_bytes(hashlib.sha256(f"{a.seed}\x1f{uid}".encode()).digest()[:8], "big")
        nrate, noise = noises[h % len(noises)]
        if nrate != rate:
            raise SystemExit(f"add_noise.py: {path}: rate {rate} differs from the noise's {nrate}")
        if noise.size < x.size:
            noise = np.tile(noise, x.size // noise.size + 1)
        start = (h // len(noises)) % (noise.size - x.size + 1)
        seg = noise[start:start + x.size]
        ps, pn = np.mean(x * x), np.mean(seg * seg)
        y = x if ps == 0 else x + seg * np.sqrt(ps / (pn * 10 ** (a.snr / 10)))
        if ps > 0:
            snr = 10 * np.log10(ps / np.mean((y - x) ** 2))
            worst = max(worst, abs(snr - a.snr))
        over = np.abs(y) > 32767
        clipped += int(over.sum())
        y = np.clip(np.rint(y), -32768, 32767)
        rel = os.path.join("wav", os.path.basename(path))
        write_wav_atomic(os.path.join(a.out, rel), rate, y)
        out_rows.append("\t".join([rel] + cols[1:]) + "\n")
    tsv = os.path.join(a.out, f"{name}.tsv")
    tmp = f"{tsv}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.writelines(out_rows)
    os.replace(tmp, tsv)
    print(f"add_noise.py: {len(out_rows)} utterances at {a.snr:g} dB SNR (max deviation "
          f"{worst:.2e} dB before rounding), {clipped} samples clipped -> {tsv}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
