// Rank-averaged batch-norm statistics (see bn_average.h).
#include "train/bn_average.h"

#include <algorithm>
#include <exception>

#include "core/log.h"

namespace ds2::train {

BnState gather_bn(const Comm& world, model::Network& net) {
  const size_t nb = net.num_buffer_floats();
  BnState s;
  s.per_rank.resize(nb * world.size());
  if (nb == 0) return s;
  // The statistics may be in device memory: one download (none on the CPU backend).
  std::vector<float> host;
  const float* mine = net.backend().host_view(net.buffers(), nb, &host);
  DS2_MPI_CHECK(MPI_Allgather(mine, static_cast<int>(nb), MPI_FLOAT, s.per_rank.data(),
                              static_cast<int>(nb), MPI_FLOAT, world.raw()));
  s.average.assign(nb, 0.0f);
  for (size_t i = 0; i < nb; ++i) {
    double sum = 0;
    for (int r = 0; r < world.size(); ++r) sum += s.per_rank[r * nb + i];
    s.average[i] = static_cast<float>(sum / world.size());
  }
  return s;
}

AveragedBn::AveragedBn(model::Network& net, const BnState& s) : net_(net) {
  const size_t nb = net.num_buffer_floats();
  own_.resize(nb);
  net.backend().download(own_.data(), net.buffers(), nb);
  net.backend().upload(net.buffers(), s.average.data(), std::min(nb, s.average.size()));
}

AveragedBn::~AveragedBn() {
  try {
    net_.backend().upload(net_.buffers(), own_.data(), own_.size());
  } catch (const std::exception& e) {  // a device fault: destructors do not throw
    logger("train")->error("restoring this rank's batch-norm statistics failed: {}", e.what());
  }
}

}  // namespace ds2::train
