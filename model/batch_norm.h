// Batch normalization as a sub-layer: y = gamma (x - mean) / sqrt(var + eps) + beta per channel.
// Training uses the statistics of the valid (unpadded) positions of the batch and updates the
// running averages; inference uses the running averages. Two layouts (model/backend.h BnLayout):
//   conv maps (N, C, T, F): per channel over all valid (n, t, f);
//   sequences (T * N, C):   "sequence-wise", per feature over all valid frames of the batch.
// Parameters "<name>.gamma" (init 1), "<name>.beta" (init 0); buffers "<name>.running_mean"
// (init 0) and "<name>.running_var" (init 1, biased batch variance is averaged).
#pragma once

#include <string>

#include "model/params.h"

namespace ds2::model {

class BatchNorm {
 public:
  BatchNorm(ParamStore& store, const std::string& name, int channels, float momentum, float eps);
  // y and x must not alias. x must stay unchanged until backward().
  void forward(const BnLayout& l, const float* x, float* y, Mode mode);
  // dx overwritten (null: skipped); parameter gradients accumulate. Padded dy is ignored.
  void backward(const BnLayout& l, const float* x, const float* dy, float* dx);
  int channels() const { return channels_; }

 private:
  ParamStore* store_;
  int channels_;
  float momentum_, eps_;
  size_t gamma_, beta_, mean_, var_;
  Buffer save_;  // mean (C), invstd (C) of the last training forward
};

}  // namespace ds2::model
