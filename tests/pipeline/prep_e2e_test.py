#!/usr/bin/env python3
"""End-to-end tests of `ds2 prep` through mpirun on a small generated corpus.

Checks, each against an independent expectation:
  * every bad-input case ends in rejects.tsv with its reason, and accepted + rejected = rows;
  * utterance ids are file stems (a non-ASCII name, an absolute path) or the explicit id column;
    a name with a space or parentheses, an invalid explicit id and two rows given one id are
    rejected with their reasons;
  * np=1 and np=3 give byte-identical shard contents and index (rank count does not matter);
  * frame counts follow 1 + (n - 320) // 160 and labels decode back to the transcript;
  * a rank killed with SIGKILL mid-shard, then a rerun: same shards as a clean run, no
    duplicates or gaps, no temporary files left;
  * a rerun reuses finished shards; h5dump reads every file.
Usage: prep_e2e_test.py --ds2 BUILD/ds2 [--mpiexec mpiexec] [--mpiflags "..."] [--keep DIR]
"""
import math
import os
import subprocess
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from e2e_util import RATE, MpiRunner, e2e_parser, work_dir, write_wav  # noqa: E402


def tone(seconds, freq, seed, rate=RATE):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    return 0.3 * np.sin(2 * math.pi * freq * t) + 0.01 * rng.standard_normal(t.size)


def make_corpus(d):
    """Returns (manifest path, expected accepted ids, expected rejects {line: reason part})."""
    os.makedirs(f"{d}/wav")
    rows, good, bad = [], [], {}
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    for i in range(14):
        dur = 0.4 + (i * 7 % 11) * 0.23
        write_wav(f"{d}/wav/g{i:02d}.wav", tone(dur, 200 + 40 * i, i))
        text = " ".join(words[(i + k) % len(words)] for k in range(1 + i % 4))
        rows.append(f"wav/g{i:02d}.wav\t{'' if i % 3 == 0 else f'{dur:.3f}'}\t{text.title()}.")
        good.append(f"g{i:02d}")  # stems are unique: ids are stems
    # Other formats of good audio: flac, 44.1 kHz stereo, raw PCM.
    write_wav(f"{d}/src.wav", tone(1.2, 330, 99))
    subprocess.run(["sox", f"{d}/src.wav", f"{d}/wav/f.flac"], check=True)
    subprocess.run(["sox", f"{d}/src.wav", "-r", "44100", "-c", "2", f"{d}/wav/st.wav"], check=True)
    pcm = (tone(0.9, 500, 7) * 32767).astype("<i2")
    open(f"{d}/wav/r.raw", "wb").write(pcm.tobytes())
    rows += ["wav/f.flac\t\tflac file", "wav/st.wav\t\tstereo forty four k", "wav/r.raw\t\traw pcm"]
    good += ["f", "st", "r"]
    # Ids: a non-ASCII file name, an explicit id column, an absolute path.
    write_wav(f"{d}/wav/\u00fcn\u00ef.wav", tone(0.8, 280, 21))
    write_wav(f"{d}/wav/e1.wav", tone(0.7, 290, 22))
    write_wav(f"{d}/abs1.wav", tone(0.6, 300, 23))
    rows += ["wav/\u00fcn\u00ef.wav\t\tnon ascii name", "wav/e1.wav\t\texplicit id\tspk9-e1",
             f"{os.path.abspath(d)}/abs1.wav\t\tabsolute path"]
    good += ["\u00fcn\u00ef", "spk9-e1", "abs1"]
    # Bad inputs, one per case (line numbers are 1-based rows of the manifest).
    open(f"{d}/wav/text.wav", "w").write("this is not audio\n" * 20)
    write_wav(f"{d}/wav/empty.wav", np.zeros(0))
    write_wav(f"{d}/wav/long.wav", tone(6.0, 250, 5))
    for k in range(5):
        write_wav(f"{d}/wav/ok{k}.wav", tone(1.0, 250, 6 + k))
    cases = [
        ("wav/missing.wav\t\tmissing file", "cannot open"),
        ("wav/text.wav\t\tundecodable", "wav/text.wav"),
        ("wav/empty.wav\t\tempty audio", "empty"),
        ("wav/long.wav\t\ttoo long", "too long"),
        ("wav/ok0.wav\t1.0\troute 66", "'6' (U+0036) not in alphabet"),
        (b"wav/ok1.wav\t1.0\tbad \xff bytes", "not valid UTF-8"),
        ("wav/ok2.wav\tonly two fields", "expected 3 tab-separated fields"),
        ("wav/ok3.wav\tabc\tbad duration", "field 'duration'"),
        ("wav/ok4.wav\t1.0\t!!!", "field 'transcript': empty"),
        ("wav/g00.wav\t\tduplicate row", "duplicate utterance id"),
        ("wav/with space.wav\t\tspace in the name", "utterance id 'with space' holds a space"),
        ("wav/take(2).wav\t\tparentheses", "utterance id 'take(2)' holds '('"),
        ("wav/ok0.wav\t\tbad explicit id\tno good", "utterance id 'no good' holds a space"),
        # Two files given the same id: both rejected, each naming the other (explicit ids, so the
        # derived ids above stay stems: a repeated stem would make every derived id a path).
        ("wav/dup.wav\t\tsame id\tdupid", "utterance id 'dupid' collides with line"),
        ("wav/dup.flac\t\tsame id\tdupid", "utterance id 'dupid' collides with line"),
    ]
    for name in ("with space", "take(2)", "dup"):
        write_wav(f"{d}/wav/{name}.wav", tone(0.5, 310, 24))
    subprocess.run(["sox", f"{d}/wav/dup.wav", f"{d}/wav/dup.flac"], check=True)
    lines = [r.encode() for r in rows]
    for row, reason in cases:
        lines.append(row if isinstance(row, bytes) else row.encode())
        bad[len(lines)] = reason
    manifest = f"{d}/train.tsv"
    open(manifest, "wb").write(b"\n".join(lines) + b"\n")
    return manifest, good, bad


