// A caching device allocator: requests are rounded up (512 B below 1 MiB, 1 MiB above) and a
// freed block is cached; an alloc takes the smallest cached block of at least the rounded size
// and at most twice it (so the buffers that grow to a batch's maximum shape can recycle each
// other's blocks without wasting more than half). cudaMalloc is called only on a miss; when it
// fails the cache is released (cudaFree) and it is retried once. Not thread-safe (one per backend).
// Callers must only reuse memory in stream order (the backend has one stream, so that holds).
#pragma once

#include <cstddef>
#include <map>
#include <unordered_map>

namespace ds2::model::cuda {

class DevicePool {
 public:
  DevicePool() = default;
  ~DevicePool();  // cudaFree of every block, in use or cached
  DevicePool(const DevicePool&) = delete;
  DevicePool& operator=(const DevicePool&) = delete;

  void* alloc(size_t bytes);  // throws CudaError when the device is out of memory
  void free(void* p);         // p from alloc (nullptr ignored); throws Error on a foreign pointer
  void release_cached();      // cudaFree of the cached (free) blocks
  size_t bytes_held() const { return held_; }
  size_t num_mallocs() const { return mallocs_; }

  static size_t round_size(size_t bytes);

 private:
  std::unordered_map<void*, size_t> in_use_;  // pointer -> block size
  std::multimap<size_t, void*> cached_;       // block size -> free block
  size_t held_ = 0, mallocs_ = 0;
};

}  // namespace ds2::model::cuda
