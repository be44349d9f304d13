#!/usr/bin/env python3
"""End-to-end test of `ds2 eval` through mpirun on a tiny synthetic corpus.

The model is the tiny_model fixture (ds2-tiny trained for 3 epochs on the tone_corpus fixture's
24 utterances, tests/e2e_fixtures.py: it need not be good, the checks are about eval's
distribution and files). The eval set is this test's own: 14 tone-corpus utterances, prepared
with one augmented copy per utterance ("~aug" ids, which eval must skip).
Checks, each against an independent expectation:
  * np=1 and np=3 give byte-identical ref.trn, hyp.trn and alignments.txt and the same counts in
    results.json, for the greedy decoder and for beam search with a unigram ARPA LM written here;
  * every clean utterance id of index.h5 (read with h5py) appears exactly once in each trn file,
    in index order, no "~aug" id does, and ref.trn holds the shards' transcripts;
  * `ds2 score` on ref.trn/hyp.trn reproduces results.json's WER counts and (--cer) its CER counts;
  * the per-utterance counts in alignments.txt sum to results.json's, and each block's REF/HYP
    lines, read back without the *** fillers, are the reference and hypothesis;
  * sclite (when installed) accepts the files and reports the same word error count;
  * with a checkpoint whose blank output always wins, every hypothesis is empty: hyp.trn holds
    exactly "(id)" lines and every reference word is a deletion.
Usage: eval_e2e_test.py --ds2 BUILD/ds2 --config share/configs/ds2-tiny.ini
       --tone-corpus FIXTURE --tiny-model FIXTURE [--mpiexec mpiexec] [--mpiflags "..."]
       [--keep DIR]
"""
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from e2e_util import (MpiRunner as Runner, Skips, e2e_parser, make_corpus,  # noqa: E402
                      manifest_texts, read_trn, work_dir, write_unigram_arpa)

SCLITE = "/usr/lib/sctk/bin/sclite"
SKIPS = Skips()



COUNT_KEYS = ("sub", "del", "ins", "correct", "words", "chars", "cer_sub", "cer_del", "cer_ins",
              "utterances")


