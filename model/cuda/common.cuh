// Shared by the kernel files and the host wrappers of the CUDA backend: the per-utterance length
// table passed BY VALUE as a kernel argument (lengths are host memory in model/backend.h, so no
// upload and no lifetime question), and the 1-D launch geometry. Host-compilable: only
// cuda_runtime_api.h, no device code.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace ds2::model::cuda {

// Utterances per batch whose lengths travel inline in the kernel arguments (2 KiB). Larger
// batches (any size) pass `ptr`, a device copy the backend uploads once per distinct lengths
// array and caches (CudaBackend::dev_lengths), so eval batches over 512 work too.
constexpr int kInlineBatch = 512;

struct DevLengths {
  const int32_t* ptr;  // device copy of all n lengths, or null: they are in v
  int32_t v[kInlineBatch];
  __host__ __device__ int32_t operator[](int j) const { return ptr ? ptr[j] : v[j]; }
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
