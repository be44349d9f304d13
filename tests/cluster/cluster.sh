#!/usr/bin/env bash
# A simulated cluster on one machine: N "nodes", each a network namespace with its own loopback,
# its own hostname (a UTS namespace per command) and one veth link to a bridge, rate-limited with
# tc (a token bucket per direction; with --delay also netem's delay, where the kernel has netem:
# this machine's kernel has no sch_netem, so the links here have the veth's own ~10 us latency). Open MPI runs across the nodes over its TCP transport: mpirun
# starts in node 0 and reaches the others through this script as its launch agent
# (plm_rsh_agent), which enters the node's namespace instead of opening an ssh session.
# Addresses are 198.18.0.<i+1>/24 (198.18.0.0/15 is reserved for benchmarking, RFC 2544), on a
# bridge no other interface is attached to: no traffic leaves the namespaces this script makes.
# Needs root (ip netns, tc).
#
#   cluster.sh up N [--rate 1gbit] [--delay D]      nodes node0..node{N-1} (any previous torn down)
#   cluster.sh down                                  remove everything `up` made (idempotent)
#   cluster.sh mpirun [--nodes K] [--ppn P] ARGS...  mpirun from node0 over nodes 0..K-1 (default
#                                                    all), P slots each (default 1); ARGS as for
#                                                    mpirun, e.g. -np 4 build/ds2 train ...
#   cluster.sh exec I CMD...                         CMD in node I's namespace, hostname nodeI
#   cluster.sh kill I                                SIGKILL every process in node I's namespace
#   cluster.sh agent HOST CMD...                     (Open MPI's launch agent) CMD in HOST's node
#   cluster.sh status                                nodes, addresses and qdiscs
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
self=$here/$(basename "$0")
prefix=${DS2_CLUSTER_PREFIX:-ds2c}
state=/run/$prefix-cluster
sw=$prefix-sw

node_ns() { echo "$prefix-node$1"; }
node_ip() { echo "198.18.0.$(($1 + 1))"; }
nodes() { cat "$state/nodes" 2>/dev/null || echo 0; }
die() { echo "cluster.sh: $*" >&2; exit 2; }

down() {
  local ns
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$prefix-(node[0-9]+|sw)$" || true); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$state"
}

# A token bucket at `rate` (burst: 2 ms worth, at least 64 KiB, so TCP segments batched by the
# veth pass), under netem's delay when one is asked for.
shape() {
  local ns=$1 dev=$2 rate=$3 delay=$4 bits burst
  bits=$(numfmt --from=si "$(tr a-z A-Z <<<"${rate%bit}")")
  burst=$((bits / 8 / 500))
  ((burst >= 65536)) || burst=65536
  if [[ -n $delay ]]; then
    ip netns exec "$ns" tc qdisc add dev "$dev" root handle 1: netem delay "$delay" ||
      die "tc netem is not available in this kernel: leave out --delay"
    ip netns exec "$ns" tc qdisc add dev "$dev" parent 1:1 handle 10: tbf rate "$rate" \
      burst "$burst" latency 50ms
  else
    ip netns exec "$ns" tc qdisc add dev "$dev" root tbf rate "$rate" burst "$burst" latency 50ms
  fi
}

up() {
  local n=${1:?usage: cluster.sh up N [--rate R] [--delay D]} rate=1gbit delay=
  shift
  while (($#)); do
    case $1 in
      --rate) rate=$2; shift 2 ;;
      --delay) delay=$2; shift 2 ;;
      *) die "up: unknown argument '$1'" ;;
    esac
  done
  ((n >= 1 && n <= 16)) || die "up: N must be 1..16"
  [[ $(id -u) -eq 0 ]] || die "needs root (ip netns, tc)"
  down
  mkdir -p "$state"
  ip netns add "$sw"
  ip -n "$sw" link set lo up
  ip -n "$sw" link add br0 type bridge
  ip -n "$sw" link set br0 up
  local i ns
  for ((i = 0; i < n; i++)); do
    ns=$(node_ns "$i")
    ip netns add "$ns"
    ip link add "${prefix}v$i" type veth peer name eth0 netns "$ns"
    ip link set "${prefix}v$i" netns "$sw"
    ip -n "$sw" link set "${prefix}v$i" master br0
    ip -n "$sw" link set "${prefix}v$i" up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$(node_ip "$i")/24" dev eth0
    ip -n "$ns" link set eth0 up
    # Shape both directions of the node's link: its egress in the node, its ingress as the
    # bridge port's egress.
    shape "$ns" eth0 "$rate" "$delay"
    shape "$sw" "${prefix}v$i" "$rate" "$delay"
  done
  echo "$n" >"$state/nodes"
  echo "$rate $delay" >"$state/link"
}

