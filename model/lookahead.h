// Lookahead (row) convolution of DS2 for forward-only models: each feature d of frame t sees
// the next tau frames, y[t, d] = clip_relu(sum_{j=0..tau} w[j, d] x[t + j, d]), terms past the
// utterance's last valid frame dropped (so padding never changes a result).
// Parameter "<name>.weight" (tau + 1, D), N(0, 1 / (tau + 1)) at init.
#pragma once

#include <string>

#include "model/params.h"

namespace ds2::model {

class Lookahead {
 public:
  Lookahead(ParamStore& store, const std::string& name, int features, int tau, float clip);
  // x (T, N, D), kept until backward(). Returns y (T, N, D), owned here.
  const float* forward(const float* x, int t, int n, const int32_t* lengths, Mode mode);
  // dy modified in place. Returns dx or null when !need_dx.
  float* backward(float* dy, bool need_dx);

 private:
  ParamStore* store_;
  int d_, tau_;
  float clip_;
  size_t w_;
  const float* x_ = nullptr;
  const int32_t* lengths_ = nullptr;
  int t_ = 0, n_ = 0;
  Buffer y_, dx_;
};

}  // namespace ds2::model
