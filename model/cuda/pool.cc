// DevicePool (pool.h): a size-bucketed cache in front of cudaMalloc/cudaFree.
#include "model/cuda/pool.h"

#include "model/cuda/check.h"

namespace ds2::model::cuda {

size_t DevicePool::round_size(size_t bytes) {
  constexpr size_t kSmall = 512, kLarge = size_t{1} << 20;
  if (bytes == 0) bytes = 1;
  const size_t q = bytes < kLarge ? kSmall : kLarge;
  return (bytes + q - 1) / q * q;
}

void* DevicePool::alloc(size_t bytes) {
  const size_t size = round_size(bytes);
  auto it = cached_.lower_bound(size);
  if (it != cached_.end() && it->first <= 2 * size) {
    void* p = it->second;
    in_use_.emplace(p, it->first);
    cached_.erase(it);
    return p;
  }
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, size);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();  // reset the (non-sticky) allocation error, then retry
    release_cached();
    DS2_CUDA_CHECK(cudaMalloc(&p, size));
  }
  ++mallocs_;
  held_ += size;
  in_use_.emplace(p, size);
  return p;
}

void DevicePool::free(void* p) {
  if (!p) return;
  auto it = in_use_.find(p);
  DS2_REQUIRE(it != in_use_.end(), Error, "cuda pool: free of a pointer it did not allocate");
  cached_.emplace(it->second, p);
  in_use_.erase(it);
}

void DevicePool::release_cached() {
  for (auto& [size, p] : cached_) {
    cudaFree(p);  // best effort: this runs on an error path or in the destructor
    held_ -= size;
  }
  cached_.clear();
}

DevicePool::~DevicePool() {
  release_cached();
  for (auto& [p, size] : in_use_) cudaFree(p);
}

}  // namespace ds2::model::cuda