# CMD in node I's namespace with hostname nodeI (a fresh UTS namespace per command). nsenter
# switches the network namespace only: `ip netns exec` would also mount a fresh /sys, hiding the
# cgroup file systems slurmd needs.
node_exec() {
  local i=$1
  shift
  exec nsenter --net="/run/netns/$(node_ns "$i")" unshare --uts sh -c 'hostname "$0" && exec "$@"' \
    "node$i" "$@"
}

# Open MPI calls: AGENT HOST orted ARGS... (one string or words). Like ssh on a real cluster,
# the agent stays on the launching node while the daemon runs in HOST's node: when that node
# dies, Open MPI learns it from the daemon's lost connection and names the node ("lost
# communication with a remote daemon ... on node 198.18.0.2"). An agent that died with the node
# would race that report with its own exit, which Open MPI reads as "unable to reliably start
# one or more daemons" and which names no node; so, like ssh noticing a dead peer late, an agent
# whose daemon was killed by a signal waits before it exits.
agent() {
  local host=$1 i rc=0
  shift
  for ((i = 0; i < $(nodes); i++)); do
    if [[ $host == "$(node_ip "$i")" || $host == "node$i" ]]; then
      (node_exec "$i" sh -c "$*") || rc=$?
      ((rc <= 128)) || sleep 3
      exit "$rc"
    fi
  done
  die "agent: unknown host '$host'"
}

run_mpirun() {
  local k=$(nodes) ppn=1 i
  ((k > 0)) || die "no cluster up (cluster.sh up N)"
  while (($#)); do
    case $1 in
      --nodes) k=$2; shift 2 ;;
      --ppn) ppn=$2; shift 2 ;;
      *) break ;;
    esac
  done
  ((k >= 1 && k <= $(nodes))) || die "--nodes $k: the cluster has $(nodes)"
  local hostfile=$state/hosts-$k-$ppn
  : >"$hostfile"
  for ((i = 0; i < k; i++)); do echo "$(node_ip "$i") slots=$ppn" >>"$hostfile"; done
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  node_exec 0 mpirun --hostfile "$hostfile" --mca plm_rsh_agent "$here/mpi_agent.sh" \
    --mca pml ob1 --mca btl tcp,self --mca btl_tcp_if_include 198.18.0.0/24 \
    --mca oob_tcp_if_include 198.18.0.0/24 "$@"
}

cmd=${1:-}
shift || true
case $cmd in
  up) up "$@" ;;
  down) down ;;
  mpirun) run_mpirun "$@" ;;
  exec) i=${1:?usage: cluster.sh exec I CMD...}; shift; node_exec "$i" "$@" ;;
  kill) ip netns pids "$(node_ns "${1:?usage: cluster.sh kill I}")" | xargs -r kill -9 ;;
  agent) agent "$@" ;;
  status)
    echo "nodes: $(nodes), link: $(cat "$state/link" 2>/dev/null || echo none)"
    for ((i = 0; i < $(nodes); i++)); do
      echo "node$i $(node_ip "$i"): $(ip netns exec "$(node_ns "$i")" tc qdisc show dev eth0)"
    done ;;
  *) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; [[ $cmd == -h || $cmd == --help ]] ;;
esac
