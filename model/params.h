// Parameter and buffer registry of a network: every trainable tensor lives in ONE contiguous
// float arena and its gradient at the same offset in a second arena; non-trainable buffers
// (batch-norm running statistics) live in a third. Tensors are laid out in registration
// order, which is the forward order of the layers, so the backward pass finishes gradients
// from the highest offsets down (see Network::backward).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/backend.h"
#include "model/tensor.h"

namespace ds2::model {

// How a tensor is initialized by ParamStore::init(seed).
enum class Init { kZero, kOne, kNormal, kUniform };

struct ParamInfo {
  std::string name;        // e.g. "rnn1.fwd.U"
  size_t offset = 0;       // in floats, into the arena
  size_t size = 0;         // in floats
  std::vector<int> shape;  // row-major
  Init init = Init::kZero;
  float scale = 0;  // kNormal: standard deviation; kUniform: half-width
};

class ParamStore {
 public:
  explicit ParamStore(Backend& backend) : backend_(&backend) {}
  // Registration, before allocate(). Returns the tensor's index. Names must be unique.
  size_t add_param(const std::string& name, std::vector<int> shape, Init init, float scale = 0);
  size_t add_buffer(const std::string& name, std::vector<int> shape, Init init);
  // Allocates the arenas (gradients only when with_grads), initializes with seed, zeroes grads.
  void allocate(bool with_grads, uint64_t seed);
  // Deterministic initialization: one mt19937_64 stream over the tensors in order.
  void init(uint64_t seed);
  void zero_grad();

  float* param(size_t i) { return params_.data() + params_info_[i].offset; }
  float* grad(size_t i);
  float* buffer(size_t i) { return buffers_.data() + buffers_info_[i].offset; }
  const std::vector<ParamInfo>& params_info() const { return params_info_; }
  const std::vector<ParamInfo>& buffers_info() const { return buffers_info_; }
  size_t num_params() const { return num_params_; }
  size_t num_buffer_floats() const { return num_buffers_; }
  float* params() { return params_.data(); }
  float* grads() { return grads_.data(); }
  float* buffers() { return buffers_.data(); }
  bool has_grads() const { return with_grads_; }
  Backend& backend() { return *backend_; }

 private:
  Backend* backend_;
  std::vector<ParamInfo> params_info_, buffers_info_;
  size_t num_params_ = 0, num_buffers_ = 0;
  bool with_grads_ = false;
  Buffer params_, grads_, buffers_;
};

// Train: batch statistics, activations kept for backward. Infer: running statistics.
enum class Mode { kTrain, kInfer };

}  // namespace ds2::model
