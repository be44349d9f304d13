// Batch-norm running statistics across ranks during training.
//
// Each rank's training-mode forward updates the running mean/variance from its own slice of every
// batch, so the ranks' statistics differ (by design: they never influence a training step, and
// gathering them every step would cost a collective per step). Wherever statistics are USED --
// dev evaluation, checkpoints (what eval and transcribe load) -- the average over ranks stands in
// for the statistics of the whole data: gather_bn() collects every rank's (rank-major) and their
// element-wise mean, and AveragedBn swaps that mean into the network for its lifetime, restoring
// the rank's own statistics afterwards so training continues exactly as before.
#pragma once

#include <vector>

#include "core/mpi.h"
#include "model/network.h"

namespace ds2::train {

struct BnState {
  std::vector<float> per_rank;  // (world size, num_buffer_floats) rank-major
  std::vector<float> average;   // element-wise mean over ranks (accumulated in double)
};

// Collective over `world`: every rank's buffers and their average, the same on every rank.
BnState gather_bn(const Comm& world, model::Network& net);

// Swaps s.average into net's buffers; the destructor puts the rank's own statistics back.
class AveragedBn {
 public:
  AveragedBn(model::Network& net, const BnState& s);
  ~AveragedBn();
  AveragedBn(const AveragedBn&) = delete;
  AveragedBn& operator=(const AveragedBn&) = delete;

 private:
  model::Network& net_;
  std::vector<float> own_;
};

}  // namespace ds2::train
