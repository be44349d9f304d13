// Shared by the kernel files and the host wrappers of the CUDA backend: the per-utterance length
// table passed BY VALUE as a kernel argument (lengths are host memory in model/backend.h, so no
// upload and no lifetime question), and the 1-D launch geometry. Host-compilable: only
// cuda_runtime_api.h, no device code.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace ds2::model::cuda {

// Most utterances per batch an op with lengths accepts (2 KiB of kernel arguments).
constexpr int kMaxBatch = 512;

struct DevLengths {
  int32_t v[kMaxBatch];
};

constexpr int kThreads = 256;

// Blocks for a grid-stride loop over n elements (capped; the loop covers the rest).
inline unsigned grid_for(size_t n) {
  const size_t b = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(b == 0 ? 1 : (b > 65535 ? 65535 : b));
}

}  // namespace ds2::model::cuda

// Grid-stride loop of a kernel over [0, n) with a size_t index (use in __global__ code only).
#define DS2_GRID_LOOP(i, n)                                               \
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < (n); \
       i += size_t{blockDim.x} * gridDim.x)
