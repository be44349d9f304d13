// Lookahead convolution layer on the backend's lookahead_* ops.
#include "model/lookahead.h"

#include <cmath>

namespace ds2::model {

Lookahead::Lookahead(ParamStore& store, const std::string& name, int features, int tau, float clip)
    : store_(&store), d_(features), tau_(tau), clip_(clip) {
  w_ = store.add_param(name + ".weight", {tau + 1, features}, Init::kNormal,
                       static_cast<float>(1.0 / std::sqrt(tau + 1.0)));
  y_.set_backend(&store.backend());
  dx_.set_backend(&store.backend());
}

const float* Lookahead::forward(const float* x, int t, int n, const int32_t* lengths, Mode mode) {
  Backend& be = store_->backend();
  x_ = x;
  lengths_ = lengths;
  t_ = t;
  n_ = n;
  const size_t size = static_cast<size_t>(t) * n * d_;
  float* y = y_.ensure(size);
  be.lookahead_forward(x, store_->param(w_), t, n, d_, tau_, lengths, y);
  be.clipped_relu(y, size, clip_);
  return y;
}

float* Lookahead::backward(float* dy, bool need_dx) {
  Backend& be = store_->backend();
  const size_t size = static_cast<size_t>(t_) * n_ * d_;
  be.clipped_relu_backward(y_.data(), dy, size, clip_);
  be.mask_rows(dy, 0, t_, n_, d_, lengths_);
  float* dx = dx_.ensure(size);
  be.lookahead_backward(x_, store_->param(w_), dy, t_, n_, d_, tau_, lengths_, dx,
                        store_->grad(w_));
  return need_dx ? dx : nullptr;
}

}  // namespace ds2::model
