#!/usr/bin/env bash
# The README's all-reduce table: runs bench_allreduce --repeat-runs times at each rank count (all
# rank counts of one repeat back to back, so background load spreads over them alike), keeps the
# CSVs, and prints a markdown table of the median [min..max] over the runs of
#   ring, auto   MPI_Allreduce time / ours (>1: ours faster; measured in the same run)
#   of p2p       busbw / the p2p bound's busbw (bench_allreduce.cc explains the bound)
#   of p2p+add   (p2p + the ring's additions alone) / ring time: the bound on one shared-memory
#                node, where the receiving process does both the copy and the addition
# --transport pins Open MPI's transport for every run (OMPI_MCA_pml=ob1 and OMPI_MCA_btl, so it
# applies to mpirun and srun alike): sm (shared memory, vader with CMA single copy: what ranks on
# one node use) or tcp (the TCP transport that carries inter-node traffic on Ethernet clusters;
# on one node it runs over loopback, every byte through the kernel's socket path as it would go
# to a NIC). Default: whatever the environment selects (on a cluster, leave it).
#
# The ratios are bench_allreduce's paired ones (within a round, median over its --repeat rounds).
# Exits 1 if any result differs from MPI_Allreduce's or is not bit-identical on every rank.
#
#   bench/allreduce_table.sh --bench build/bench/bench_allreduce [--np "2 4"] [--runs 3]
#       [--transport sm|tcp] [--out DIR] [--mpiexec "mpirun --oversubscribe"]
#       [-- extra bench_allreduce options, e.g. -b 1K -e 256M]
set -euo pipefail

bench=build/bench/bench_allreduce
nps="2 4" runs=3 out="" mpiexec=mpirun transport=default
python=python3
[ -x /usr/bin/python3 ] && python=/usr/bin/python3
while [ $# -gt 0 ]; do
  case $1 in
    --bench) bench=$2; shift 2 ;;
    --np) nps=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --mpiexec) mpiexec=$2; shift 2 ;;
    --transport) transport=$2; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "allreduce_table.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ -x "$bench" ] || { echo "allreduce_table.sh: --bench '$bench' is not an executable" >&2; exit 2; }
case $transport in
  default) ;;
  sm) export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader ;;
  tcp) export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,tcp ;;
  *) echo "allreduce_table.sh: --transport '$transport' is not sm or tcp" >&2; exit 2 ;;
esac
[ $# -gt 0 ] || set -- -b 1K -e 256M -f 4
out=${out:-$(mktemp -d "${TMPDIR:-/tmp}/ds2-allreduce-XXXXXX")}
mkdir -p "$out"
echo "# $(getconf _NPROCESSORS_ONLN) cores, load $(cut -d' ' -f1-3 /proc/loadavg);" \
  "transport $transport (OMPI_MCA_btl=${OMPI_MCA_btl:-unset}); CSVs in $out; bench_allreduce $*"
for ((i = 1; i <= runs; i++)); do
  for np in $nps; do
    $mpiexec -np "$np" "$bench" --algos mpi,ring,auto,p2p,add --csv "$out/np$np-run$i.csv" "$@" \
      > "$out/np$np-run$i.txt" 2>&1 || { tail -20 "$out/np$np-run$i.txt" >&2; exit 1; }
  done
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
status=0
"$python" - "$out" $nps <<'EOF' || status=$?
import csv, glob, statistics, sys
out, nps = sys.argv[1], sys.argv[2:]
vals = {}  # (np, size, column) -> [values over runs]
sizes = []
failed = False
for np_ in nps:
    for path in sorted(glob.glob(f"{out}/np{np_}-run*.csv")):
        for row in csv.DictReader(open(path)):
            size = int(row["size_bytes"])
            if size not in sizes:
                sizes.append(size)
            kind = row["variant"].split("/")[0]
            if kind in ("ring", "auto") and row["vs_mpi"] != "-":
                vals.setdefault((np_, size, kind), []).append(float(row["vs_mpi"]))
            if kind == "ring" and row["of_p2p"] != "-":
                vals.setdefault((np_, size, "of_p2p"), []).append(float(row["of_p2p"]))
            if kind == "ring" and row["of_p2p_add"] != "-":
                vals.setdefault((np_, size, "of_add"), []).append(float(row["of_p2p_add"]))
            if row["check"] not in ("ok", "-"):
                print(f"# CHECK FAILED: np={np_} size={size} {row['variant']}: {row['check']}")
                failed = True

def text(b):
    for unit, name in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if b >= unit and b % unit == 0:
            return f"{b // unit} {name}"
    return f"{b} B"

def cell(v):
    if not v:
        return "-"
    if len(v) == 1:
        return f"{v[0]:.2f}"
    return f"{statistics.median(v):.2f} [{min(v):.2f}..{max(v):.2f}]"

head = ["size"]
for np_ in nps:
    head += [f"np={np_} ring", f"np={np_} auto", f"np={np_} ring of p2p",
             f"np={np_} ring of p2p+add"]
print("| " + " | ".join(head) + " |")
print("|" + "---|" * len(head))
for s in sorted(sizes):
    row = [text(s)]
    for np_ in nps:
        row += [cell(vals.get((np_, s, k), [])) for k in ("ring", "auto", "of_p2p", "of_add")]
    print("| " + " | ".join(row) + " |")
sys.exit(1 if failed else 0)
EOF
grep -h "peak RSS" "$out"/np*-run1.txt
exit $status
