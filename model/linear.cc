// Fully connected layer: one GEMM over all frames of the batch.
#include "model/linear.h"

#include <cmath>

namespace ds2::model {

Linear::Linear(ParamStore& store, const std::string& name, int in, int out, float clip)
    : store_(&store), in_(in), out_(out), clip_(clip) {
  w_ = store.add_param(name + ".weight", {in, out}, Init::kNormal,
                       static_cast<float>(std::sqrt(2.0 / in)));
  b_ = store.add_param(name + ".bias", {out}, Init::kZero);
  y_.set_backend(&store.backend());
  dx_.set_backend(&store.backend());
}

const float* Linear::forward(const float* x, int t, int n, const int32_t* lengths, Mode mode) {
  Backend& be = store_->backend();
  x_ = x;
  lengths_ = lengths;
  t_ = t;
  n_ = n;
  const int rows = t * n;
  float* y = y_.ensure(static_cast<size_t>(rows) * out_);
  be.gemm(false, false, rows, out_, in_, 1.0f, x, in_, store_->param(w_), out_, 0.0f, y, out_);
  be.add_bias(y, store_->param(b_), rows, out_);
  if (clip_ > 0) be.clipped_relu(y, static_cast<size_t>(rows) * out_, clip_);
  be.mask_rows(y, 0, t, n, out_, lengths);
  return y;
}

float* Linear::backward(float* dy, bool need_dx) {
  Backend& be = store_->backend();
  const int rows = t_ * n_;
  if (clip_ > 0) be.clipped_relu_backward(y_.data(), dy, static_cast<size_t>(rows) * out_, clip_);
  be.mask_rows(dy, 0, t_, n_, out_, lengths_);
  be.gemm(true, false, in_, out_, rows, 1.0f, x_, in_, dy, out_, 1.0f, store_->grad(w_), out_);
  be.bias_grad(dy, rows, out_, store_->grad(b_));
  if (!need_dx) return nullptr;
  float* dx = dx_.ensure(static_cast<size_t>(rows) * in_);
  be.gemm(false, true, rows, in_, out_, 1.0f, dy, out_, store_->param(w_), out_, 0.0f, dx, in_);
  return dx;
}

}  // namespace ds2::model
