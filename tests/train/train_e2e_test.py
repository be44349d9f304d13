#!/usr/bin/env python3
"""End-to-end tests of `ds2 train` through mpirun on a tiny synthetic corpus.

The corpus is learnable on purpose: each letter is 80 ms of a tone at its own frequency (a space
is 80 ms of near-silence), so ds2-tiny can map sound to text within a few epochs.
Checks, each against an independent expectation:
  * resume is exact: 2 epochs straight == 1 epoch + stop + resume (stopped mid-epoch 2 by the
    hidden --stop-after-steps, then resumed again), compared bit for bit on every parameter,
    batch-norm buffer and the optimizer's velocity in the final checkpoints;
  * a real SIGTERM to the ds2 processes while training: exit 0, a checkpoint at the step the
    metrics CSV ends on, and a resume that completes the run;
  * learning: ds2-tiny's mean training loss over the last epoch is below LOSS_FACTOR x the
    first epoch's, and the dev greedy CER falls (and equals `ds2 eval`'s on the last checkpoint);
  * --resume on data prepared with other feature settings is refused, naming the field;
  * --resume with a changed schedule option (--sortagrad), model option (model.bn_momentum) or a
    dataset prepared from other inputs is refused naming the field and leaving the run as it
    was, while the same data re-prepared into another folder resumes;
  * a replica that diverges (one rank's parameter perturbed by the hidden --perturb-at-step)
    aborts the job within one check interval, naming the rank and the tensor;
  * a shard that fails its checksum aborts the whole job with the shard and utterance named.
Usage: train_e2e_test.py --ds2 BUILD/ds2 --config share/configs/ds2-tiny.ini
       [--mpiexec mpiexec] [--mpiflags "..."] [--keep DIR]
"""
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from e2e_util import MpiRunner, e2e_parser, make_corpus, work_dir  # noqa: E402

LOSS_FACTOR = 0.5



class Runner(MpiRunner):
    def __init__(self, args, tmp):
        super().__init__(args)
        self.tmp = tmp

    def train(self, out, *extra, np_=2, expect_rc=0):
        return self.run(np_, "train", "--data", f"{self.tmp}/data", "--config", self.args.config,
                        "--out", f"{self.tmp}/{out}", "--batch-size", "8", "--lr", "0.003",
                        "--momentum", "0.9", "--anneal", "1.05", "--allreduce", "ring",
                        "--model.num_threads", "1", "--log-every", "1000", *extra,
                        expect_rc=expect_rc)


def ckpt_arrays(path):
    out = {}
    with h5py.File(path, "r") as f:
        for group in ("params", "buffers"):
            for k, v in f[group].items():
                out[f"{group}/{k}"] = v[()]
        out["extra/velocity"] = f["extra/velocity"][()]
        out["extra/bn_per_rank"] = f["extra/bn_per_rank"][()]
        out["step"] = f["extra/step"][()]
    return out


def metrics(run_dir):
    with open(f"{run_dir}/metrics.csv") as f:
        return list(csv.DictReader(f))


def epoch_losses(rows):
    by = {}
    for r in rows:
        by.setdefault(int(r["epoch"]), []).append(float(r["loss"]))
    return [float(np.mean(by[e])) for e in sorted(by)]


def check_bit_exact(r, tmp):
    r.train("straight", "--epochs", "2")
    r.train("resumed", "--epochs", "1")
    steps_per_epoch = int(metrics(f"{tmp}/resumed")[-1]["step"])
    stop_at = steps_per_epoch + 2  # mid-epoch 2
    r.train("resumed", "--epochs", "2", "--resume", "--stop-after-steps", str(stop_at))
    last = h5py.File(f"{tmp}/resumed/ckpt-last.h5", "r")
    assert int(last["extra/step"][0]) == stop_at, "the stop checkpoint is not at the stop step"
    assert int(last["extra/batch"][0]) == 2 and int(last["extra/epoch"][0]) == 1
    last.close()
    r.train("resumed", "--epochs", "2", "--resume")
    a = ckpt_arrays(f"{tmp}/straight/ckpt-last.h5")
    b = ckpt_arrays(f"{tmp}/resumed/ckpt-last.h5")
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
        assert a[k].tobytes() == b[k].tobytes(), f"{k} differs after stop + resume"
    ra, rb = metrics(f"{tmp}/straight"), metrics(f"{tmp}/resumed")
    assert [x["loss"] for x in ra] == [x["loss"] for x in rb], "metrics differ"
    print(f"bit-exact: {len(a)} arrays equal after {steps_per_epoch} steps/epoch, "
          f"stop at step {stop_at}")
    return steps_per_epoch


