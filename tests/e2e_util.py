"""Helpers shared by the end-to-end tests that drive the ds2 binary (tests/train, tests/eval):
running ds2 (directly or under mpiexec) with single-threaded BLAS and reading sclite trn files."""
import argparse
import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import time

ENV = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")

# ctest's SKIP_RETURN_CODE for every script test: "Not Run (Skipped)", never "Passed".
SKIP_RC = 77


class Skips:
    """Checks a test could not make because their oracle (a tool) is missing. The test runs every
    other check, then ends with exit(), which returns SKIP_RC when any check was skipped, so
    ctest shows the test as skipped instead of passed (scripts/check_skips.py then fails CI,
    where every such tool is installed)."""

    def __init__(self):
        self.missing = []

    def tool(self, path, what):
        """True when `path` (an absolute path or a program on PATH) exists; else records the
        skipped check `what` and returns False."""
        found = os.path.exists(path) if os.path.isabs(path) else shutil.which(path) is not None
        if not found:
            self.missing.append(f"{what} ({path} not installed)")
        return found

    def exit(self, summary):
        """Prints the summary and returns the exit code: 0, or SKIP_RC with a SKIPPED line per
        check that was not made."""
        for m in self.missing:
            print(f"SKIPPED: {m}")
        print(summary + (f" ({len(self.missing)} check(s) SKIPPED)" if self.missing else ""))
        return SKIP_RC if self.missing else 0


def e2e_parser(config=True, mpi=True):
    """The command line every e2e test takes: --ds2 BUILD/ds2, --config INI (config=True),
    --mpiexec and --mpiflags (mpi=True), --keep DIR. The caller adds its own and parses."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--ds2", required=True, help="the ds2 binary under test")
    if config:
        ap.add_argument("--config", required=True, help="model INI (share/configs)")
    if mpi:
        ap.add_argument("--mpiexec", default="mpiexec")
        ap.add_argument("--mpiflags", default="", help="extra mpiexec flags, one string")
    ap.add_argument("--keep", help="work in this folder and keep it")
    return ap


@contextlib.contextmanager
def work_dir(keep, prefix):
    """The test's scratch folder: `keep` (created, kept) or a new temporary one, removed after."""
    tmp = keep or tempfile.mkdtemp(prefix=prefix)
    os.makedirs(tmp, exist_ok=True)
    try:
        yield tmp
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)


def run_cmd(cmd, label, expect_rc=0):
    """Runs cmd, prints its time and exit code under `label`; on an exit code other than
    expect_rc (None: any) prints the output's tails and raises AssertionError."""
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
    print(f"[{time.time() - t0:5.1f} s] {label} rc={p.returncode}")
    if expect_rc is not None and p.returncode != expect_rc:
        print(p.stdout[-4000:], p.stderr[-4000:])
        raise AssertionError(f"rc {p.returncode} != {expect_rc}: {' '.join(cmd)}")
    return p


class MpiRunner:
    """Runs `ds2 ARGS` under `args.mpiexec -np N args.mpiflags` (args: --ds2, --mpiexec,
    --mpiflags of the test's command line)."""

    def __init__(self, args):
        self.args = args
        self.env = ENV

    def cmd(self, np_, *ds2_args):
        return [self.args.mpiexec, "-np", str(np_)] + self.args.mpiflags.split() + [
            self.args.ds2] + list(ds2_args)

    def run(self, np_, *ds2_args, expect_rc=0):
        return run_cmd(self.cmd(np_, *ds2_args), f"np={np_} ds2 {' '.join(ds2_args[:1])}",
                       expect_rc)


def read_trn(path):
    """The (utt_id, text) pairs of an sclite trn file, in file order."""
    out = []
    for line in open(path, encoding="utf-8"):
        m = re.fullmatch(r"(.*?) ?\(([^()\s]+)\)\n", line)
        assert m, f"{path}: bad trn line {line!r}"
        out.append((m.group(2), m.group(1)))
    return out
