// One GPU per rank (model/device.h, core/node.h) under mpirun on the CPU. Oracles:
//   node_place(): brute force over all ranks' host names (gathered): a rank's node-local rank is
//     the number of lower ranks on the same host, the local size the number of ranks on it
//     (MPI's shared-memory split and the host name agree on one machine and on the simulated
//     cluster, whose nodes are separate hosts).
//   gpu_for_rank(): the table of the rule written out by hand (local rank mod visible devices,
//     a request wins, an out-of-range request or no device refused).
//   select_gpu(): "cpu" does nothing; "cuda" on a machine or build without a usable device is
//     refused in ONE line naming model.device before any work; with a device, the rank gets
//     local rank mod visible. A malformed DS2_GPU is refused naming DS2_GPU.
// Runs at np 1, 2, 3 (3: two ranks share a device in the table for visible = 2).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "core/mpi.h"
#include "core/node.h"
#include "model/device.h"

namespace ds2 {
namespace {

TEST(NodePlace, MatchesBruteForceOverHostNames) {
  const Comm world;
  const NodePlace p = node_place(world);
  const std::vector<std::string> hosts = world.allgather_strings(p.host);
  int lower = 0, same = 0;
  for (int r = 0; r < world.size(); ++r) {
    if (hosts[r] != p.host) continue;
    ++same;
    if (r < world.rank()) ++lower;
  }
  EXPECT_EQ(p.rank, world.rank());
  EXPECT_EQ(p.size, world.size());
  EXPECT_EQ(p.local_rank, lower);
  EXPECT_EQ(p.local_size, same);
  EXPECT_FALSE(p.host.empty());
}

TEST(GpuForRank, TableOfTheRule) {
  NodePlace p;
  p.local_size = 3;
  const int expect_two[3] = {0, 1, 0};  // 3 ranks, 2 GPUs: rank 2 shares GPU 0
  for (int l = 0; l < 3; ++l) {
    p.local_rank = l;
    EXPECT_EQ(model::gpu_for_rank(p, 2, -1), expect_two[l]);
    EXPECT_EQ(model::gpu_for_rank(p, 8, -1), l);
    EXPECT_EQ(model::gpu_for_rank(p, 1, -1), 0);  // --gpus-per-task=1: each task sees one
    EXPECT_EQ(model::gpu_for_rank(p, 4, 3), 3);   // a request wins over the local rank
  }
  EXPECT_THROW(model::gpu_for_rank(p, 2, 2), ConfigError);
  EXPECT_THROW(model::gpu_for_rank(p, 0, -1), ConfigError);
}

TEST(SelectGpu, CpuIsANoOpAndCudaWithoutDeviceRefusesInOneLine) {
  const Comm world;
  const NodePlace p = node_place(world);
  const model::GpuChoice cpu = model::select_gpu("cpu", p);
  EXPECT_EQ(cpu.gpu, -1);
  EXPECT_THROW(model::select_gpu("tpu", p), ConfigError);
  try {
    const model::GpuChoice c = model::select_gpu("cuda", p);
    ASSERT_GT(c.visible, 0);  // a GPU machine: the rule, with the devices it has
    EXPECT_EQ(c.gpu, p.local_rank % c.visible);
  } catch (const ConfigError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("model.device=cuda"), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
  ::setenv("DS2_GPU", "first", 1);
  try {
    model::select_gpu("cuda", p);
    ADD_FAILURE() << "DS2_GPU=first was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("DS2_GPU"), std::string::npos) << e.what();
  }
  ::unsetenv("DS2_GPU");
}

}  // namespace
}  // namespace ds2
