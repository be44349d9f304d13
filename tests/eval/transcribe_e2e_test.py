#!/usr/bin/env python3
"""End-to-end test of `ds2 transcribe` with `ds2 eval` as the second implementation.

A tiny tone corpus (e2e_util.make_corpus) is prepared, a tiny FORWARD-ONLY model with a
lookahead is trained for 40 quick epochs (it need not be good, only say something), and then:
  * `ds2 eval --batch-size 1` writes hyp.trn from the prepared shards; `ds2 transcribe` of the
    same wav files (positional arguments, and again through --manifest) must print exactly the
    same text per file, for the greedy decoder and for beam search with a unigram ARPA LM;
  * `ds2 transcribe --stream` (chunks of 80 ms) must print the same final text, and its partial
    lines on stderr must end with that text;
  * a bidirectional checkpoint (the tiny_model fixture's ds2-tiny, tests/e2e_fixtures.py) with
    --stream fails with one ConfigError line.
Usage: transcribe_e2e_test.py --ds2 BUILD/ds2 --alphabet share/alphabets/en.txt
       --tiny-model FIXTURE [--keep DIR]
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import e2e_util  # noqa: E402
from e2e_util import e2e_parser, make_corpus, run_cmd, work_dir, write_unigram_arpa  # noqa: E402

MODEL = """[model]
n_bins = 161
alphabet_size = 29
conv_filters = 8
conv_kernel = 41x11
conv_stride = 2x2
rnn_type = gru
rnn_layers = 1
rnn_hidden = 32
bidirectional = false
lookahead = 3
rnn_batch_norm = true
fc_hidden = 0
seed = 1
"""


def run(ds2, *args, expect_rc=0):
    return run_cmd([ds2] + list(args), f"ds2 {args[0]}", expect_rc)


def read_trn(path):
    return dict(e2e_util.read_trn(path))


def parse_out(stdout):
    """FILE<TAB>text lines -> [(basename sans extension, text)] in order."""
    rows = []
    for line in stdout.splitlines():
        path, tab, text = line.partition("\t")
        assert tab, f"not FILE<TAB>text: {line!r}"
        rows.append((os.path.splitext(os.path.basename(path))[0], text))
    return rows


def main():
    ap = e2e_parser(config=False, mpi=False, fixtures=("tiny_model",))
    ap.add_argument("--alphabet", required=True)
    args = ap.parse_args()
    t0 = time.time()
    ds2 = args.ds2
    with work_dir(args.keep, "ds2-transcribe-e2e-") as tmp:
        m_train, train_texts = make_corpus(tmp, "train", 16, 1)
        m_test, _ = make_corpus(tmp, "test", 6, 2)
        run(ds2, "prep", "--manifest", m_train, "--out", f"{tmp}/data", "--shards", "1",
            "--alphabet", args.alphabet)
        run(ds2, "prep", "--manifest", m_test, "--out", f"{tmp}/test", "--shards", "2",
            "--alphabet", args.alphabet)
        open(f"{tmp}/model-false.ini", "w").write(MODEL)
        run(ds2, "train", "--data", f"{tmp}/data", "--config", f"{tmp}/model-false.ini", "--out",
            f"{tmp}/run", "--batch-size", "4", "--epochs", "40", "--lr", "0.01", "--momentum",
            "0.9", "--model.num_threads", "1", "--log-every", "1000")
        ckpt = f"{tmp}/run/ckpt-last.h5"
        lm = f"{tmp}/uni.arpa"
        write_unigram_arpa(lm, train_texts)
        wavs = [f"{tmp}/test/u{i:03d}.wav" for i in range(6)]
        decoders = {"greedy": ["--decoder", "greedy"],
                    "beam": ["--decoder", "beam", "--beam", "16", "--lm", lm, "--alpha", "0.5",
                             "--beta", "1.0"]}
        spoke = 0
        for name, opts in decoders.items():
            d = f"{tmp}/eval-{name}"
            run(ds2, "eval", "--model", ckpt, "--data", f"{tmp}/test", "--out", d,
                "--batch-size", "1", "--threads", "1", *opts)
            want = read_trn(f"{d}/hyp.trn")
            want = [(f"u{i:03d}", want[f"u{i:03d}"]) for i in range(6)]  # ids: file stems
            spoke += sum(1 for _, t in want if t)
            p = run(ds2, "transcribe", "--model", ckpt, "--threads", "1", *opts, *wavs)
            assert parse_out(p.stdout) == want, f"{name}: transcribe {p.stdout} vs eval {want}"
            p = run(ds2, "transcribe", "--model", ckpt, "--threads", "1", "--manifest", m_test,
                    *opts)
            assert parse_out(p.stdout) == want, f"{name} --manifest: {p.stdout} vs {want}"
            p = run(ds2, "transcribe", "--model", ckpt, "--threads", "1", "--stream",
                    "--chunk-ms", "80", *opts, *wavs)
            assert parse_out(p.stdout) == want, f"{name} --stream: {p.stdout} vs {want}"
            partial = [ln.split("\t") for ln in p.stderr.splitlines()
                       if ln.startswith("partial\t")]
            for w, (_, text) in zip(wavs, want):
                mine = [x for x in partial if x[1] == w]
                assert len(mine) >= 3, f"{w}: {len(mine)} partial lines"
                assert mine[-1][3] == text, f"{w}: last partial {mine[-1]} vs {text!r}"
                secs = [float(x[2]) for x in mine]
                assert secs == sorted(secs), f"{w}: partial times {secs}"
            print(f"  {name}: {sum(1 for _, t in want if t)} of 6 hypotheses non-empty, equal")
        assert spoke > 0, "the model says nothing: the comparison would be vacuous"
        # Bidirectional + --stream: one ConfigError line, non-zero exit.
        p = run(ds2, "transcribe", "--model", f"{args.tiny_model}/run/ckpt-last.h5", "--stream",
                wavs[0], expect_rc=1)
        assert "forward-only" in p.stderr and p.stdout == "", p.stderr
        print(f"all transcribe e2e checks passed in {time.time() - t0:.1f} s")
        return 0


if __name__ == "__main__":
    sys.exit(main())
