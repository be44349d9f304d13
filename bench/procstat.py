#!/usr/bin/env python3
"""procstat.py: run one command and record its peak RSS and bytes read, for bench/scale.sh.

  procstat.py --out FILE -- CMD [ARGS...]

Peak RSS is the child's ru_maxrss from wait4 (exact, KiB). Bytes read is rchar of
/proc/PID/io (everything read through read()/pread(), page cache included), polled every 20 ms
while the child runs: the last poll before it exits, so a final read of under 20 ms may be
missed (a few MB at most; bench/scale.sh reads it on epochs of seconds). Under mpirun each rank
wraps itself: %r in --out is replaced by OMPI_COMM_WORLD_RANK (or PMI_RANK, SLURM_PROCID).
FILE gets one JSON line: {"rank", "peak_rss_kib", "rchar", "wall_s", "rc"}. Exits with the
child's status.
"""
import json
import os
import sys
import time


def rank():
    for k in ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "SLURM_PROCID"):
        if k in os.environ:
            return int(os.environ[k])
    return 0


def rchar(pid):
    try:
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                if line.startswith("rchar:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def main():
    argv = sys.argv[1:]
    if len(argv) < 4 or argv[0] != "--out" or argv[2] != "--":
        sys.exit(__doc__)
    out = argv[1].replace("%r", str(rank()))
    cmd = argv[3:]
    t0 = time.time()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    last = 0
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        r = rchar(pid)
        if r is not None:
            last = r
        time.sleep(0.02)
    rc = os.waitstatus_to_exitcode(status)
    rec = {"rank": rank(), "peak_rss_kib": usage.ru_maxrss, "rchar": last,
           "wall_s": round(time.time() - t0, 3), "rc": rc}
    with open(out, "w") as f:
        f.write(json.dumps(rec) + "\n")
    sys.exit(rc if rc >= 0 else 128 - rc)


if __name__ == "__main__":
    main()
