"""A tiny synthetic corpus for end-to-end tests: each letter of "abcdefgh" is an 80 ms tone
(300 + 220 * letter index Hz), a space is 80 ms of faint noise, so a small model can learn it in
seconds. Deterministic from the seed. Shared by tests/train and tests/eval."""
import math
import os
import wave

import numpy as np

RATE = 16000
LETTERS = "abcdefgh"


def write_wav(path, samples):
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())


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