def check_eval_dir(r, d, data, clean_ids, transcripts):
    res = json.load(open(f"{d}/results.json"))
    ref, hyp = read_trn(f"{d}/ref.trn"), read_trn(f"{d}/hyp.trn")
    assert [i for i, _ in ref] == clean_ids, "ref.trn ids are not the clean ids in index order"
    assert [i for i, _ in hyp] == clean_ids, "hyp.trn ids are not the clean ids in index order"
    assert [t for _, t in ref] == [transcripts[i] for i in clean_ids], "ref.trn texts"
    assert res["utterances"] == len(clean_ids)
    # The searches are a part of the decode loop's time (an invariant, not a speed check).
    assert 0 < res["search_seconds"] <= res["decode_seconds"], res
    for line in open(f"{d}/hyp.trn"):  # an empty hypothesis is just "(id)"
        assert not line.startswith(" "), f"hyp.trn: leading space in {line!r}"
    # alignments.txt: blocks sum to the totals; REF/HYP rows are the texts.
    blocks = open(f"{d}/alignments.txt", encoding="utf-8").read().split("\n\n")
    blocks = [b for b in blocks if b.strip()]
    assert len(blocks) == len(clean_ids)
    tot = collections.Counter()
    for b, (uid, rt), (_, ht) in zip(blocks, ref, hyp):
        lines = b.split("\n")
        assert lines[0] == f"id: {uid}", lines[0]
        rw = [w.lower() for w in lines[1][5:].split() if w != "***"]
        hw = [w.lower() for w in lines[2][5:].split() if w != "***"]
        assert rw == rt.split() and hw == ht.split(), f"alignment of {uid}: {b}"
        m = re.fullmatch(r"WER: C (\d+) S (\d+) D (\d+) I (\d+) N (\d+)", lines[4])
        assert m, lines[4]
        c, s, dl, i, n = map(int, m.groups())
        assert c + s + dl == n == len(rw)
        tot.update(correct=c, sub=s, dl=dl, ins=i, words=n)
    assert (tot["correct"], tot["sub"], tot["dl"], tot["ins"], tot["words"]) == (
        res["correct"], res["sub"], res["del"], res["ins"], res["words"]), "alignment sums"
    # ds2 score reproduces the counts.
    for cer in (False, True):
        js = f"{d}/score{'-cer' if cer else ''}.json"
        r.run(1, "score", "--ref", f"{d}/ref.trn", "--hyp", f"{d}/hyp.trn", "--json", js,
              *(["--cer"] if cer else []))
        sc = json.load(open(js))
        want = (res["cer_sub"], res["cer_del"], res["cer_ins"], res["chars"]) if cer else (
            res["sub"], res["del"], res["ins"], res["words"])
        assert (sc["sub"], sc["del"], sc["ins"], sc["ref"]) == want, f"score {sc} vs {res}"
        assert sc["rate"] == (res["cer"] if cer else res["wer"])
    if SKIPS.tool(SCLITE, f"sclite comparison of {d}"):
        p = subprocess.run([SCLITE, "-r", f"{d}/ref.trn", "trn", "-h", f"{d}/hyp.trn", "trn",
                            "-i", "rm", "-o", "sum", "stdout"], capture_output=True, text=True)
        assert p.returncode == 0, p.stdout + p.stderr
        m = re.search(r"Sum/Avg\s*\|\s*(\d+)\s+(\d+)\s*\|\s*[\d.]+\s+([\d.]+)\s+([\d.]+)\s+"
                      r"([\d.]+)\s+([\d.]+)", p.stdout)
        assert m, p.stdout
        assert int(m.group(2)) == res["words"], "sclite word count"
        pct = 100.0 * (res["sub"] + res["del"] + res["ins"]) / res["words"]
        assert abs(float(m.group(6)) - pct) < 0.051, f"sclite {m.group(6)}% vs {pct}%"
    return res


def check_logprobs(path_np1, path_np3, clean):
    """Two --save-logprobs files of the same model and data: identical, in index order, each
    utterance's rows normalized (log-softmax) and ids those of the clean utterances."""
    with h5py.File(path_np1, "r") as f, h5py.File(path_np3, "r") as g:
        for k in ("logprobs", "frame_offset", "pos", "utt_id", "transcript"):
            assert np.array_equal(f[k][()], g[k][()]), f"{k} differs between np=1 and np=3"
        ids = [x.decode() if isinstance(x, bytes) else x for x in f["utt_id"][()]]
        assert sorted(ids) == sorted(clean), "the file holds the clean utterances"
        pos = f["pos"][()]
        assert list(pos) == sorted(pos), "utterances in index order"
        off, lp = f["frame_offset"][()], f["logprobs"][()]
        assert off[0] == 0 and off[-1] == lp.shape[0] and lp.shape[1] == f.attrs["classes"]
        assert np.allclose(np.exp(lp.astype(np.float64)).sum(axis=1), 1.0, atol=1e-4)