def ds2_children(mpirun_pid):
    kids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = open(f"/proc/{pid}/stat").read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == mpirun_pid:
            kids.append(int(pid))
    return kids


def start_training(r, out, *extra):
    cmd = r.cmd(2, "train", "--data", f"{r.tmp}/data", "--config", r.args.config, "--out", out,
                "--batch-size", "4", "--epochs", "400", "--model.num_threads", "1",
                "--allreduce", "ring", *extra)
    # 400 epochs (4,800 steps) outlast the signal latency: mpirun forwards a SIGTERM to its
    # process group a second or more after it arrives, by when ds2-tiny has run ~200 steps; with
    # 40 epochs a loaded machine once finished the whole run before the stop arrived.
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         env=r.env, start_new_session=True)
    rows0 = len(metrics(out)) if os.path.exists(f"{out}/metrics.csv") else 0
    deadline = time.time() + 60
    while time.time() < deadline:  # wait for two more steps
        if os.path.exists(f"{out}/metrics.csv") and len(metrics(out)) >= rows0 + 2:
            break
        time.sleep(0.05)
    return p


def check_stopped(p, out, what):
    log, _ = p.communicate(timeout=120)
    assert "stopped after step" in log, f"{what}: no stop\n{log[-3000:]}"
    rows = metrics(out)
    with h5py.File(f"{out}/ckpt-last.h5", "r") as f:
        step = int(f["extra/step"][0])
    assert step == int(rows[-1]["step"]), f"{what}: checkpoint step {step} vs {rows[-1]['step']}"
    return step


def check_sigterm(r, tmp):
    out = f"{tmp}/sig"
    # 1. SIGTERM to mpirun's process group: Open MPI's mpirun forwards it to the ranks, which
    #    finish the step and checkpoint; mpirun itself then exits 1 whatever the ranks return.
    p = start_training(r, out)
    os.killpg(p.pid, signal.SIGTERM)
    s1 = check_stopped(p, out, "SIGTERM to the mpirun process group")
    # 2. As Slurm does at a time limit: SIGTERM to every task. Each rank exits 0, so does mpirun.
    p = start_training(r, out, "--resume")
    kids = ds2_children(p.pid)
    assert kids, "no ds2 processes found under mpirun"
    for k in kids:
        os.kill(k, signal.SIGTERM)
    s2 = check_stopped(p, out, "SIGTERM to the ranks")
    assert p.returncode == 0, f"SIGTERM to the ranks: rc {p.returncode}"
    assert s2 > s1
    # 3. Resume to the end of the epoch it stopped in (--epochs may change on resume).
    with h5py.File(f"{out}/ckpt-last.h5", "r") as f:
        epochs = int(f["extra/epoch"][0]) + 1
    r.run(2, "train", "--data", f"{tmp}/data", "--config", r.args.config, "--out", out,
          "--batch-size", "4", "--epochs", str(epochs), "--model.num_threads", "1",
          "--allreduce", "ring", "--resume")
    rows = metrics(out)
    steps = [int(x["step"]) for x in rows]
    assert steps == list(range(1, len(steps) + 1)), "metrics steps not contiguous after resume"
    assert int(rows[-1]["epoch"]) == epochs
    print(f"SIGTERM: stopped at step {s1} (process group), {s2} (ranks), resumed to {steps[-1]}")


def check_feature_settings(ckpt, index):
    """The checkpoint stores the training index's feature settings (what transcribe uses)."""
    with h5py.File(ckpt, "r") as c, h5py.File(index, "r") as i:
        for key in ("sample_rate", "window_ms", "hop_ms", "n_bins"):
            assert c[f"extra/feature.{key}"][()].tolist() == [i.attrs[key]], (key, i.attrs[key])
        kind = c["extra/feature.kind"][()][0]
        kind = kind.decode() if isinstance(kind, bytes) else kind
        want = i.attrs["feature"]
        assert kind == (want.decode() if isinstance(want, bytes) else want), (kind, want)


