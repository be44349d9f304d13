#!/bin/bash
# ds2's training step against the PyTorch peer (shared/peers/torch_ds2_step.py: the same
# ds2-small architecture and batch shape, 16 x 600 frames x 161 bins), and optionally against a
# second ds2 build ("before"), alternated round by round in one session so that each round's
# figures share the machine's state. Not in CI; torch lives in a virtual environment outside the
# project (python3 -m venv DIR && DIR/bin/pip install torch).
#
#   bench/peers/model_step.sh --python VENV/bin/python [--peer ../shared/peers/torch_ds2_step.py]
#                             [--after build/bench/bench_model] [--before OTHER/bench_model]
#                             [--rounds 2] [--threads "1 2"]
# Prints, per round: the peer's s/step per thread count, then each bench_model's table (s/step,
# GFLOP/s, sgemm baseline, fraction of sgemm) and per-layer profile, with the load average.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
python="" peer="$root/../shared/peers/torch_ds2_step.py" after="$root/build/bench/bench_model"
before="" rounds=2 threads="1 2"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --python) python=$2; shift 2 ;;
    --peer) peer=$2; shift 2 ;;
    --after) after=$2; shift 2 ;;
    --before) before=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    *) echo "model_step.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -n "$python" ]] || { echo "model_step.sh: --python VENV/bin/python is required" >&2; exit 2; }
[[ -f "$peer" ]] || { echo "model_step.sh: peer script $peer not found (--peer)" >&2; exit 2; }
load() { uptime | sed 's/.*load/load/'; }
for r in $(seq 1 "$rounds"); do
  echo "=== round $r torch $(load)"
  "$python" "$peer" --threads "$threads" 2>&1 | grep threads
  for b in ${before:+before} after; do
    bin=$after
    [[ $b == before ]] && bin=$before
    echo "=== round $r $b ($bin) $(load)"
    "$bin" --threads "$threads" 2>&1 | grep -E "^ +[0-9]+ |per layer|baseline|dominant|peak"
  done
done
echo "=== end $(load)"
