// Tensors of the DS2 model: a non-owning view (pointer + shape) and an owning, grow-only buffer
// in a backend's memory space (host memory for the CPU backend, device memory for CUDA).
//
// Layouts used throughout model/ (all row-major, last index fastest):
//   features     (N, T, F)      N utterances, T frames (padded), F frequency bins
//   conv maps    (N, C, T, F)   C channels; time before frequency
//   sequences    (T, N, D)      time-major; row t * N + n is frame t of utterance n
//   activations  (T', N, C)     the network output, pre-softmax, C = alphabet size (blank 0)
// Frames at t >= lengths[n] are padding: they are zero in every activation and gradient.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ds2::model {

class Backend;

// A view of `size()` floats with up to 4 dimensions. Does not own its memory.
struct Tensor {
  float* data = nullptr;
  std::vector<int> shape;

  size_t size() const {
    size_t n = 1;
    for (int d : shape) n *= static_cast<size_t>(d);
    return shape.empty() ? 0 : n;
  }
  int dim(int i) const { return shape.at(static_cast<size_t>(i)); }
};

// "(2, 3, 4)" for logs and error messages.
std::string shape_string(const std::vector<int>& shape);

// Owning buffer of floats allocated by a backend. Grows on demand and never shrinks, so a hot
// path that calls ensure(max shape) allocates only while shapes are still growing.
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(Backend* backend, size_t n = 0) : backend_(backend) { ensure(n); }
  ~Buffer() { release(); }
  Buffer(Buffer&& o) noexcept : backend_(o.backend_), data_(o.data_), capacity_(o.capacity_) {
    o.data_ = nullptr;
    o.capacity_ = 0;
  }
  Buffer& operator=(Buffer&& o) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  void set_backend(Backend* backend);
  // Makes capacity >= n floats. Contents are NOT preserved when it grows.
  float* ensure(size_t n);
  float* data() { return data_; }
  const float* data() const { return data_; }
  size_t capacity() const { return capacity_; }

 private:
  void release();
  Backend* backend_ = nullptr;
  float* data_ = nullptr;
  size_t capacity_ = 0;
};

}  // namespace ds2::model
