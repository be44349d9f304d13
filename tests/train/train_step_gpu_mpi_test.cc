// The whole training step on the GPU, the way ds2 train runs it -- global_gradient_step with the
// buckets all-reduced from device memory during the backward pass (auto: NCCL where each rank has
// its own GPU, else the staged ring/MPI), averaging and norm as backend ops, clip_to_norm and
// SgdNesterov on device memory -- against the same steps on the CPU backend from the same seed
// and batches (the oracle: the CPU backend, the reference implementation). Three steps of a
// small conv + BN + bidirectional GRU model; per step the loss, the gradient norm (relative
// 1e-4: float GEMM/reduction order differs), and after the updates the parameters, velocity and
// BN running statistics (nmse 1e-8). Label gpu; SKIPPED without a device. NP 1 2.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/mpi.h"
#include "core/node.h"
#include "model/device.h"
#include "model/network.h"
#include "tests/train/step_fixture.h"
#include "train/grad_sync.h"
#include "train/optimizer.h"
#include "train/schedule.h"

namespace ds2::train {
namespace {

double nmse(const std::vector<float>& got, const std::vector<float>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    num += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
    den += double(want[i]) * want[i];
  }
  return den > 0 ? num / den : num;
}

std::vector<float> host(model::Backend& be, const float* p, size_t n) {
  std::vector<float> v(n);
  be.download(v.data(), p, n);
  return v;
}

TEST(TrainStepOnGpu, MatchesTheCpuBackend) {
  const Comm world;
  std::string why;
  bool have = true;
  try {
    model::select_gpu("cuda", node_place(world));
  } catch (const ConfigError& e) {
    have = false;
    why = e.what();
  }
  if (world.any(!have)) GTEST_SKIP() << "no CUDA device on some rank: " << why;

  model::ModelConfig cpu_cfg = small_config(/*batch_norm=*/true), gpu_cfg = cpu_cfg;
  gpu_cfg.device = "cuda";
  model::Network cpu(cpu_cfg), gpu(gpu_cfg);
  const size_t np = cpu.num_params();
  const auto buckets = plan_buckets(cpu.params_info(), np, 256);  // several per step
  Allreducer ar_cpu(world, AllreduceOptions{}, &cpu.backend());
  Allreducer ar_gpu(world, AllreduceOptions{}, &gpu.backend());
  SgdNesterov sgd_cpu(cpu.backend(), np, 0.9), sgd_gpu(gpu.backend(), np, 0.9);
  const auto utts = make_utts(8, cpu_cfg.n_bins, cpu_cfg.alphabet_size, 5);
  for (int step = 0; step < 3; ++step) {
    std::vector<int64_t> global;
    for (int i = 0; i < 4; ++i) global.push_back((step * 3 + i) % 8);
    const Batch b =
        make_batch(utts, Schedule::slice(global, world.rank(), world.size()), cpu_cfg.n_bins);
    const StepResult rc = global_gradient_step(cpu, ar_cpu, buckets, b, false);
    const StepResult rg = global_gradient_step(gpu, ar_gpu, buckets, b, false);
    ASSERT_FALSE(rc.skip());
    ASSERT_FALSE(rg.skip());
    EXPECT_NEAR(rg.loss_sum, rc.loss_sum, 1e-5 * std::fabs(rc.loss_sum)) << "step " << step;
    EXPECT_NEAR(rg.grad_norm, rc.grad_norm, 1e-4 * rc.grad_norm) << "step " << step;
    EXPECT_LE(nmse(host(gpu.backend(), gpu.grads(), np), host(cpu.backend(), cpu.grads(), np)),
              1e-8)
        << "step " << step;
    clip_to_norm(cpu.backend(), cpu.grads(), np, rc.grad_norm, 1.0);  // clipping is exercised
    clip_to_norm(gpu.backend(), gpu.grads(), np, rg.grad_norm, 1.0);
    sgd_cpu.step(cpu.params(), cpu.grads(), np, 0.05);
    sgd_gpu.step(gpu.params(), gpu.grads(), np, 0.05);
  }
  EXPECT_LE(nmse(host(gpu.backend(), gpu.params(), np), host(cpu.backend(), cpu.params(), np)),
            1e-8);
  EXPECT_LE(nmse(sgd_gpu.velocity(), sgd_cpu.velocity()), 1e-8);
  const size_t nb = cpu.num_buffer_floats();
  EXPECT_LE(nmse(host(gpu.backend(), gpu.buffers(), nb), host(cpu.backend(), cpu.buffers(), nb)),
            1e-8);
}

}  // namespace
}  // namespace ds2::train
