// SGD with Nesterov momentum and global-norm clipping (see optimizer.h for the update).
#include "train/optimizer.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace ds2::train {

double OptimizerOptions::lr_for_epoch(int epoch) const {
  return lr / std::pow(anneal, static_cast<double>(epoch));
}

void OptimizerOptions::add_to(po::options_description& d) {
  d.add_options()("lr", po::value(&lr)->default_value(lr)->notifier([](double v) {
    DS2_REQUIRE(v > 0, ConfigError, "--lr must be > 0, got {}", v);
  }),
                  "learning rate of epoch 0 (gradient of the mean per-utterance CTC cost)")(
      "momentum", po::value(&momentum)->default_value(momentum)->notifier([](double v) {
        DS2_REQUIRE(v >= 0 && v < 1, ConfigError, "--momentum must be in [0, 1), got {}", v);
      }),
      "Nesterov momentum")("anneal",
                           po::value(&anneal)->default_value(anneal)->notifier([](double v) {
                             DS2_REQUIRE(v > 0, ConfigError, "--anneal must be > 0, got {}", v);
                           }),
                           "learning rate divided by this after every epoch")(
      "clip-norm", po::value(&clip_norm)->default_value(clip_norm),
      "clip the averaged gradient to this global L2 norm (<= 0: off)")(
      "weight-decay", po::value(&weight_decay)->default_value(weight_decay)->notifier([](double v) {
        DS2_REQUIRE(v >= 0, ConfigError, "--weight-decay must be >= 0, got {}", v);
      }),
      "L2 penalty added to the gradient");
}

double global_norm(const float* g, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += static_cast<double>(g[i]) * g[i];
  return std::sqrt(s);
}

double clip_by_global_norm(float* g, size_t n, double max_norm) {
  const double norm = global_norm(g, n);
  if (max_norm > 0 && norm > max_norm) {
    const float scale = static_cast<float>(max_norm / norm);
    for (size_t i = 0; i < n; ++i) g[i] *= scale;
  }
  return norm;
}

double global_norm(model::Backend& be, const float* g, size_t n) {
  return std::sqrt(be.sum_squares(g, n));
}

double clip_to_norm(model::Backend& be, float* g, size_t n, double norm, double max_norm) {
  if (max_norm > 0 && norm > max_norm) be.scale(g, n, static_cast<float>(max_norm / norm));
  return norm;
}

SgdNesterov::SgdNesterov(model::Backend& be, size_t n, double momentum, double weight_decay)
    : be_(&be),
      n_(n),
      v_(&be, std::max<size_t>(n, 1)),
      momentum_(static_cast<float>(momentum)),
      weight_decay_(static_cast<float>(weight_decay)) {
  be.fill(v_.data(), n, 0.0f);
}

SgdNesterov::SgdNesterov(size_t n, double momentum, double weight_decay)
    : own_(model::make_backend(model::Device::kCpu, 1)),
      be_(own_.get()),
      n_(n),
      v_(own_.get(), std::max<size_t>(n, 1)),
      momentum_(static_cast<float>(momentum)),
      weight_decay_(static_cast<float>(weight_decay)) {
  be_->fill(v_.data(), n, 0.0f);
}

SgdNesterov::~SgdNesterov() = default;  // v_ (declared after own_) is freed first

void SgdNesterov::step(float* params, const float* grads, size_t n, double lr) {
  DS2_REQUIRE(n == n_, ConfigError, "optimizer: {} parameters, state has {}", n, n_);
  be_->sgd_nesterov(params, grads, v_.data(), n, static_cast<float>(lr), momentum_, weight_decay_);
}

std::vector<float> SgdNesterov::velocity() const {
  std::vector<float> v(n_);
  be_->download(v.data(), v_.data(), n_);
  return v;
}

void SgdNesterov::set_velocity(const std::vector<float>& v) {
  DS2_REQUIRE(v.size() == n_, FormatError,
              "optimizer state: velocity has {} values, the model {} parameters", v.size(), n_);
  be_->upload(v_.data(), v.data(), n_);
}

}  // namespace ds2::train
