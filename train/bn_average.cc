// Rank-averaged batch-norm statistics (see bn_average.h).
#include "train/bn_average.h"

#include <algorithm>

namespace ds2::train {

BnState gather_bn(const Comm& world, model::Network& net) {
  const size_t nb = net.num_buffer_floats();
  BnState s;
  s.per_rank.resize(nb * world.size());
  if (nb == 0) return s;
  DS2_MPI_CHECK(MPI_Allgather(net.buffers(), static_cast<int>(nb), MPI_FLOAT, s.per_rank.data(),
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
  own_.assign(net.buffers(), net.buffers() + nb);
  std::copy(s.average.begin(), s.average.end(), net.buffers());
}

AveragedBn::~AveragedBn() { std::copy(own_.begin(), own_.end(), net_.buffers()); }

}  // namespace ds2::train
