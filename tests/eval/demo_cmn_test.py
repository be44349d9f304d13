#!/usr/bin/env python3
"""`scripts/demo.sh --lang cmn` end to end at toy size: a handful of Mandarin sentences
synthesized with espeak-ng cmn-latn-pinyin, the alphabet from the train transcripts, prep, a few
steps of ds2-tiny, a character LM, and dev decoded greedy, by beam, and by beam with the character
LM.

Checks, against counts made here independently of ds2:
  * the alphabet has no <space> and holds exactly the characters of the training text (train.tsv's
    transcripts and lm.txt);
  * the character LM's unigrams are single characters (and <s>, </s>, <unk>);
  * each eval prints CER as its headline and writes results.json with "headline": "cer";
    ref.trn holds the accepted dev transcripts (dev.tsv rows whose characters are all in the
    alphabet, in prep's order is not assumed: compared as a set), results.json's character count
    is the sum of their lengths, and sclite -c (code points, -e utf-8) counts the same errors
    and reference characters on ref.trn/hyp.trn.
Usage: demo_cmn_test.py --source SOURCE_DIR --ds2 BUILD/ds2 [--keep DIR]
Exits 77 (skipped) when espeak-ng's cmn-latn-pinyin voice, fortunes-zh or IRSTLM is missing; a
missing sclite skips only its check (reported as SKIPPED).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from e2e_util import ENV, SKIP_RC, Skips, read_trn, work_dir  # noqa: E402

SCLITE = "/usr/lib/sctk/bin/sclite"
SKIPS = Skips()


def sclite_chars(d):
    """(reference characters, errors) that sclite -c counts on d/ref.trn, d/hyp.trn."""
    p = subprocess.run([SCLITE, "-r", f"{d}/ref.trn", "trn", "-h", f"{d}/hyp.trn", "trn", "-i",
                        "rm", "-c", "NOASCII", "-e", "utf-8", "-o", "sum", "stdout"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    m = re.search(r"Sum/Avg\s*\|\s*(\d+)\s+(\d+)\s*\|\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+"
                  r"([\d.]+)\s+([\d.]+)", p.stdout)
    assert m, p.stdout
    chars = int(m.group(2))
    return chars, float(m.group(7))  # Err in percent


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True)
    ap.add_argument("--ds2", required=True)
    ap.add_argument("--keep")
    a = ap.parse_args()
    voices = subprocess.run(["espeak-ng", "--voices=cmn"], capture_output=True, text=True)
    if " cmn-latn-pinyin " not in voices.stdout:
        print("SKIPPED: espeak-ng has no cmn-latn-pinyin voice")
        return SKIP_RC
    if not os.path.exists("/usr/share/games/fortunes/chinese"):
        print("SKIPPED: fortunes-zh not installed")
        return SKIP_RC
    if not os.path.exists("/usr/lib/irstlm/bin/build-lm.sh"):
        print("SKIPPED: IRSTLM not installed")
        return SKIP_RC
    with work_dir(a.keep, "ds2-demo-cmn-") as work:
        t0 = time.time()
        cmd = ["bash", f"{a.source}/scripts/demo.sh", "--lang", "cmn", "--stage", "1", "--work",
               work, "--hours", "0.02", "--max-utts", "30", "--vocab", "200", "--epochs", "2",
               "--config", f"{a.source}/share/configs/ds2-tiny.ini", "--augment", "", "--np", "2"]
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=a.source,
                           env=dict(ENV, DS2=os.path.abspath(a.ds2)))
        print(f"[{time.time() - t0:5.1f} s] demo.sh --lang cmn rc={p.returncode}")
        if p.returncode != 0:
            print(p.stdout[-4000:], p.stderr[-4000:])
            return 1
        out = p.stdout

        def tsv(name):
            rows = []
            for line in open(f"{work}/corpus/{name}", encoding="utf-8"):
                rows.append(line.rstrip("\n").split("\t")[2])
            return rows

        train, dev = tsv("train.tsv"), tsv("dev.tsv")
        symbols = [ln.rstrip("\n") for ln in open(f"{work}/alphabet.txt", encoding="utf-8")]
        symbols = [s for s in symbols if s and not s.startswith("#")]
        assert symbols[0] == "<blank>" and "<space>" not in symbols, symbols[:5]
        lm_text = [ln.rstrip("\n") for ln in open(f"{work}/corpus/lm.txt", encoding="utf-8")]
        text_chars = {ch for t in train + lm_text for ch in t}
        assert set(symbols[1:]) == text_chars, "alphabet != the training text's characters"

        unigrams, section = set(), None
        for line in open(f"{work}/lm/chars3.arpa", encoding="utf-8"):
            line = line.strip()
            if line.startswith("\\"):
                section = line
            elif section == "\\1-grams:" and line:
                unigrams.add(line.split()[1])
        assert all(len(u) == 1 for u in unigrams - {"<s>", "</s>", "<unk>"}), unigrams
        assert unigrams - {"<s>", "</s>", "<unk>"} == {ch for t in lm_text for ch in t}

        accepted = [t for t in dev if set(t) <= set(symbols[1:])]
        assert accepted, "no dev sentence within the train alphabet: change --max-utts/--vocab"
        for name in ("greedy", "beam", "lm"):
            d = f"{work}/eval/{name}"
            assert re.search(rf"^{name}: CER [\d.]+% \(\d+/\d+/\d+\) on {len(accepted)} utt",
                             out, re.M), f"{name}: no CER headline in\n{out}"
            res = json.load(open(f"{d}/results.json"))
            assert res["headline"] == "cer", res
            ref = [t for _, t in read_trn(f"{d}/ref.trn")]
            assert sorted(ref) == sorted(accepted), f"{name}: ref.trn {ref} vs {accepted}"
            assert res["chars"] == sum(len(t) for t in accepted), f"{name}: character count"
            errors = res["cer_sub"] + res["cer_del"] + res["cer_ins"]
            assert abs(res["cer"] - errors / res["chars"]) < 1e-12, res
            if SKIPS.tool(SCLITE, f"sclite -c comparison of {name}"):
                chars, err_pct = sclite_chars(d)
                assert chars == res["chars"], f"{name}: sclite {chars} characters"
                assert abs(err_pct - 100.0 * errors / chars) < 0.051, \
                    f"{name}: sclite {err_pct}% vs {100.0 * errors / chars}%"
        return SKIPS.exit(f"demo_cmn: ok in {time.time() - t0:.1f} s "
                          f"({len(train)} train, {len(accepted)} of {len(dev)} dev utterances)")


if __name__ == "__main__":
    sys.exit(main())
