#!/bin/sh
# Open MPI's launch agent for the simulated cluster (plm_rsh_agent takes a program, not a
# command line): starts the daemon inside the node's namespace. See cluster.sh.
exec "$(dirname "$0")/cluster.sh" agent "$@"
