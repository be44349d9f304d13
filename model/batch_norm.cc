// BatchNorm sub-layer: parameter bookkeeping around the backend's bn_* ops.
#include "model/batch_norm.h"

namespace ds2::model {

BatchNorm::BatchNorm(ParamStore& store, const std::string& name, int channels, float momentum,
                     float eps)
    : store_(&store), channels_(channels), momentum_(momentum), eps_(eps) {
  gamma_ = store.add_param(name + ".gamma", {channels}, Init::kOne);
  beta_ = store.add_param(name + ".beta", {channels}, Init::kZero);
  mean_ = store.add_buffer(name + ".running_mean", {channels}, Init::kZero);
  var_ = store.add_buffer(name + ".running_var", {channels}, Init::kOne);
  save_.set_backend(&store.backend());
}

void BatchNorm::forward(const BnLayout& l, const float* x, float* y, Mode mode) {
  Backend& be = store_->backend();
  if (mode == Mode::kInfer) {
    be.bn_forward_infer(l, x, store_->param(gamma_), store_->param(beta_), store_->buffer(mean_),
                        store_->buffer(var_), eps_, y);
    return;
  }
  float* save = save_.ensure(2 * static_cast<size_t>(channels_));
  be.bn_forward_train(l, x, store_->param(gamma_), store_->param(beta_), eps_, momentum_, y, save,
                      save + channels_, store_->buffer(mean_), store_->buffer(var_));
}

void BatchNorm::backward(const BnLayout& l, const float* x, const float* dy, float* dx) {
  const float* save = save_.data();
  store_->backend().bn_backward(l, x, dy, store_->param(gamma_), save, save + channels_, dx,
                                store_->grad(gamma_), store_->grad(beta_));
}

}  // namespace ds2::model
