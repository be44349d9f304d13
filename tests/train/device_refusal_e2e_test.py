#!/usr/bin/env python3
"""Requests the build or machine cannot serve are refused in ONE line before any work
(DESIGN.md, Devices): `ds2 train --allreduce nccl` with gradients on the CPU, and
`model.device=cuda` for train, eval, sweep and transcribe on a machine without a usable GPU.

"Before any work" is checked by pointing --data/--model at paths that do not exist and --out at
a folder that must not appear: a refusal that named (or created) them would have come too late.
On a machine WITH a GPU the cuda requests are accepted, so the oracle flips: the error must then
be the missing data/model (the device was taken), never a device error. Under mpiexec -np 2 the
nccl refusal must end the job (no hang) with the same reason.
Usage: device_refusal_e2e_test.py --ds2 BUILD/ds2 --config share/configs/ds2-tiny.ini
       [--mpiexec mpiexec --mpiflags "..."]"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from e2e_util import MpiRunner, e2e_parser, run_cmd, work_dir  # noqa: E402

NO_DEVICE = ("no usable CUDA device", "built without CUDA")


def error_lines(p):
    return [l for l in (p.stdout + p.stderr).splitlines() if l.strip()]


def main():
    args = e2e_parser().parse_args()
    with work_dir(args.keep, "ds2_refusal_") as tmp:
        out = os.path.join(tmp, "run")
        missing = os.path.join(tmp, "no-such-data")
        train = [args.ds2, "train", "--data", missing, "--out", out, "--config", args.config]

        # 1. nccl with gradients in host memory: refused in one line naming the option.
        p = run_cmd(train + ["--allreduce", "nccl"], "train --allreduce nccl (cpu)", None)
        lines = error_lines(p)
        assert p.returncode != 0, "nccl on the CPU was accepted"
        assert len(lines) == 1 and "--allreduce" in lines[0] and "nccl" in lines[0], lines
        assert missing not in lines[0] and not os.path.exists(out), "refused after work began"

        # 2. cuda on train / eval / sweep / transcribe.
        gpu_here = None
        cases = [
            ("train", train + ["--model.device", "cuda"]),
            ("eval", [args.ds2, "eval", "--model", missing + "/ckpt.h5", "--data", missing,
                      "--out", out, "--device", "cuda"]),
            ("sweep", [args.ds2, "sweep", "--models", missing, "--data", missing, "--grid",
                       "beam=1", "--db", os.path.join(tmp, "h.sqlite"), "--device", "cuda"]),
            ("transcribe", [args.ds2, "transcribe", "--model", missing + "/ckpt.h5", "--device",
                            "cuda", missing + ".wav"]),
        ]
        for name, cmd in cases:
            p = run_cmd(cmd, f"{name} with cuda", None)
            lines = error_lines(p)
            assert p.returncode != 0, f"{name}: expected a failure (missing inputs)"
            refused = any(s in "\n".join(lines) for s in NO_DEVICE)
            if gpu_here is None:
                gpu_here = not refused
            assert refused != gpu_here, f"{name}: inconsistent device verdict: {lines}"
            if refused:
                assert len(lines) == 1 and "model.device=cuda" in lines[0], (name, lines)
                assert missing not in lines[0], f"{name}: refused after touching its inputs"
            else:
                assert not any("model.device" in l for l in lines), (name, lines)
        assert not os.path.exists(out), "a refused command created its output folder"

        # 3. Under mpiexec: every rank refuses, the job ends with the reason.
        p = MpiRunner(args).run(2, "train", "--data", missing, "--out", out, "--config",
                                args.config, "--allreduce", "nccl", expect_rc=None)
        assert p.returncode != 0 and "nccl" in p.stdout + p.stderr, p.stderr[-2000:]
    print(f"device refusals: one line before any work (GPU here: {gpu_here})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
