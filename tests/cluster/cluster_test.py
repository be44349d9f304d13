#!/usr/bin/env python3
"""Multi-node ds2 on a simulated cluster (tests/cluster/cluster.sh: 4 network-namespace nodes
with 1 Gbit/s token-bucket links, Open MPI over TCP, mpirun reaching the nodes through a launch
agent).

Checks, each against the same job run on ONE node (plain mpiexec on this machine, the oracle:
ds2's results must not depend on where the ranks run):
  * prep across 2 nodes writes the same utterances, features and labels as on one node;
  * train (ds2-tiny, ring all-reduce) across 2 nodes x 1 rank, 2 nodes x 2 ranks and 4 nodes x 1
    rank ends with bit-identical parameters, batch-norm statistics and momentum;
  * eval across 2 nodes writes the same hypotheses and WER;
  * a node killed mid-training (SIGKILL to every process in its namespace) ends the job within
    60 s, naming the node (by its address, 198.18.0.2, as the hostfile lists it), and a rerun with --resume continues from the last checkpoint with
    contiguous metrics.
The cluster is torn down at the end, also after a failure. Exits 77 (skipped) without root or
network namespaces. Usage: cluster_test.py --ds2 BUILD/ds2 --config ds2-tiny.ini
       [--mpiexec mpiexec --mpiflags "..."] [--keep DIR]
"""
import csv
import json
import os
import subprocess
import sys
import time

import h5py

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from e2e_util import ENV, SKIP_RC, e2e_parser, run_cmd, work_dir  # noqa: E402
from e2e_util import make_corpus  # noqa: E402

CLUSTER = os.path.join(HERE, "cluster.sh")
NODES = 4


class Jobs:
    def __init__(self, args, tmp):
        self.args, self.tmp = args, tmp

    def local(self, np_, *a, expect_rc=0):
        cmd = [self.args.mpiexec, "-np", str(np_), *self.args.mpiflags.split(), self.args.ds2, *a]
        return run_cmd(cmd, f"one node, np={np_}: ds2 {a[0]}", expect_rc)

    def cluster_cmd(self, nodes, ppn, *a):
        return [CLUSTER, "mpirun", "--nodes", str(nodes), "--ppn", str(ppn), "-np",
                str(nodes * ppn), "-x", "OMP_NUM_THREADS=1", "-x", "OPENBLAS_NUM_THREADS=1",
                self.args.ds2, *a]

    def cluster(self, nodes, ppn, *a, expect_rc=0):
        return run_cmd(self.cluster_cmd(nodes, ppn, *a),
                       f"{nodes} nodes x {ppn}: ds2 {a[0]}", expect_rc)

    def train_args(self, out, epochs, *extra):
        return ("train", "--data", f"{self.tmp}/data", "--config", self.args.config, "--out",
                f"{self.tmp}/{out}", "--batch-size", "8", "--epochs", str(epochs), "--lr", "0.003",
                "--allreduce", "ring", "--model.num_threads", "1", "--log-every", "1000", *extra)


def value(ds):
    """A dataset's content, comparable with ==: bytes for numbers, a list for strings."""
    v = ds[()]
    return v.tolist() if v.dtype.kind == "O" else v.tobytes()


def arrays(path, groups):
    out = {}
    with h5py.File(path, "r") as f:
        for g in groups:
            for k, v in f[g].items():
                out[f"{g}/{k}"] = value(v)
    return out


def ckpt(path):
    a = arrays(path, ("params", "buffers"))
    with h5py.File(path, "r") as f:
        for k in ("velocity", "bn_per_rank", "step"):
            a[k] = f[f"extra/{k}"][()].tobytes()
    return a


def check_prep(j, tmp, manifest, alphabet):
    j.local(2, "prep", "--manifest", manifest, "--out", f"{tmp}/data-local", "--shards", "3",
            "--alphabet", alphabet)
    j.cluster(2, 1, "prep", "--manifest", manifest, "--out", f"{tmp}/data", "--shards", "3",
              "--alphabet", alphabet)
    a, b = f"{tmp}/data-local", f"{tmp}/data"
    with h5py.File(f"{a}/index.h5") as x, h5py.File(f"{b}/index.h5") as y:
        for k in ("utt_id", "utt_shard", "utt_row", "utt_frames", "stats_mean", "stats_std"):
            assert value(x[k]) == value(y[k]), f"prep: index {k} differs"
        shards = [s.decode() if isinstance(s, bytes) else s for s in x["shards"][()]]
    for s in shards:
        assert arrays(f"{a}/{s}", ("/",)) == arrays(f"{b}/{s}", ("/",)), f"prep: {s} differs"
    print(f"prep: 2 nodes == 1 node ({len(shards)} shards)")