class Runner(MpiRunner):
    def prep(self, np_, manifest, out, *extra, expect_ok=True, shards=5):
        """`ds2 prep` of `manifest` into `out` under mpiexec -np np_ (-v 0 unless extra sets -v);
        with expect_ok, an exit status other than 0 fails the test."""
        verbosity = [] if "-v" in extra else ["-v", "0"]
        return self.run(np_, "prep", "--manifest", manifest, "--out", out, "--shards", str(shards),
                        "--max-duration", "5", *verbosity, *extra,
                        expect_rc=0 if expect_ok else None)


def shard_contents(out):
    """All datasets and attributes of every shard and the index, as comparable values."""
    res = {}
    for name in sorted(os.listdir(out)):
        if not name.endswith(".h5"):
            continue
        with h5py.File(f"{out}/{name}", "r") as f:
            for k, v in f.attrs.items():
                if k != "command":
                    res[(name, "@" + k)] = np.asarray(v).tobytes() if not isinstance(v, str) else v
            for k in f:
                res[(name, k)] = f[k][()].tobytes() if f[k].dtype.kind != "O" else list(f[k][()])
    return res


failures = []
checks = 0


def check(cond, what):
    global checks
    checks += 1
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def main():
    ap = e2e_parser(config=False)
    ap.set_defaults(mpiflags="--oversubscribe --allow-run-as-root")
    args = ap.parse_args()
    run = Runner(args)
    with work_dir(args.keep, "ds2-prep-e2e-") as tmp:
        manifest, good, bad = make_corpus(tmp)
        run.prep(1, manifest, f"{tmp}/o1")
        run.prep(3, manifest, f"{tmp}/o3")

        # Accounting and rejects.
        rej = open(f"{tmp}/o1/rejects.tsv").read().splitlines()[1:]
        rej = {int(l.split("\t")[0]): l.split("\t", 2)[2] for l in rej}
        n_rows = len(good) + len(bad)
        with h5py.File(f"{tmp}/o1/index.h5", "r") as f:
            ids = [x.decode() for x in f["utt_id"][()]]
            check(f.attrs["n_rows"] == n_rows, f"index n_rows = {n_rows}")
            check(len(ids) + len(rej) == n_rows, "accepted + rejected = rows")
            check(sorted(ids) == sorted(good), "exactly the good utterances accepted, once each")
            check(f["stats_mean"].shape == (161,) and np.all(f["stats_std"][()] > 0), "stats present")
            check(f.attrs["command"].startswith("ds2 prep"), "index records the command")
        for line, reason in bad.items():
            check(line in rej and reason in rej[line], f"reject line {line}: '{reason}' in '{rej.get(line)}'")

        # Rank count does not change a byte.
        a, b = shard_contents(f"{tmp}/o1"), shard_contents(f"{tmp}/o3")
        diff = [k for k in set(a) | set(b) if a.get(k) != b.get(k)]
        check(not diff, f"np=1 and np=3 identical ({len(a)} items compared; differing: {diff[:5]})")

        # Frames and labels against closed forms.
        alphabet = ["", " ", "'"] + [chr(c) for c in range(ord("a"), ord("z") + 1)]
        with h5py.File(f"{tmp}/o1/index.h5", "r") as f:
            shards = [s.decode() for s in f["shards"][()]]
            where = {u.decode(): (s, r) for u, s, r in zip(f["utt_id"][()], f["utt_shard"][()], f["utt_row"][()])}
        s, r = where["g01"]
        with h5py.File(f"{tmp}/o1/{shards[s]}", "r") as f:
            fo, lo = f["frame_offset"][()], f["label_offset"][()]
            n = int(round((0.4 + 7 * 0.23) * RATE))
            check(fo[r + 1] - fo[r] == 1 + (n - 320) // 160, "frame count = 1 + (n - 320) // 160")
            text = "".join(alphabet[i] for i in f["labels"][lo[r]:lo[r + 1]])
            check(text == f["transcript"][r].decode() == "bravo charlie", f"labels decode: '{text}'")
            check(f["features"].shape[1] == 161 and f["features"].dtype == np.float32, "features float32 x 161")
        p = subprocess.run(["h5dump", "-H", f"{tmp}/o1/index.h5"], capture_output=True, text=True)
        check(p.returncode == 0 and "utt_frames" in p.stdout, "h5dump reads index.h5")

        # A rerun reuses every shard and changes nothing.
        p = run.prep(2, manifest, f"{tmp}/o1", "-v", "1")
        check("5 reused" in p.stderr, "rerun reuses finished shards")
        check(shard_contents(f"{tmp}/o1") == a, "rerun leaves contents identical")

        # Shard count from a size target (--shards 0, the default): the estimated feature bytes
        # (seconds x 100 frames x 161 bins x 4 bytes) over --shard-mb, rounded up; a target
        # of 1/3.5 of the corpus gives 4 shards, the same on 1 and 3 ranks.
        with h5py.File(f"{tmp}/o1/index.h5", "r") as f:
            seconds = float(np.sum(f["utt_duration"][()].astype(np.float64)))
        mb = seconds * 100 * 161 * 4 / 3.5 / 2**20
        for np_ in (1, 3):
            p = run.run(np_, "prep", "--manifest", manifest, "--out", f"{tmp}/bytes{np_}",
                        "--shard-mb", f"{mb:.6f}", "--max-duration", "5", "-v", "0",
                        expect_rc=None)
            check(p.returncode == 0, f"prep --shard-mb at np={np_}: {p.stderr[-500:]}")
            made = sorted(x for x in os.listdir(f"{tmp}/bytes{np_}") if x.endswith(".h5") and
                          x.startswith("shard-"))
            check(len(made) == 4, f"--shard-mb {mb:.3f} of {seconds:.1f} s: 4 shards ({made})")
        check(shard_contents(f"{tmp}/bytes1") == shard_contents(f"{tmp}/bytes3"),
              "--shard-mb: the same shards on 1 and 3 ranks")

        # Augmentation: clean + 2 copies from noise files and babble; rank count still irrelevant.
        write_wav(f"{tmp}/noise.wav", tone(3.0, 1234, 77) * 0.2 + 0.05 * np.random.default_rng(3).standard_normal(48000))
        open(f"{tmp}/noise.tsv", "w").write("noise.wav\t3.0\twhite\n")
        aug = ["--augment", "copies=2,noise_prob=0.7,snr_db=5:15,speed=0.9:1.1,tempo=0.95:1.05,"
               "pitch_cents=-200:200", "--noise-manifest", f"{tmp}/noise.tsv", "--babble", "2"]
        run.prep(1, manifest, f"{tmp}/a1", *aug)
        run.prep(3, manifest, f"{tmp}/a3", *aug)
        a1, a3 = shard_contents(f"{tmp}/a1"), shard_contents(f"{tmp}/a3")
        diff = [k for k in set(a1) | set(a3) if a1.get(k) != a3.get(k)]
        check(not diff, f"augmented np=1 and np=3 identical (differing: {diff[:5]})")
        # More ranks than shards: 2 shards on 3 ranks, shard 0 made by a team of two (rank 2
        # prepares every other utterance, babble included, and sends it to rank 0, which
        # writes): the same bytes and rejects as one rank alone.
        run.prep(1, manifest, f"{tmp}/t1", *aug, shards=2)
        p = run.prep(3, manifest, f"{tmp}/t3", *aug, "-v", "1", shards=2)
        check("teams of 1-2" in p.stderr, f"np=3 over 2 shards makes them in teams: {p.stderr[-800:]}")
        t1, t3 = shard_contents(f"{tmp}/t1"), shard_contents(f"{tmp}/t3")
        diff = [k for k in set(t1) | set(t3) if t1.get(k) != t3.get(k)]
        check(len(t1) > 0 and not diff, f"2 shards: np=1 and np=3 (teams) identical (differing: {diff[:5]})")
        for f in ("rejects.tsv", "shard-00000.rejects.tsv", "shard-00001.rejects.tsv"):
            check(open(f"{tmp}/t1/{f}").read() == open(f"{tmp}/t3/{f}").read(), f"teams: {f} identical")
        import json
        with h5py.File(f"{tmp}/a1/index.h5", "r") as f:
            ids = [x.decode() for x in f["utt_id"][()]]
            summary = json.loads(f.attrs["augment_summary"])
            check(len(ids) == 3 * len(good), f"3 copies per accepted utterance ({len(ids)})")
            check(summary["clean"] == len(good) and summary["augmented"] == 2 * len(good),
                  f"augment summary counts ({summary})")
            check(summary["snr_error_db_max"] < 0.1, "measured SNR within 0.1 dB of requested")
            check(f.attrs["n_rows"] == n_rows, "augmented run keeps n_rows")
        rej_a = open(f"{tmp}/a1/rejects.tsv").read().splitlines()[1:]
        check(len(rej_a) == len(bad), "augmented run rejects the same rows")
        with h5py.File(f"{tmp}/a1/{shards[0]}", "r") as f:
            aug_json = [x.decode() for x in f["augment"][()]]
            uid = [x.decode() for x in f["utt_id"][()]]
            clean = [j for j, u in zip(aug_json, uid) if "~aug" not in u]
            copies = [json.loads(j) for j, u in zip(aug_json, uid) if "~aug" in u]
            check(all(j == "{}" for j in clean) and copies, "clean copies store {}")
            check(all(0.9 <= c["speed"] <= 1.1 and -200 <= c["pitch_cents"] <= 200 for c in copies),
                  "drawn parameters within the policy ranges")
        # A bad noise file is a clear error naming it.
        open(f"{tmp}/bad_noise.wav", "w").write("not audio")
        open(f"{tmp}/bad.tsv", "w").write("bad_noise.wav\n")
        p = run.prep(1, manifest, f"{tmp}/bad", "--augment", "copies=1,noise_prob=1", "--noise-manifest",
                     f"{tmp}/bad.tsv", expect_ok=False)
        check(p.returncode != 0 and "bad_noise.wav" in p.stderr, "bad noise file named in the error")

        # kill -9 of one rank in the middle of a shard, then a rerun.
        for victim in (0, 1):
            out = f"{tmp}/k{victim}"
            p = run.prep(2, manifest, out, "--fault-kill-after", "4", "--fault-rank", str(victim),
                         expect_ok=False)
            check(p.returncode != 0, f"killed run (rank {victim}) fails")
            check(not os.path.exists(f"{out}/index.h5"), "killed run leaves no index")
            run.prep(2, manifest, out)
            left = [n for n in os.listdir(out) if ".tmp." in n]
            check(not left, f"no temporary files after the rerun ({left})")
            c = shard_contents(out)
            check(c == a, f"rerun after kill of rank {victim} equals a clean run")
    print(f"{checks - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
