#!/usr/bin/env python3
"""Decodes a ds2 log-probability file (`ds2 eval --save-logprobs`) with a peer CTC decoder over
an alpha x beta x beam grid, writing one sclite trn file per grid point and its timing.

  peer_decode.py --decoder pyctcdecode|flashlight --logprobs F.h5 --lm LM.arpa --out DIR
                 --beams 16,64,256 --alphas 0.5,1 --betas 0,1,2

DIR/<decoder>-b<beam>-a<alpha>-w<beta>.trn gets the hypotheses (ids from the file) and
DIR/<decoder>.tsv one line per point: beam, alpha, beta, ms per utterance (decode calls only,
one thread, LM loaded beforehand), the trn file. Not run in CI: it needs a virtual environment
outside the project with h5py, numpy, pyctcdecode + kenlm and/or flashlight-text (PyPI).

Peers, with alpha = LM weight and beta = bonus per word, both on their own scales:
  pyctcdecode  build_ctcdecoder(labels, kenlm_model_path=LM); alpha/beta via reset_params;
               open vocabulary (its own partial-word and OOV rules).
  flashlight   LexiconDecoder (CTC criterion) with KenLM, lexicon = the ARPA's unigrams spelled
               in the alphabet's letters, unigram max smearing; lm_weight = alpha,
               word_score = beta; words outside the lexicon cannot be emitted.
"""
import argparse
import math
import os
import time

import h5py
import numpy as np


def load(path):
    with h5py.File(path, "r") as f:
        fmt = f.attrs["format"]
        assert (fmt.decode() if isinstance(fmt, bytes) else fmt) == "ds2-logprobs", path
        alphabet = f.attrs["alphabet"]
        alphabet = alphabet.decode() if isinstance(alphabet, bytes) else alphabet
        lp, off = f["logprobs"][...], f["frame_offset"][...]
        ids = [x.decode() if isinstance(x, bytes) else x for x in f["utt_id"][...]]
    symbols = [s for s in alphabet.splitlines() if s and not s.startswith("#")]
    mats = [np.ascontiguousarray(lp[off[i]:off[i + 1]], np.float32) for i in range(len(ids))]
    return symbols, ids, mats


def arpa_unigrams(path):
    words, section = [], None
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if line.startswith("\\"):
            section = line
            continue
        if section == "\\1-grams:" and line:
            w = line.split()[1]
            if w not in ("<s>", "</s>", "<unk>"):
                words.append(w)
    return words


def pyctcdecode_points(symbols, mats, lm, grid):
    from pyctcdecode import build_ctcdecoder
    labels = ["" if s == "<blank>" else " " if s == "<space>" else s for s in symbols]
    dec = build_ctcdecoder(labels, kenlm_model_path=lm, alpha=grid[0][1], beta=grid[0][2])
    for beam, alpha, beta in grid:
        dec.reset_params(alpha=alpha, beta=beta)
        t0 = time.perf_counter()
        out = [dec.decode(m, beam_width=beam) for m in mats]
        yield beam, alpha, beta, time.perf_counter() - t0, out


def flashlight_points(symbols, mats, lm_path, grid):
    from flashlight.lib.text.decoder import (CriterionType, LexiconDecoder, LexiconDecoderOptions,
                                             SmearingMode, Trie)
    from flashlight.lib.text.decoder.kenlm import KenLM
    from flashlight.lib.text.dictionary import Dictionary, create_word_dict
    tokens = ["<b>" if s == "<blank>" else "|" if s == "<space>" else s for s in symbols]
    letters = set(tokens) - {"<b>", "|"}
    words = [w for w in arpa_unigrams(lm_path) if all(ch in letters for ch in w)]
    tok = Dictionary(tokens)
    spellings = {w: [list(w) + ["|"]] for w in words}
    wd = create_word_dict({**spellings, "<unk>": [["<unk>"]]})
    lm = KenLM(lm_path, wd)
    sil, blank, unk = tok.get_index("|"), tok.get_index("<b>"), wd.get_index("<unk>")
    trie = Trie(len(tokens), sil)
    start = lm.start(False)
    for w, sp in spellings.items():
        wi = wd.get_index(w)
        _, score = lm.score(start, wi)
        for s in sp:
            trie.insert([tok.get_index(t) for t in s], wi, score)
    trie.smear(SmearingMode.MAX)
    for beam, alpha, beta in grid:
        opt = LexiconDecoderOptions(beam_size=beam, beam_size_token=len(tokens),
                                    beam_threshold=25.0, lm_weight=alpha, word_score=beta,
                                    unk_score=-math.inf, sil_score=0.0, log_add=False,
                                    criterion_type=CriterionType.CTC)
        dec = LexiconDecoder(opt, trie, lm, sil, blank, unk, [], False)
        t0 = time.perf_counter()
        out = []
        for m in mats:
            r = dec.decode(m.ctypes.data, m.shape[0], m.shape[1])[0]
            out.append(" ".join(wd.get_entry(i) for i in r.words if i >= 0))
        yield beam, alpha, beta, time.perf_counter() - t0, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--decoder", required=True, choices=["pyctcdecode", "flashlight"])
    ap.add_argument("--logprobs", required=True)
    ap.add_argument("--lm", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--beams", default="16,64,256")
    ap.add_argument("--alphas", default="0.5,0.75,1,1.5")
    ap.add_argument("--betas", default="0,1,2,4")
    a = ap.parse_args()
    symbols, ids, mats = load(a.logprobs)
    grid = [(int(b), float(x), float(y)) for b in a.beams.split(",")
            for x in a.alphas.split(",") for y in a.betas.split(",")]
    run = pyctcdecode_points if a.decoder == "pyctcdecode" else flashlight_points
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, f"{a.decoder}.tsv"), "w") as tsv:
        for beam, alpha, beta, seconds, out in run(symbols, mats, a.lm, grid):
            trn = os.path.join(a.out, f"{a.decoder}-b{beam}-a{alpha:g}-w{beta:g}.trn")
            with open(trn, "w") as f:
                for i, h in zip(ids, out):
                    f.write(f"{' '.join(h.split())} ({i})\n".lstrip())
            tsv.write(f"{beam}\t{alpha:g}\t{beta:g}\t{1000 * seconds / len(mats):.3f}\t{trn}\n")
            tsv.flush()


if __name__ == "__main__":
    main()
