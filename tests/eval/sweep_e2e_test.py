#!/usr/bin/env python3
"""End-to-end test of `ds2 sweep` through mpirun on the tiny tone corpus (e2e_util.make_corpus).

The run is a copy of the tiny_model fixture (tests/e2e_fixtures.py: ds2-tiny trained for 3
epochs on the tone_corpus fixture's data with its test set as dev, so the run folder has
metrics.csv, dev.csv and several ckpt-step files), the datasets copies of the tone_corpus
fixture's test (12 utterances) and other (6); then `ds2 sweep` runs under mpirun -np 2 over every checkpoint of the
run with a 2 x 2 alpha x beta grid at beam 8 with a unigram LM, plus the greedy decoder
(beam=1), on two datasets (--data twice). Checks, each against an independent expectation:
  * the history (read with Python's sqlite3) has schema version 2 and one row per checkpoint x
    dataset x grid point, with the checkpoint's step/epoch (read from the checkpoint with h5py)
    and its content digests: one ckpt_digest per checkpoint file, one data_digest per dataset;
  * every row's counts equal what `ds2 eval` (a separate process, np=1) reports in results.json
    for the same checkpoint, dataset, decoder, beam, alpha and beta -- the second path (the
    sweep decodes batch by batch from the streamed log-probabilities);
  * a second sweep (np=1, --checkpoints best: a link of a step checkpoint already scored)
    appends nothing and says it skipped every point; the dataset moved to another folder is
    still the same dataset (skipped); --rescore appends the rows again with the same counts
    (ids continue, old rows unchanged);
  * the report exists, every inline <svg> parses as XML, it holds no scripts or external
    references, and shows a trend panel per dataset, the best WER of the history and the run
    folder's curves;
  * `ds2 sweep --db H --report R` (no models) rewrites the report from the history alone;
  * --fail-on-regression: a copy of the worst checkpoint with a later step (other bytes, so
    another digest) exits 4 naming the regression when the margin is below its distance to the
    best WER, 0 when above; the report then lists it (the page the screenshot test renders);
  * a bad grid token, a missing checkpoint and an unwritable database each fail with one line
    naming the token or the file.
Usage: sweep_e2e_test.py --ds2 BUILD/ds2 --config share/configs/ds2-tiny.ini
       --tone-corpus FIXTURE --tiny-model FIXTURE [--mpiexec mpiexec] [--mpiflags "..."]
       [--report-out FILE] [--keep DIR]
"""
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import h5py

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from e2e_util import (MpiRunner as Runner, copy_fixture, e2e_parser,  # noqa: E402
                      manifest_texts, work_dir, write_unigram_arpa)

GRID = "alpha=0:2:2,beta=0:3:2,beam=8,beam=1"


def history(db):
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    version = con.execute("PRAGMA user_version").fetchone()[0]
    rows = [dict(r) for r in con.execute("SELECT * FROM results ORDER BY id")]
    con.close()
    return version, rows


def check_fails(r, args, want):
    """Runs ds2 as a single process (no launcher) and expects exit 1 with one error line."""
    p = subprocess.run([r.args.ds2] + args, capture_output=True, text=True, env=r.env)
    lines = [x for x in p.stderr.splitlines() if "error" in x]
    assert p.returncode == 1 and len(lines) == 1 and want in lines[0], \
        f"expected exit 1 and one error line with {want!r}: rc {p.returncode}\n{p.stderr}"


