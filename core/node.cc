// node_place(): the node-local rank from a shared-memory split (see node.h).
#include "core/node.h"

#include <unistd.h>

#include "core/mpi.h"

namespace ds2 {

NodePlace node_place(const Comm& c) {
  NodePlace p;
  p.rank = c.rank();
  p.size = c.size();
  MPI_Comm node = MPI_COMM_NULL;
  DS2_MPI_CHECK(MPI_Comm_split_type(c.raw(), MPI_COMM_TYPE_SHARED, c.rank(), MPI_INFO_NULL, &node));
  const Comm nc(node, /*owned=*/true);
  p.local_rank = nc.rank();
  p.local_size = nc.size();
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) == 0) p.host = host;
  if (p.host.empty()) p.host = "?";
  return p;
}

}  // namespace ds2
