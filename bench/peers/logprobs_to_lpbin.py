#!/usr/bin/env python3
"""Converts a ds2 log-probability file (`ds2 eval --save-logprobs`, format ds2-logprobs) to the
flat LP.bin the peer decoder scripts read, and writes the reference transcripts as sclite trn.
  logprobs_to_lpbin.py LOGPROBS.h5 OUT.bin REF.trn
LP.bin: int32 n, int32 C, then per utterance int32 T and float32 T*C natural-log softmax rows,
in the file's (index) order. Needs h5py and numpy (a venv outside the project)."""
import sys
import h5py
import numpy as np

src, out, ref = sys.argv[1:4]
with h5py.File(src, "r") as f:
    assert f.attrs["format"] in ("ds2-logprobs", b"ds2-logprobs"), "not a ds2-logprobs file"
    lp = f["logprobs"][...]
    off = f["frame_offset"][...]
    ids = [s.decode() if isinstance(s, bytes) else s for s in f["utt_id"][...]]
    txt = [s.decode() if isinstance(s, bytes) else s for s in f["transcript"][...]]
n, c = len(ids), lp.shape[1]
with open(out, "wb") as o:
    o.write(np.array([n, c], np.int32).tobytes())
    for i in range(n):
        rows = np.ascontiguousarray(lp[off[i]:off[i + 1]], np.float32)
        o.write(np.array([rows.shape[0]], np.int32).tobytes())
        o.write(rows.tobytes())
with open(ref, "w") as o:
    for i, t in zip(ids, txt):
        o.write(f"{' '.join(t.split())} ({i})\n")
print(f"{src}: {n} utterances, C = {c} -> {out}, {ref}", file=sys.stderr)
