#!/usr/bin/env python3
"""The shared fixtures of the end-to-end tests: ctest runs each once (FIXTURES_SETUP) before the
tests that declare FIXTURES_REQUIRED on it, which take its folder as an argument and only read
it (a test that writes in or next to one copies it first: e2e_util.copy_fixture). A fixture is
a precondition, never a subject: tests of prep or train behaviour (resume, rejects, determinism,
a full disk) run their own commands.

  tone-corpus OUT   the tiny tone corpus (e2e_util.make_corpus, max_words 3) and its datasets:
                      OUT/corpus/train.tsv + train/   24 utterances, seed 1
                      OUT/corpus/test.tsv  + test/    12 utterances, seed 2
                      OUT/corpus/other.tsv + other/    6 utterances, seed 3
                      OUT/data   prep of train.tsv, np=2, 2 shards, share/alphabets/en.txt
                      OUT/test   prep of test.tsv,  np=2, 2 shards
                      OUT/other  prep of other.tsv, np=1, 1 shard
  tiny-model OUT    OUT/run: ds2-tiny trained on TONE/data with --dev TONE/test, np=1, batch 4,
                    3 epochs, lr 0.003, momentum 0.9 (metrics.csv, dev.csv, ckpt-step*.h5,
                    ckpt-last.h5 and ckpt-best.h5 as links of step checkpoints)
  demo-corpus OUT   for the Slurm tests: the 12-utterance espeak-ng demo corpus
                    (share/demo/make_corpus.py --max-utts 12 --seed 5) in OUT/corpus, prepared
                    (np=2, 2 shards) into OUT/data/train and OUT/data/dev; exits 77 (skipped)
                    without espeak-ng, and its tests then skip for the same reason

Safe to rerun: everything is made in OUT.tmp-PID and renamed to OUT when complete (the previous
OUT is renamed away first and removed after), so a killed setup never leaves a folder that
looks whole. The same inputs give the same bytes (tone corpus and demo corpus are seeded; prep
and np=1 training are deterministic), so a rerun changes no test's outcome.
Usage: e2e_fixtures.py tone-corpus --ds2 BUILD/ds2 --alphabet en.txt [--mpiexec M --mpiflags F] OUT
       e2e_fixtures.py tiny-model --ds2 BUILD/ds2 --config ds2-tiny.ini --tone-corpus DIR OUT
       e2e_fixtures.py demo-corpus --ds2 BUILD/ds2 --source SRC [--mpiexec M --mpiflags F] OUT
"""
import argparse
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_util import SKIP_RC, MpiRunner, make_corpus, run_cmd  # noqa: E402


def remove_stale(out):
    """Removes OUT.tmp-PID / OUT.old-PID folders whose process is gone (a setup killed by
    ctest's timeout leaves its temporary folder; a live one may be another ctest's)."""
    parent, base = os.path.split(out)
    for name in os.listdir(parent):
        stem, _, pid = name.rpartition("-")
        if stem not in (f"{base}.tmp", f"{base}.old") or not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(os.path.join(parent, name), ignore_errors=True)
        except PermissionError:
            pass


def publish(tmp, out):
    """Renames the finished folder `tmp` to `out`, replacing a previous `out`."""
    old = f"{out}.old-{os.getpid()}"
    if os.path.exists(out):
        os.rename(out, old)
    os.rename(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def tone_corpus(a, tmp):
    r = MpiRunner(a)
    for name, count, seed, np_, shards, out in (("train", 24, 1, 2, 2, "data"),
                                                ("test", 12, 2, 2, 2, "test"),
                                                ("other", 6, 3, 1, 1, "other")):
        m, _ = make_corpus(f"{tmp}/corpus", name, count, seed)
        r.run(np_, "prep", "--manifest", m, "--out", f"{tmp}/{out}", "--shards", str(shards),
              "--alphabet", a.alphabet, "-v", "0")


def tiny_model(a, tmp):
    run_cmd([a.ds2, "train", "--data", f"{a.tone_corpus}/data", "--dev", f"{a.tone_corpus}/test",
             "--config", a.config, "--out", f"{tmp}/run", "--batch-size", "4", "--epochs", "3",
             "--lr", "0.003", "--momentum", "0.9", "--model.num_threads", "1", "--log-every",
             "1000"], "ds2 train (tiny_model)")


def demo_corpus(a, tmp):
    run_cmd(["/usr/bin/python3", f"{a.source}/share/demo/make_corpus.py", "--out",
             f"{tmp}/corpus", "--max-utts", "12", "--jobs", "2", "--seed", "5"],
            "make_corpus.py --max-utts 12")
    r = MpiRunner(a)
    for split in ("train", "dev"):
        r.run(2, "prep", "--manifest", f"{tmp}/corpus/{split}.tsv", "--out",
              f"{tmp}/data/{split}", "--shards", "2", "--threads", "1", "-v", "0")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("fixture", choices=("tone-corpus", "tiny-model", "demo-corpus"))
    ap.add_argument("out", help="the fixture's folder")
    ap.add_argument("--ds2", required=True)
    ap.add_argument("--mpiexec", default="mpiexec")
    ap.add_argument("--mpiflags", default="")
    ap.add_argument("--alphabet", help="tone-corpus: share/alphabets/en.txt")
    ap.add_argument("--config", help="tiny-model: share/configs/ds2-tiny.ini")
    ap.add_argument("--tone-corpus", help="tiny-model: the tone-corpus fixture's folder")
    ap.add_argument("--source", help="demo-corpus: the source tree")
    a = ap.parse_args()
    need = {"tone-corpus": ("alphabet",), "tiny-model": ("config", "tone_corpus"),
            "demo-corpus": ("source",)}[a.fixture]
    missing = [n for n in need if getattr(a, n) is None]
    if missing:
        ap.error(f"{a.fixture} needs --{missing[0].replace('_', '-')}")
    if a.fixture == "demo-corpus" and shutil.which("espeak-ng") is None:
        print("SKIP: espeak-ng not installed (the demo corpus; scripts/install-deps.sh)")
        return SKIP_RC
    t0 = time.time()
    out = os.path.abspath(a.out)
    tmp = f"{out}.tmp-{os.getpid()}"
    os.makedirs(os.path.dirname(out), exist_ok=True)
    remove_stale(out)
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        {"tone-corpus": tone_corpus, "tiny-model": tiny_model, "demo-corpus": demo_corpus}[
            a.fixture](a, tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    publish(tmp, out)
    print(f"fixture {a.fixture}: {out} in {time.time() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