def check_learning(r, tmp, epochs):
    r.train("straight", "--epochs", str(epochs), "--resume", "--dev", f"{tmp}/dev")
    losses = epoch_losses(metrics(f"{tmp}/straight"))
    with open(f"{tmp}/straight/dev.csv") as f:
        dev = list(csv.DictReader(f))
    print("epoch mean loss: " + " ".join(f"{x:.1f}" for x in losses))
    print("dev CER: " + " ".join(f"{float(x['dev_cer']):.3f}" for x in dev))
    assert losses[-1] < LOSS_FACTOR * losses[0], f"loss {losses[0]:.2f} -> {losses[-1]:.2f}"
    assert float(dev[-1]["dev_cer"]) < float(dev[0]["dev_cer"]), "dev CER did not fall"
    assert os.path.exists(f"{tmp}/straight/ckpt-best.h5")
    # The dev CER printed during training is `ds2 eval`'s greedy CER for the same checkpoint.
    r.run(2, "eval", "--model", f"{tmp}/straight/ckpt-last.h5", "--data", f"{tmp}/dev",
          "--out", f"{tmp}/eval-last", "--decoder", "greedy", "--batch-size", "8")
    with open(f"{tmp}/eval-last/results.json") as f:
        cer = json.load(f)["cer"]
    assert abs(cer - float(dev[-1]["dev_cer"])) < 1e-9, (cer, dev[-1]["dev_cer"])
    check_feature_settings(f"{tmp}/straight/ckpt-best.h5", f"{tmp}/data/index.h5")
    kept = [x for x in os.listdir(f"{tmp}/straight") if x.startswith("ckpt-step")]
    assert len(kept) == 3, kept


def check_resume_features(r, tmp, manifest, alphabet):
    """--resume on data prepared with other feature settings is refused, naming both files and
    the field; the run it would have continued is left as it was."""
    other = f"{tmp}/data-log1p"
    r.run(2, "prep", "--manifest", manifest, "--out", other, "--shards", "2", "--alphabet",
          alphabet, "--feature", "log1p")
    run = f"{tmp}/featrun"
    shutil.copytree(f"{tmp}/straight", run)
    before = open(f"{run}/metrics.csv").read()
    p = r.run(2, "train", "--data", other, "--config", r.args.config, "--out", run,
              "--batch-size", "8", "--epochs", "99", "--model.num_threads", "1", "--resume",
              expect_rc=None)
    text = p.stdout + p.stderr
    assert p.returncode != 0, "--resume on differently featurized data was not refused"
    line = next((x for x in text.splitlines() if "feature setting" in x), "")
    assert "'feature'" in line and "ckpt-last.h5" in line and "data-log1p/index.h5" in line, text
    assert open(f"{run}/metrics.csv").read() == before, "the refused resume changed metrics.csv"
    print(f"resume with other features refused: {line.strip()[:160]}")


def check_resume_refusals(r, tmp, manifest, alphabet, epochs):
    """--resume compares the options and the dataset digest of the run it continues. The oracle
    is what was changed: each refusal must name that field, and leave metrics.csv as it was."""
    run = f"{tmp}/refusals"
    shutil.copytree(f"{tmp}/straight", run)
    before = open(f"{run}/metrics.csv").read()
    for what, data, extra, needle in (
            ("sortagrad", f"{tmp}/data", ("--sortagrad=0",), "option 'sortagrad' is true"),
            ("model", f"{tmp}/data", ("--model.bn_momentum", "0.2"), "option 'model.bn_momentum'"),
            ("dataset", f"{tmp}/dev", (), "is not the one the run was trained on")):
        p = r.run(2, "train", "--data", data, "--config", r.args.config, "--out", run,
                  "--batch-size", "8", "--lr", "0.003", "--momentum", "0.9", "--anneal", "1.05",
                  "--epochs", str(epochs + 1), "--model.num_threads", "1", "--resume", *extra,
                  expect_rc=None)
        text = p.stdout + p.stderr
        assert p.returncode != 0, f"--resume with another {what} was not refused"
        line = next((x for x in text.splitlines() if needle in x), "")
        assert line and "ckpt-last.h5" in line, f"{what}: refusal not named:\n{text[-2000:]}"
        assert open(f"{run}/metrics.csv").read() == before, f"refused {what} changed metrics.csv"
        print(f"resume with other {what} refused: {line.strip()[:150]}")
    # The same inputs prepared again elsewhere: the same digest, so the run resumes (nothing left
    # to train at --epochs {epochs}: it ends at once, successfully).
    again = f"{tmp}/data-again"
    r.run(2, "prep", "--manifest", manifest, "--out", again, "--shards", "3", "--alphabet",
          alphabet)
    r.run(2, "train", "--data", again, "--config", r.args.config, "--out", run, "--batch-size",
          "8", "--lr", "0.003", "--momentum", "0.9", "--anneal", "1.05", "--epochs", str(epochs),
          "--model.num_threads", "1", "--resume", "--log-every", "5")
    print("resume on the same data re-prepared elsewhere: accepted")


