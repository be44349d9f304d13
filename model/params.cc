// ParamStore: registration, arena allocation and seeded initialization.
#include "model/params.h"

#include <cmath>
#include <random>

#include "core/error.h"

namespace ds2::model {
namespace {

size_t count(const std::vector<int>& shape) {
  size_t n = 1;
  for (int d : shape) n *= static_cast<size_t>(d);
  return n;
}

// Uniform in [0, 1) from 53 random bits: identical on every platform (unlike <random>
// distributions, whose algorithms are implementation-defined).
double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

}  // namespace

size_t ParamStore::add_param(const std::string& name, std::vector<int> shape, Init init,
                             float scale) {
  for (const auto& p : params_info_)
    DS2_REQUIRE(p.name != name, Error, "duplicate parameter name '{}'", name);
  DS2_REQUIRE(!params_.data(), Error, "parameter '{}' added after allocate()", name);
  ParamInfo p{name, num_params_, count(shape), std::move(shape), init, scale};
  num_params_ += p.size;
  params_info_.push_back(std::move(p));
  return params_info_.size() - 1;
}

size_t ParamStore::add_buffer(const std::string& name, std::vector<int> shape, Init init) {
  DS2_REQUIRE(!buffers_.data(), Error, "buffer '{}' added after allocate()", name);
  ParamInfo p{name, num_buffers_, count(shape), std::move(shape), init, 0};
  num_buffers_ += p.size;
  buffers_info_.push_back(std::move(p));
  return buffers_info_.size() - 1;
}

void ParamStore::allocate(bool with_grads, uint64_t seed) {
  with_grads_ = with_grads;
  params_.set_backend(backend_);
  grads_.set_backend(backend_);
  buffers_.set_backend(backend_);
  params_.ensure(std::max<size_t>(num_params_, 1));
  buffers_.ensure(std::max<size_t>(num_buffers_, 1));
  if (with_grads) grads_.ensure(std::max<size_t>(num_params_, 1));
  init(seed);
  if (with_grads) zero_grad();
}

void ParamStore::init(uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto fill = [&](const std::vector<ParamInfo>& infos, Buffer& arena, size_t total) {
    std::vector<float> host(total);
    for (const auto& p : infos) {
      float* d = host.data() + p.offset;
      for (size_t i = 0; i < p.size; ++i) {
        switch (p.init) {
          case Init::kZero:
            d[i] = 0.0f;
            break;
          case Init::kOne:
            d[i] = 1.0f;
            break;
          case Init::kUniform:
            d[i] = static_cast<float>((2.0 * uniform01(rng) - 1.0) * p.scale);
            break;
          case Init::kNormal: {  // Box-Muller, one value per pair of draws
            const double u1 = 1.0 - uniform01(rng), u2 = uniform01(rng);
            d[i] = static_cast<float>(p.scale * std::sqrt(-2.0 * std::log(u1)) *
                                      std::cos(2.0 * M_PI * u2));
            break;
          }
        }
      }
    }
    if (total) backend_->upload(arena.data(), host.data(), total);
  };
  fill(params_info_, params_, num_params_);
  fill(buffers_info_, buffers_, num_buffers_);
}

void ParamStore::zero_grad() {
  DS2_REQUIRE(with_grads_, Error, "zero_grad() on a network built without gradients");
  backend_->fill(grads_.data(), num_params_, 0.0f);
}

float* ParamStore::grad(size_t i) {
  DS2_REQUIRE(with_grads_, Error, "gradient of '{}' requested from a network without gradients",
              params_info_[i].name);
  return grads_.data() + params_info_[i].offset;
}

}  // namespace ds2::model
