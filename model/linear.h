// Fully connected layer on time-major sequences: y(T*N, out) = x(T*N, in) W(in, out) + b,
// optionally followed by the clipped ReLU min(max(y, 0), clip). Padded rows of y are zero.
// Parameters "<name>.weight" (in, out), N(0, 2/in) init, and "<name>.bias" (out), zeros.
#pragma once

#include <string>

#include "model/params.h"

namespace ds2::model {

class Linear {
 public:
  // clip <= 0: no activation (the output projection).
  Linear(ParamStore& store, const std::string& name, int in, int out, float clip);
  // x (T, N, in) must stay unchanged until backward(). Returns y (T, N, out), owned here.
  const float* forward(const float* x, int t, int n, const int32_t* lengths, Mode mode);
  // dy (T, N, out); may be modified in place. Returns dx (T, N, in) or null when !need_dx.
  float* backward(float* dy, bool need_dx);
  int in() const { return in_; }
  int out() const { return out_; }

 private:
  ParamStore* store_;
  int in_, out_;
  float clip_;
  size_t w_, b_;
  const float* x_ = nullptr;
  const int32_t* lengths_ = nullptr;
  int t_ = 0, n_ = 0;
  Buffer y_, dx_;
};

}  // namespace ds2::model
