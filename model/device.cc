// GPU per rank (see device.h).
#include "model/device.h"

#include <cstdlib>
#include <string>

#include "core/error.h"
#include "core/log.h"
#include "ds2/config.h"
#include "model/backend.h"
#ifdef DS2_HAS_CUDA
#include "model/cuda/cuda_backend.h"
#endif

namespace ds2::model {

int gpu_for_rank(const NodePlace& p, int visible, int requested) {
  DS2_REQUIRE(visible >= 1, ConfigError, "model.device=cuda: no CUDA device visible");
  if (requested >= 0) {
    DS2_REQUIRE(requested < visible, ConfigError,
                "--gpu / DS2_GPU: GPU {} requested but rank {} on {} sees {} device(s) (0..{})",
                requested, p.rank, p.host, visible, visible - 1);
    return requested;
  }
  return p.local_rank % visible;
}

namespace {

int requested_from_env(int requested) {
  if (requested >= 0) return requested;
  const char* env = std::getenv("DS2_GPU");
  if (!env || !*env) return -1;
  char* end = nullptr;
  const long v = std::strtol(env, &end, 10);
  DS2_REQUIRE(*end == '\0' && v >= 0 && v < 1 << 20, ConfigError,
              "DS2_GPU: '{}' is not a GPU index (a non-negative integer)", env);
  return static_cast<int>(v);
}

}  // namespace

GpuChoice select_gpu(const std::string& device, const NodePlace& p, int requested) {
  GpuChoice c;
  if (parse_device(device) == Device::kCpu) return c;
  requested = requested_from_env(requested);
#ifdef DS2_HAS_CUDA
  std::string why;
  c.visible = cuda::CudaBackend::device_count(&why);
  DS2_REQUIRE(c.visible > 0, ConfigError, "model.device=cuda: no usable CUDA device: {}", why);
  c.gpu = gpu_for_rank(p, c.visible, requested);
  cuda::CudaBackend::use_device(c.gpu);
  const char* vis = std::getenv("CUDA_VISIBLE_DEVICES");
  logger("device")->info("rank {} on host {} uses GPU {} of {} ({}{}{}), node-local rank {} of {}",
                         p.rank, p.host, c.gpu, c.visible, cuda::CudaBackend::device_label(c.gpu),
                         vis ? ", CUDA_VISIBLE_DEVICES=" : "", vis ? vis : "", p.local_rank,
                         p.local_size);
  if (requested < 0 && p.local_size > c.visible && p.local_rank == 0)
    logger("device")->warn(
        "host {}: {} ranks share {} GPU(s) (--allreduce nccl refuses two ranks on one GPU)", p.host,
        p.local_size, c.visible);
  return c;
#else
  (void)p;
  DS2_THROW(ConfigError, "model.device=cuda: ds2 was built without CUDA (DS2_CUDA=OFF or no nvcc)");
#endif
}

}  // namespace ds2::model
