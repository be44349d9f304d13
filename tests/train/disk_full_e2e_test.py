#!/usr/bin/env python3
"""End-to-end test of `ds2 prep` and `ds2 train` when the disk fills up under them.

prep: the output directory is a tmpfs too small for the shards. Checks: exit status 1 and one
error line naming the temporary shard and saying the file system is full; no temporary file
left; after the file system is grown, the same command finishes the job (index.h5 written).
train: the run directory is a tmpfs sized to hold two checkpoints but not a third. Checks:
  * the run stops with exit status 1 and one error line that names the temporary checkpoint file
    and says the file system is full -- not a crash (HDF5's shutdown used to segfault closing
    the file whose write had failed: status 139);
  * no temporary file is left, and ckpt-last.h5 is a whole, readable checkpoint of the last
    step the log reported as checkpointed;
  * after the file system is grown, `--resume` continues from that checkpoint to the end;
  * the same under mpirun at np=2: the job ends (no rank left hung), with the error line.
Needs root (it mounts a tmpfs); exits 77 (ctest: skipped) where mounting is not permitted.
Usage: disk_full_e2e_test.py --ds2 BUILD/ds2 --config share/configs/ds2-tiny.ini
       [--mpiexec mpiexec] [--mpiflags "..."] [--keep DIR]
"""
import contextlib
import os
import re
import subprocess
import sys
import time

import h5py

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from e2e_util import e2e_parser, make_corpus, run_cmd, work_dir  # noqa: E402

SKIP = 77


def mount_tmpfs(path, kib):
    os.makedirs(path, exist_ok=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", path],
                       capture_output=True, text=True)
    return p.returncode == 0, p.stderr.strip()


def umount(path):
    if subprocess.run(["umount", path], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", path], capture_output=True)


@contextlib.contextmanager
def tmpfs(path, kib):
    """A tmpfs of `kib` KiB mounted at `path` for the block, unmounted after."""
    ok, why = mount_tmpfs(path, kib)
    assert ok, f"mount {path}: {why}"
    try:
        yield path
    finally:
        umount(path)


def grow(path, kib):
    subprocess.run(["mount", "-o", f"remount,size={kib}k", path], check=True)


def train_args(args, tmp, out, epochs=6):
    return [args.ds2, "train", "--data", f"{tmp}/data", "--config", args.config, "--out", out,
            "--epochs", str(epochs), "--batch-size", "4", "--checkpoint-every", "2", "--keep", "2",
            "--model.num_threads", "1"]


def checkpointed_steps(log):
    return [int(s) for s in re.findall(r"checkpoint \S+ \(step (\d+);", log)]


def check_full(label, p, run_dir):
    """The run that hit the full disk: status, error line, no temporary file, a whole ckpt."""
    out = p.stdout + p.stderr
    assert p.returncode not in (0, 139, -11), f"{label}: exit status {p.returncode}\n{out[-3000:]}"
    assert "Segmentation fault" not in out and "received signal" not in out, \
        f"{label}: crashed\n{out[-3000:]}"
    errors = [l for l in p.stderr.splitlines() if l.startswith("ds2: error:")]
    assert errors, f"{label}: no 'ds2: error:' line\n{out[-3000:]}"
    e = errors[0]
    assert ".h5.tmp." in e and "no space left" in e, f"{label}: error line does not say: {e}"
    left = [n for n in os.listdir(run_dir) if ".tmp." in n]
    assert not left, f"{label}: temporary files left: {left}"
    steps = checkpointed_steps(out)
    assert steps, f"{label}: no checkpoint was written before the disk filled up\n{out[-3000:]}"
    with h5py.File(f"{run_dir}/ckpt-last.h5", "r") as f:
        step = int(f["extra/step"][()])
    assert step == steps[-1], f"{label}: ckpt-last.h5 is step {step}, log says {steps[-1]}"
    print(f"ok   {label}: status {p.returncode}, one error line, ckpt-last.h5 = step {step}: {e}")
    return step


def check_prep(prep, d):
    with tmpfs(d, 96):  # the shards of the 16 utterances need ~400 KiB
        out = f"{d}/data"
        p = run_cmd(prep + [out], "prep, full disk", expect_rc=1)
        errors = [l for l in p.stderr.splitlines() if l.startswith("ds2: error:")]
        assert len(errors) == 1 and ".h5.tmp." in errors[0] and "no space left" in errors[0], \
            f"prep: error lines {errors}"
        left = [n for n in os.listdir(out) if ".tmp." in n]
        assert not left, f"prep: temporary files left: {left}"
        print(f"ok   prep: status 1, one error line, no temporary file: {errors[0]}")
        grow(d, 8192)
        run_cmd(prep + [out], "prep, rerun")
        assert os.path.exists(f"{out}/index.h5"), "prep: rerun wrote no index.h5"
        print("ok   prep: the rerun after the file system was grown finished the job")


def main():
    args = e2e_parser().parse_args()
    t0 = time.time()
    with work_dir(args.keep, "ds2-disk-full-e2e-") as tmp:
        mnt = f"{tmp}/mnt"
        ok, why = mount_tmpfs(mnt, 64)
        if not ok:
            print(f"SKIP: cannot mount a tmpfs here ({why}); needs root")
            return SKIP
        umount(mnt)
        alphabet = os.path.join(os.path.dirname(args.config), "..", "alphabets", "en.txt")
        m, _ = make_corpus(tmp, "train", 16, 3, max_words=2)
        prep = [args.ds2, "prep", "--manifest", m, "--shards", "2", "--alphabet", alphabet,
                "-v", "0", "--out"]
        run_cmd(prep + [f"{tmp}/data"], "ds2 prep")
        check_prep(prep, f"{mnt}-prep")
        run_cmd(train_args(args, tmp, f"{tmp}/probe", epochs=1), "probe")
        size = os.path.getsize(f"{tmp}/probe/ckpt-last.h5")
        # Two checkpoints and the small files fit; a third checkpoint does not.
        kib = (2 * size + 3 * size // 4) // 1024
        print(f"checkpoint {size} bytes; tmpfs of {kib} KiB")

        for label, np_ in (("np=1", 1), ("np=2 (mpirun)", 2)):
            d = f"{mnt}-{np_}"
            with tmpfs(d, kib):
                run_dir = f"{d}/run"
                cmd = train_args(args, tmp, run_dir)
                if np_ > 1:
                    cmd = [args.mpiexec, "-np", str(np_)] + args.mpiflags.split() + cmd
                p = run_cmd(cmd, f"{label} full disk", expect_rc=None)
                step = check_full(label, p, run_dir)
                grow(d, 8 * kib)
                r = run_cmd(cmd + ["--resume"], f"{label} resume")
                out = r.stdout + r.stderr
                assert f"(after step {step})" in out, f"{label}: did not resume after step {step}"
                assert "6 epochs complete" in out, f"{label}: the resumed run did not finish"
                print(f"ok   {label}: resumed after step {step} and finished the 6 epochs")
        print(f"all disk-full e2e checks passed in {time.time() - t0:.1f} s")
        return 0


if __name__ == "__main__":
    sys.exit(main())
