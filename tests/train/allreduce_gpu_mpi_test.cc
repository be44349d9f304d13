// The gradient all-reduce on GPU memory, the way ds2 train runs it (Allreducer given the cuda
// backend), under mpiexec on a GPU machine (label gpu; without a usable device every case is
// SKIPPED with the reason). Oracle: MPI_Allreduce of the same values in host memory; the inputs
// are integers (exact in float in any summation order), so every algorithm -- ring and mpi
// staged through pinned memory, NCCL on the device -- must give exactly the host's sums, on
// every bucket of two rounds (slots and events are reused in the second). NCCL needs one GPU
// per rank: where ranks share one it must refuse in one line (ConfigError), which is checked
// instead.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/mpi.h"
#include "core/node.h"
#include "model/backend.h"
#include "model/device.h"
#include "model/nccl.h"
#include "model/tensor.h"
#include "train/allreduce.h"

namespace ds2::train {
namespace {

std::unique_ptr<model::Backend> gpu_or_reason(const Comm& world, std::string* why) {
  try {
    model::select_gpu("cuda", node_place(world));
    return model::make_backend(model::Device::kCuda);
  } catch (const ConfigError& e) {
    *why = e.what();
    return nullptr;
  }
}

class OnGpu : public ::testing::TestWithParam<Algorithm> {};

TEST_P(OnGpu, DeviceBucketsEqualHostMpiAllreduce) {
  const Comm world;
  std::string why;
  // Every rank must agree to skip (a device on some ranks only would hang the others).
  auto be = gpu_or_reason(world, &why);
  if (world.any(!be)) GTEST_SKIP() << "no CUDA device on some rank: " << why;
  AllreduceOptions o;
  o.algo = GetParam();
  o.chunk_bytes = size_t(256) << 10;
  std::unique_ptr<Allreducer> ar;
  try {
    ar = std::make_unique<Allreducer>(world, o, be.get());
  } catch (const ConfigError& e) {
    // NCCL refuses a build without it or ranks sharing a GPU: one line, on every rank.
    ASSERT_EQ(GetParam(), Algorithm::kNccl) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    GTEST_SKIP() << "nccl refused here: " << e.what();
  }
  const std::vector<size_t> sizes = {(size_t(9) << 20) + 3, 1000, 65536};
  for (int round = 0; round < 2; ++round) {
    std::vector<std::vector<float>> want;
    std::vector<model::Buffer> dev;
    for (size_t k = 0; k < sizes.size(); ++k) {
      std::vector<float> v(sizes[k]);
      for (size_t i = 0; i < v.size(); ++i)
        v[i] = float((world.rank() + 1 + round) * int(1 + (i * 7 + k) % 97));
      dev.emplace_back(be.get(), v.size());
      be->upload(dev.back().data(), v.data(), v.size());
      world.allreduce(v.data(), v.size());
      want.push_back(std::move(v));
    }
    for (size_t k = 0; k < sizes.size(); ++k) ar->start(dev[k].data(), sizes[k]);
    ar->wait_all();
    for (size_t k = 0; k < sizes.size(); ++k) {
      std::vector<float> got(sizes[k]);
      be->download(got.data(), dev[k].data(), sizes[k]);
      EXPECT_EQ(got, want[k]) << algorithm_name(GetParam()) << " round " << round << " bucket "
                              << k;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Algorithms, OnGpu,
                         ::testing::Values(Algorithm::kRing, Algorithm::kMpi, Algorithm::kNccl,
                                           Algorithm::kAuto),
                         [](const auto& i) { return std::string(algorithm_name(i.param)); });

}  // namespace
}  // namespace ds2::train