def check_replica_divergence(r, tmp):
    """One rank's parameter nudged before step 3: the check after step 4 (every 2 steps) must
    abort the job, naming the last rank and the first parameter tensor."""
    p = r.train("diverge", "--epochs", "1", "--replica-check-every", "2", "--perturb-at-step",
                "3", expect_rc=None)
    text = p.stdout + p.stderr
    assert p.returncode != 0, "a diverged replica did not stop the job"
    line = next((x for x in text.splitlines() if "replicas diverged" in x), "")
    assert "at step 4" in line and "rank 1 differs from rank 0" in line and "conv0" in line, text[-3000:]
    print(f"diverged replica: rc {p.returncode}: {line.strip()[:160]}")


def check_bad_shard(r, tmp):
    bad = f"{tmp}/bad"
    shutil.copytree(f"{tmp}/data", bad)
    shard = sorted(x for x in os.listdir(bad) if x.endswith(".h5") and x != "index.h5")[0]
    with h5py.File(f"{bad}/{shard}", "r") as f:
        ds = f["features"]
        offset = ds.id.get_offset()
        chunk = ds.id.get_chunk_info(0) if offset is None else None
        where = offset if offset is not None else chunk.byte_offset
    with open(f"{bad}/{shard}", "r+b") as f:
        f.seek(where + 64)
        b = f.read(16)
        f.seek(where + 64)
        f.write(bytes(x ^ 0xFF for x in b))
    p = r.run(2, "train", "--data", bad, "--config", r.args.config, "--out", f"{tmp}/badrun",
              "--batch-size", "8", "--epochs", "1", "--model.num_threads", "1", expect_rc=None)
    text = p.stdout + p.stderr
    assert p.returncode != 0, "a corrupt shard did not fail the job"
    assert shard in text and "utterance" in text, f"shard/utterance not named:\n{text[-2000:]}"
    print(f"bad shard: rc {p.returncode}, named {shard}")


def main():
    ap = e2e_parser()
    ap.add_argument("--epochs", type=int, default=12)
    args = ap.parse_args()
    t0 = time.time()
    with work_dir(args.keep, "ds2-train-e2e-") as tmp:
        r = Runner(args, tmp)
        alphabet = os.path.join(os.path.dirname(args.config), "..", "alphabets", "en.txt")
        manifests = {}
        for name, count, seed in (("train", 48, 1), ("dev", 12, 2)):
            m, _ = make_corpus(tmp, name, count, seed, max_words=2)
            manifests[name] = m
            r.run(2, "prep", "--manifest", m, "--out", f"{tmp}/{'data' if name == 'train' else 'dev'}",
                  "--shards", "3", "--alphabet", alphabet)
        check_bit_exact(r, tmp)
        check_sigterm(r, tmp)
        check_learning(r, tmp, args.epochs)
        check_resume_features(r, tmp, manifests["dev"], alphabet)
        check_resume_refusals(r, tmp, manifests["train"], alphabet, args.epochs)
        check_replica_divergence(r, tmp)
        check_bad_shard(r, tmp)
        print(f"all train e2e checks passed in {time.time() - t0:.1f} s")
        return 0


if __name__ == "__main__":
    sys.exit(main())