def main():
    ap = e2e_parser(fixtures=("tone_corpus", "tiny_model"))
    args = ap.parse_args()
    t0 = time.time()
    with work_dir(args.keep, "ds2-eval-e2e-") as tmp:
        r = Runner(args)
        alphabet = os.path.join(os.path.dirname(args.config), "..", "alphabets", "en.txt")
        # Fixtures (read-only): the training set, its transcripts and the model trained on it.
        data = f"{args.tone_corpus}/data"
        train_texts = manifest_texts(f"{args.tone_corpus}/corpus/train.tsv")
        model = f"{args.tiny_model}/run/ckpt-best.h5"
        m_eval, _ = make_corpus(tmp, "test", 14, 2)
        r.run(2, "prep", "--manifest", m_eval, "--out", f"{tmp}/test", "--shards", "3",
              "--alphabet", alphabet, "--augment", "copies=1,noise_prob=0,speed=0.9:1.1")
        with h5py.File(f"{tmp}/test/index.h5", "r") as f:
            ids = [x.decode() if isinstance(x, bytes) else x for x in f["utt_id"][()]]
            shards = [x.decode() if isinstance(x, bytes) else x for x in f["shards"][()]]
        transcripts = {}
        for s in shards:
            with h5py.File(f"{tmp}/test/{s}", "r") as f:
                for i, t in zip(f["utt_id"][()], f["transcript"][()]):
                    transcripts[i.decode() if isinstance(i, bytes) else i] = (
                        t.decode() if isinstance(t, bytes) else t)
        clean = [i for i in ids if "~aug" not in i]
        assert len(clean) == 14 and len(ids) == 28, f"{len(clean)} clean of {len(ids)}"
        lm = f"{tmp}/uni.arpa"
        write_unigram_arpa(lm, train_texts)
        decoders = {"greedy": ["--decoder", "greedy"],
                    "beam": ["--decoder", "beam", "--beam", "16", "--lm", lm, "--alpha", "0.5",
                             "--beta", "1.0"]}
        for name, opts in decoders.items():
            results = []
            for np_ in (1, 3):
                d = f"{tmp}/eval-{name}-np{np_}"
                p = r.run(np_, "eval", "--model", model, "--data",
                          f"{tmp}/test", "--out", d, "--batch-size", "4", "--threads", "1",
                          "--save-logprobs", f"{d}/logprobs.h5", *opts)
                line = [x for x in p.stdout.splitlines() if x.startswith("WER ")]
                assert len(line) == 1, f"one summary line expected:\n{p.stdout}"
                print(f"  {name} np={np_}: {line[0]}")
                results.append(check_eval_dir(r, d, f"{tmp}/test", clean, transcripts))
            a, b = f"{tmp}/eval-{name}-np1", f"{tmp}/eval-{name}-np3"
            for fn in ("ref.trn", "hyp.trn", "alignments.txt"):
                assert open(f"{a}/{fn}", "rb").read() == open(f"{b}/{fn}", "rb").read(), \
                    f"{name}: {fn} differs between np=1 and np=3"
            for k in COUNT_KEYS + ("wer", "cer"):
                assert results[0][k] == results[1][k], f"{name}: {k} differs np=1 vs np=3"
            assert results[1]["ranks"] == 3
            # --save-logprobs: the same rows whatever the rank count, in index order; decoding
            # them with --logprobs (np=2, no network) gives eval's outputs byte for byte.
            check_logprobs(f"{a}/logprobs.h5", f"{b}/logprobs.h5", clean)
            # --gather-round 5: the results reach rank 0 in many rounds, files appended per round.
            d = f"{tmp}/eval-{name}-stored"
            r.run(2, "eval", "--logprobs", f"{b}/logprobs.h5", "--data", f"{tmp}/test", "--out", d,
                  "--gather-round", "5", *opts)
            for fn in ("ref.trn", "hyp.trn", "alignments.txt"):
                assert open(f"{a}/{fn}", "rb").read() == open(f"{d}/{fn}", "rb").read(), \
                    f"{name}: {fn} from --logprobs differs from eval's"
            stored = json.load(open(f"{d}/results.json"))
            for k in COUNT_KEYS + ("wer", "cer"):
                assert results[0][k] == stored[k], f"{name}: {k} differs with --logprobs"
            if name == "beam":
                # The LM compiled by `ds2 lm compile` (memory-mapped, decode/compiled_lm.h)
                # decodes to the same bytes as its ARPA text; `ds2 decode` (no --data: the
                # dataset folder the file records) gives eval's bytes too.
                r.run(1, "lm", "compile", lm, f"{tmp}/uni.bin")
                d = f"{tmp}/eval-beam-compiled-lm"
                r.run(2, "decode", "--logprobs", f"{b}/logprobs.h5", "--out", d,
                      *[f"{tmp}/uni.bin" if o == lm else o for o in opts])
                for fn in ("hyp.trn", "alignments.txt"):
                    assert open(f"{a}/{fn}", "rb").read() == open(f"{d}/{fn}", "rb").read(), \
                        f"{fn} with the compiled LM differs from the ARPA LM's"
        # ds2 decode over a dataset folder that is gone: refused in one line naming the file.
        moved = f"{tmp}/moved-logprobs.h5"
        shutil.copy(f"{tmp}/eval-greedy-np3/logprobs.h5", moved)
        with h5py.File(moved, "r+") as f:
            f.attrs["data"] = f"{tmp}/no-such-dataset"
        p = r.run(1, "decode", "--logprobs", moved, "--out", f"{tmp}/decode-moved", expect_rc=None)
        assert p.returncode != 0 and "moved-logprobs.h5: attribute 'data' names" in p.stderr \
            and "give --data" in p.stderr, p.stderr[-2000:]
        r.run(1, "decode", "--logprobs", moved, "--data", f"{tmp}/test", "--out",
              f"{tmp}/decode-moved")
        assert open(f"{tmp}/decode-moved/hyp.trn", "rb").read() == \
            open(f"{tmp}/eval-greedy-np1/hyp.trn", "rb").read(), "decode --data: hyp.trn differs"
        # Stored outputs decoded over another dataset: refused in one line naming the file.
        p = r.run(1, "eval", "--logprobs", f"{tmp}/eval-greedy-np3/logprobs.h5", "--data",
                  data, "--out", f"{tmp}/eval-wrong", expect_rc=None)
        assert p.returncode != 0 and "written over another dataset" in p.stderr, p.stderr[-2000:]
        p = r.run(1, "eval", "--logprobs", f"{tmp}/test/index.h5", "--data", f"{tmp}/test",
                  "--out", f"{tmp}/eval-wrong", expect_rc=None)
        assert p.returncode != 0 and "not a ds2 log-probability file" in p.stderr, p.stderr[-2000:]
        # --manifest: the audio is prepared with the checkpoint's settings into EVALDIR/data
        # first; a row whose audio is missing goes to rejects.tsv and the rest is evaluated,
        # with the same hypotheses as the prepared dataset gave (second path, as sets of lines:
        # the index order depends on the shard count).
        bad = f"{tmp}/test-bad.tsv"
        open(bad, "w").write(open(m_eval).read() + "test/missing.wav\t\tab cd\n")
        d = f"{tmp}/eval-manifest"
        r.run(2, "eval", "--model", model, "--manifest", bad, "--out", d,
              "--batch-size", "4", "--threads", "1")
        rejects = open(f"{d}/data/rejects.tsv").read().splitlines()
        assert len(rejects) == 2 and "missing.wav" in rejects[1], rejects
        for fn in ("ref.trn", "hyp.trn"):
            got = sorted(open(f"{d}/{fn}").read().splitlines())
            want = sorted(open(f"{tmp}/eval-greedy-np1/{fn}").read().splitlines())
            assert got == want, f"--manifest {fn} differs from --data's"
        assert json.load(open(f"{d}/results.json"))["utterances"] == len(clean)
        # A model whose blank output always wins (out.bias[blank] raised in a copy of the
        # checkpoint): every hypothesis is empty, each still has its "(id)" line, and every
        # reference word is a deletion.
        blank_ckpt = f"{tmp}/blank.h5"
        shutil.copy(model, blank_ckpt)
        with h5py.File(blank_ckpt, "r+") as f:
            f["params/out.bias"][0] = 1e4
        d = f"{tmp}/eval-empty"
        r.run(3, "eval", "--model", blank_ckpt, "--data", f"{tmp}/test", "--out", d,
              "--threads", "1")
        assert open(f"{d}/hyp.trn").read() == "".join(f"({i})\n" for i in clean), "empty hyps"
        res = check_eval_dir(r, d, f"{tmp}/test", clean, transcripts)
        assert res["del"] == res["words"] and res["wer"] == 1.0 and res["sub"] == res["ins"] == 0
        return SKIPS.exit(f"all eval e2e checks passed in {time.time() - t0:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