def check_train(j, tmp):
    j.local(2, *j.train_args("local2", 2))
    j.local(4, *j.train_args("local4", 2))
    want = {2: ckpt(f"{tmp}/local2/ckpt-last.h5"), 4: ckpt(f"{tmp}/local4/ckpt-last.h5")}
    for nodes, ppn in ((2, 1), (2, 2), (4, 1)):
        out = f"n{nodes}x{ppn}"
        j.cluster(nodes, ppn, *j.train_args(out, 2))
        got = ckpt(f"{tmp}/{out}/ckpt-last.h5")
        bad = [k for k in want[nodes * ppn] if got[k] != want[nodes * ppn][k]]
        assert not bad, f"train {nodes} nodes x {ppn}: differs from one node in {bad[:5]}"
        print(f"train: {nodes} nodes x {ppn} rank(s) == one node, np={nodes * ppn}, bit for bit")


def check_eval(j, tmp):
    model = f"{tmp}/local2/ckpt-last.h5"
    common = ("eval", "--model", model, "--data", f"{tmp}/dev", "--batch-size", "4",
              "--threads", "1")
    j.local(2, *common, "--out", f"{tmp}/eval-local")
    j.cluster(2, 1, *common, "--out", f"{tmp}/eval-cluster")
    for fn in ("hyp.trn", "ref.trn", "results.json"):
        a = open(f"{tmp}/eval-local/{fn}").read()
        b = open(f"{tmp}/eval-cluster/{fn}").read()
        if fn == "results.json":  # everything but timings and the rank layout
            a, b = json.loads(a), json.loads(b)
            a = {k: v for k, v in a.items() if k in ("wer", "cer", "utterances", "words")}
            b = {k: v for k, v in b.items() if k in a}
        assert a == b, f"eval: {fn} differs between 2 nodes and one node"
    print("eval: 2 nodes == 1 node (hypotheses, WER)")


def metrics_steps(run):
    with open(f"{run}/metrics.csv") as f:
        return [int(r["step"]) for r in csv.DictReader(f)]


def check_node_failure(j, tmp):
    run = f"{tmp}/killed"
    p = subprocess.Popen(j.cluster_cmd(2, 1, *j.train_args("killed", 400, "--checkpoint-every",
                                                           "4")),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV)
    deadline = time.time() + 120
    while time.time() < deadline:
        if os.path.exists(f"{run}/ckpt-last.h5") and len(metrics_steps(run)) >= 10:
            break
        time.sleep(0.1)
    else:
        p.kill()
        raise AssertionError("training across 2 nodes made no progress")
    t0 = time.time()
    subprocess.run([CLUSTER, "kill", "1"], check=True)
    try:
        out, _ = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        raise AssertionError("the job hung for 60 s after node1 was killed")
    waited = time.time() - t0
    assert p.returncode != 0, "the job exited 0 after a node was killed"
    # Open MPI names a node by its hostfile entry: node1 is 198.18.0.2.
    assert "198.18.0.2" in out, f"the failing node is not named:\n{out[-3000:]}"
    line = next((x for x in out.splitlines() if "198.18.0.2" in x), "")
    print(f"node failure: job ended {waited:.1f} s after node1 was killed, rc {p.returncode}: "
          f"{line.strip()[:150]}")
    with h5py.File(f"{run}/ckpt-last.h5") as f:
        step = int(f["extra/step"][0])
    j.cluster(2, 1, *j.train_args("killed", 400, "--resume", "--stop-after-steps",
                                  str(step + 3)))
    steps = metrics_steps(run)
    assert steps == list(range(1, len(steps) + 1)) and steps[-1] == step + 3, \
        f"metrics not contiguous after the resume: ... {steps[-6:]}"
    print(f"node failure: resumed from step {step} to {steps[-1]} with contiguous metrics")


def main():
    ap = e2e_parser()
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("SKIPPED: the simulated cluster needs root (ip netns, tc)")
        return SKIP_RC
    t0 = time.time()
    try:
        subprocess.run([CLUSTER, "up", str(NODES), "--rate", "1gbit"], check=True)
    except subprocess.CalledProcessError:
        subprocess.run([CLUSTER, "down"])
        print("SKIPPED: cluster.sh up failed (network namespaces or tc not permitted here)")
        return SKIP_RC
    try:
        with work_dir(args.keep, "ds2-cluster-") as tmp:
            j = Jobs(args, tmp)
            alphabet = os.path.join(os.path.dirname(args.config), "..", "alphabets", "en.txt")
            m_train, _ = make_corpus(tmp, "train", 32, 1, max_words=2)
            m_dev, _ = make_corpus(tmp, "dev", 8, 2, max_words=2)
            check_prep(j, tmp, m_train, alphabet)
            j.local(2, "prep", "--manifest", m_dev, "--out", f"{tmp}/dev", "--shards", "2",
                    "--alphabet", alphabet)
            check_train(j, tmp)
            check_eval(j, tmp)
            check_node_failure(j, tmp)
    finally:
        subprocess.run([CLUSTER, "down"])
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    prefix = os.environ.get("DS2_CLUSTER_PREFIX", "ds2c")
    assert f"{prefix}-" not in left, f"namespaces left behind: {left}"
    print(f"all cluster checks passed in {time.time() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
