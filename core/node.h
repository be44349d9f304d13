// Where this process runs: its world rank, its rank among the processes of its node and the
// node's name. What picks one GPU per rank (model/device.h) and sizes per-node pools needs.
//
// The node-local rank comes from MPI_Comm_split_type(MPI_COMM_TYPE_SHARED): ranks that can share
// memory form one node, numbered in world-rank order. This header does not include MPI (model/,
// which knows nothing of MPI, takes a NodePlace by value); only node.cc does.
#pragma once

#include <string>

namespace ds2 {

class Comm;  // core/mpi.h

struct NodePlace {
  int rank = 0, size = 1;              // in the communicator given to node_place()
  int local_rank = 0, local_size = 1;  // among the ranks of this node
  std::string host;                    // gethostname(), for logs
};

// Collective over `c` (every rank calls it): this rank's place.
NodePlace node_place(const Comm& c);

}  // namespace ds2
