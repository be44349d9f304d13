// SGD with Nesterov momentum and global-norm clipping (see optimizer.h for the update).
#include "train/optimizer.h"

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

SgdNesterov::SgdNesterov(size_t n, double momentum, double weight_decay)
    : v_(n, 0.0f),
      momentum_(static_cast<float>(momentum)),
      weight_decay_(static_cast<float>(weight_decay)) {}

void SgdNesterov::step(float* params, const float* grads, size_t n, double lr) {
  DS2_REQUIRE(n == v_.size(), ConfigError, "optimizer: {} parameters, state has {}", n, v_.size());
  const float lr_f = static_cast<float>(lr), mu = momentum_, wd = weight_decay_;
  float* v = v_.data();
  for (size_t i = 0; i < n; ++i) {
    const float g = grads[i] + wd * params[i];
    v[i] = mu * v[i] + g;
    params[i] -= lr_f * (g + mu * v[i]);
  }
}

void SgdNesterov::set_velocity(const std::vector<float>& v) {
  DS2_REQUIRE(v.size() == v_.size(), FormatError,
              "optimizer state: velocity has {} values, the model {} parameters", v.size(),
              v_.size());
  v_ = v;
}

}  // namespace ds2::train