def main():
    ap = e2e_parser(fixtures=("tone_corpus", "tiny_model"))
    ap.add_argument("--report-out", help="copy the final report here (for the screenshot test)")
    args = ap.parse_args()
    t0 = time.time()
    with work_dir(args.keep, "ds2-sweep-e2e-") as tmp:
        r = Runner(args)
        # Copies of the fixtures: the test writes into the run folder and moves `other`.
        train_texts = manifest_texts(f"{args.tone_corpus}/corpus/train.tsv")
        for name in ("test", "other"):
            copy_fixture(f"{args.tone_corpus}/{name}", f"{tmp}/{name}")
        run = copy_fixture(f"{args.tiny_model}/run", f"{tmp}/run")
        assert os.path.exists(f"{run}/dev.csv") and os.path.exists(f"{run}/metrics.csv")
        ckpts = sorted((f for f in os.listdir(run) if re.fullmatch(r"ckpt-step\d+\.h5", f)),
                       key=lambda f: int(f[9:-3]))
        assert len(ckpts) >= 2, ckpts
        lm = f"{tmp}/uni.arpa"
        write_unigram_arpa(lm, train_texts)
        db, report = f"{tmp}/history.sqlite", f"{tmp}/report.html"
        common = ["--data", f"{tmp}/test", "--data", f"{tmp}/other", "--lm", lm, "--db", db,
                  "--report", report, "--threads", "1", "--batch-size", "4"]
        datasets = {os.path.abspath(f"{tmp}/test"): 12, os.path.abspath(f"{tmp}/other"): 6}

        # ---- sweep 1: every checkpoint, np=2 ----
        p = r.run(2, "sweep", "--models", f"{run}/", "--checkpoints", "all", "--grid", GRID,
                  *common)
        version, rows = history(db)
        assert version == 2, f"user_version {version}"
        points = [("greedy", None, None, None)] + [
            ("beam", 8, a, b) for a in (0.0, 2.0) for b in (0.0, 3.0)]
        assert len(rows) == len(ckpts) * len(points) * 2, \
            f"{len(rows)} rows for {len(ckpts)} ckpts x 2 datasets"
        assert len([x for x in p.stdout.splitlines() if x.startswith("WER ")]) == len(rows)
        assert f"skipped 0 of {len(rows)} point(s)" in p.stdout, p.stdout
        ckpt_digests, data_digests = {}, {}
        for ck in ckpts:
            with h5py.File(f"{run}/{ck}", "r") as f:
                step, epoch = int(f["extra/step"][0]), int(f["extra/epoch"][0])
            for data, n_utts in datasets.items():
                mine = [x for x in rows if x["checkpoint"] == os.path.abspath(f"{run}/{ck}")
                        and x["dataset"] == data]
                got = sorted((x["decoder"], x["beam"], x["alpha"], x["beta"]) for x in mine)
                assert got == sorted(points, key=lambda t: (t[0], t[1] or 0, t[2] or 0,
                                                            t[3] or 0)), f"{ck} {data}: {got}"
                for x in mine:
                    assert (x["step"], x["epoch"]) == (step, epoch), f"{ck}: step/epoch {x}"
                    assert x["ranks"] == 2 and x["utterances"] == n_utts and x["lm"] == (
                        os.path.abspath(lm) if x["decoder"] == "beam" else None)
                    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", x["time"]), x["time"]
                    assert x["git_commit"] and x["host"]
                    assert re.fullmatch(r"[0-9a-f]{16}", x["ckpt_digest"]), x
                    assert (x["lm_digest"] is None) == (x["decoder"] == "greedy"), x
                    ckpt_digests.setdefault(ck, set()).add(x["ckpt_digest"])
                    data_digests.setdefault(data, set()).add(x["data_digest"])
        # One digest per file and per dataset, all different (the files differ).
        assert all(len(v) == 1 for v in ckpt_digests.values()), ckpt_digests
        assert len({min(v) for v in ckpt_digests.values()}) == len(ckpts), ckpt_digests
        assert all(len(v) == 1 for v in data_digests.values()) and len(
            {min(v) for v in data_digests.values()}) == 2, data_digests
        assert len({x["settings"] for x in rows}) == len(points), "settings per grid point"
        # ---- the second path: ds2 eval at each grid point of two checkpoints ----
        wers = set()
        for ck in (ckpts[0], ckpts[-1]):
            for dec, beam, a, b in points:
                d = f"{tmp}/eval-{ck}-{dec}-{a}-{b}"
                opts = ["--decoder", "greedy"] if dec == "greedy" else [
                    "--decoder", "beam", "--beam", str(beam), "--lm", lm, "--alpha", str(a),
                    "--beta", str(b)]
                r.run(1, "eval", "--model", f"{run}/{ck}", "--data", f"{tmp}/test", "--out", d,
                      "--threads", "1", "--batch-size", "4", *opts)
                res = json.load(open(f"{d}/results.json"))
                row = [x for x in rows if x["checkpoint"] == os.path.abspath(f"{run}/{ck}") and
                       x["decoder"] == dec and x["alpha"] == a and x["beta"] == b and
                       x["dataset"] == os.path.abspath(f"{tmp}/test")]
                assert len(row) == 1, (ck, dec, a, b)
                row = row[0]
                for k in ("sub", "del", "ins", "words", "chars", "utterances"):
                    assert row[k] == res[k], f"{ck} {dec} a={a} b={b}: {k} {row[k]} != {res[k]}"
                assert abs(row["wer"] - res["wer"]) < 1e-12 and abs(row["cer"] - res["cer"]) < 1e-12
                wers.add(row["wer"])
        print(f"  sweep == eval at {2 * len(points)} points; WERs seen: "
              f"{sorted(round(w, 4) for w in wers)}")

        # ---- sweep 2: ckpt-best.h5 is a link of a scored checkpoint: nothing to do ----
        n = 2 * len(points)
        p = r.run(1, "sweep", "--models", f"{run}/", "--grid", GRID, *common)
        assert history(db)[1] == rows, "a sweep with nothing new changed the history"
        assert f"skipped {n} of {n} point(s): {n} already in the history" in p.stdout, p.stdout
        assert not [x for x in p.stdout.splitlines() if x.startswith("WER ")]
        # ... and read no checkpoint file again: ckpt-best.h5 is new to the digest cache (one read),
        # the step files were read by sweep 1.
        assert "checkpoint digests: 1 read, 0 unchanged files from the cache" in p.stderr or \
            "checkpoint digests: 0 read, 1 unchanged" in p.stderr, p.stderr[-2000:]
        # The dataset moved: same content, same digest, still nothing to do.
        shutil.move(f"{tmp}/other", f"{tmp}/other-moved")
        moved = [x if x != f"{tmp}/other" else f"{tmp}/other-moved" for x in common]
        p = r.run(1, "sweep", "--models", f"{run}/", "--grid", GRID, *moved)
        assert f"skipped {n} of {n} point(s)" in p.stdout, p.stdout
        assert "checkpoint digests: 0 read, 1 unchanged files from the cache" in p.stderr, \
            p.stderr[-2000:]
        shutil.move(f"{tmp}/other-moved", f"{tmp}/other")
        # --rescore scores them again.
        p = r.run(1, "sweep", "--models", f"{run}/", "--grid", GRID, "--rescore", *common)
        assert f"skipped 0 of {n} point(s)" in p.stdout, p.stdout
        _, rows2 = history(db)
        assert len(rows2) == len(rows) + n, f"{len(rows)} -> {len(rows2)} rows"
        assert rows2[:len(rows)] == rows, "the first sweep's rows changed"
        assert [x["id"] for x in rows2] == list(range(1, len(rows2) + 1))
        assert all(x["ranks"] == 1 for x in rows2[len(rows):])
        # The rescored rows measure what the first sweep measured: same keys, same counts.
        key = lambda x: (x["ckpt_digest"], x["data_digest"], x["lm_digest"], x["settings"])
        first = {key(x): x for x in rows}
        for x in rows2[len(rows):]:
            assert key(x) in first and first[key(x)]["sub"] == x["sub"] and \
                first[key(x)]["words"] == x["words"], x

        # ---- the report ----
        html = open(report, encoding="utf-8").read()
        svgs = re.findall(r"<svg.*?</svg>", html, flags=re.S)
        # A trend panel per dataset (one run), the heatmap, the run's loss and dev CER charts.
        assert len(svgs) == 5, f"{len(svgs)} svg charts"
        for s in svgs:
            ET.fromstring(s)  # well-formed XML
        assert "<script" not in html and "src=" not in html and "href=" not in html
        best = min(x["wer"] for x in rows2)
        assert f"<td>{100 * best:.2f}%</td>" in html, "best WER not in the table"
        assert "train loss" in html and "dev loss" in html and "Dev CER per epoch" in html
        assert "WER over the alpha x beta grid" in html
        assert "<h3>run on test</h3>" in html and "<h3>run on other</h3>" in html
        assert "Regressions" in html
        os.remove(report)
        p = r.run(1, "sweep", "--db", db, "--report", report)
        html2 = open(report, encoding="utf-8").read()
        assert f"{len(rows2)} results" in html2 and "train loss" in html2, "report rewrite"

        # ---- --fail-on-regression: the worst checkpoint again, as a later step ----
        best_of = {}
        for x in rows2:
            if x["dataset"] == os.path.abspath(f"{tmp}/test"):
                best_of[x["checkpoint"]] = min(best_of.get(x["checkpoint"], 9), x["wer"])
        worst = max(best_of, key=best_of.get)
        spread = best_of[worst] - min(best_of.values())
        late = f"{run}/ckpt-step999999.h5"
        shutil.copy(worst, late)
        with h5py.File(late, "r+") as f:
            f["extra/step"][0] = 999999
        one = ["--data", f"{tmp}/test", "--lm", lm, "--db", db, "--threads", "1",
               "--batch-size", "4", "--models", late, "--grid", GRID, "--fail-on-regression"]
        if spread > 0:
            p = r.run(1, "sweep", *one, "--regression-margin", str(spread / 2), expect_rc=4)
            assert "REGRESSION checkpoint: ckpt-step999999.h5 (step 999999) on test" in p.stdout, \
                p.stdout
            # Scored now, so skipped: a second night with a looser margin finds no new row.
            p = r.run(1, "sweep", *one, "--regression-margin", str(spread * 2), "--rescore")
            assert "REGRESSION" not in p.stdout, p.stdout
            # The report lists it (the page the screenshot test renders).
            r.run(1, "sweep", "--db", db, "--report", report, "--regression-margin",
                  str(spread / 2))
            html3 = open(report, encoding="utf-8").read()
            assert re.search(r"\d+ regression\(s\)", html3) and \
                "ckpt-step999999.h5 (step 999999) on test" in html3, "regression not in the report"
        else:
            print("  all checkpoints have the same WER: --fail-on-regression not exercised")
        if args.report_out:
            shutil.copy(report, args.report_out)
        os.remove(late)

        # ---- one-line errors ----
        check_fails(r, ["sweep", "--models", f"{run}/", "--grid", "alpha=0:x:2", *common],
                    "'alpha=0:x:2'")
        check_fails(r, ["sweep", "--models", f"{run}/nope.h5", *common], f"{run}/nope.h5")
        check_fails(r, ["sweep", "--models", f"{run}/", "--data", f"{tmp}/test",
                        "--db", f"{tmp}/no/such/dir/h.sqlite"], f"{tmp}/no/such/dir/h.sqlite")
        print(f"all sweep e2e checks passed in {time.time() - t0:.1f} s")
        return 0


if __name__ == "__main__":
    sys.exit(main())
