// Per-tensor digests compared across ranks (see replica_check.h).
#include "train/replica_check.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "core/rng.h"

namespace ds2::train {

uint64_t tensor_digest(const float* x, size_t n) { return bytes_digest(x, n * sizeof(float)); }

void check_replicas(const Comm& world, const std::vector<ReplicaTensor>& tensors,
                    const std::string& when) {
  // Element 0: a digest of the list's names and sizes, so ranks that disagree on the layout are
  // caught before their tensor digests are compared position by position.
  const size_t n = tensors.size() + 1;
  std::vector<uint64_t> mine(n);
  uint64_t layout = fnv1a64(std::to_string(tensors.size()));
  for (const auto& t : tensors) layout = fnv1a64(t.name + '\x1f' + std::to_string(t.size), layout);
  mine[0] = layout;
  for (size_t i = 0; i < tensors.size(); ++i)
    mine[i + 1] = tensor_digest(tensors[i].data, tensors[i].size);
  const uint64_t count = world.allreduce_value<uint64_t>(n, MPI_MAX);
  DS2_REQUIRE(world.allreduce_value<uint64_t>(n, MPI_MIN) == count, CommError,
              "replica check at {}: ranks hold different numbers of tensors", when);
  std::vector<uint64_t> all(n * world.size());
  DS2_MPI_CHECK(MPI_Allgather(mine.data(), static_cast<int>(n), MPI_UINT64_T, all.data(),
                              static_cast<int>(n), MPI_UINT64_T, world.raw()));
  std::string ranks;
  int n_ranks = 0;
  size_t first = n, n_tensors = 0;
  for (int r = 1; r < world.size(); ++r) {
    const uint64_t* d = all.data() + r * n;
    DS2_REQUIRE(d[0] == all[0], CommError,
                "replica check at {}: rank {} holds a different list of tensors (names or "
                "sizes) than rank 0",
                when, r);
    size_t differ = 0;
    for (size_t i = 1; i < n; ++i) {
      if (d[i] == all[i]) continue;
      ++differ;
      first = std::min(first, i);
    }
    if (differ == 0) continue;
    n_tensors = std::max(n_tensors, differ);
    ranks += (ranks.empty() ? "" : ", ") + std::to_string(r);
    ++n_ranks;
  }
  if (n_ranks == 0) return;
  DS2_THROW(CommError,
            "replicas diverged at {}: rank{} {} differ{} from rank 0, first in '{}' ({} of {} "
            "tensors differ); the run cannot be trusted past its last checkpoint (a "
            "non-deterministic all-reduce, e.g. --allreduce mpi on some transports, or a "
            "hardware fault on those ranks' nodes)",
            when, n_ranks > 1 ? "s" : "", ranks, n_ranks > 1 ? "" : "s", tensors[first - 1].name,
            n_tensors, tensors.size());
}

}  // namespace ds2::train
