// Finite-difference gradient checks for model layers (test helper, not a test itself).
//
// The scalar loss is L = loss_scale * sum_i r_i y_i (accumulated in double) for fixed random
// weights r, so dL/dy = loss_scale * r is what backward() receives. For a sample of entries p of
// each parameter tensor and of the input, the central difference n = (L(p + eps) - L(p - eps)) /
// (2 eps) is compared to the analytic gradient a:
//   |a - n| <= rtol * max(|a|, |n|) + noise_factor * u * ||(loss_scale r_i y_i)_i||_2 / (2 eps)
// The second term is the rounding floor of the difference itself: the model runs in float
// (u = FLT_EPSILON), each output y_i carries a few ulps of rounding, and those errors add up like a
// random walk, so L's error is about u * ||r * y||_2 and dividing by 2 eps magnifies it. Both terms
// scale with the loss, so the check is the same for gradients of 1 and of 1e-3: a fixed absolute
// tolerance (2e-3 before) passed a missing term whenever the gradient itself was ~1e-3
// (GradCheck.CatchesAMissingTermAtAnyScale). `atol` adds a fixed floor where a test needs one.
// eps balances that floor against curvature and kinks of the clipped ReLU; a kink crossed by a
// perturbation is a real disagreement, so each check reports the entries that fail and the test
// allows at most `max_bad_fraction` of them.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "model/params.h"

namespace ds2::model::test {

struct GradCheckOptions {
  float eps = 1e-3f;
  double rtol = 2e-2;
  double noise_factor = 4;  // the rounding floor in units of u * ||r y||_2 / (2 eps)
  double atol = 0;          // an extra fixed floor (none by default)
  double loss_scale = 1;    // L's scale: the check must not depend on it
  int samples_per_tensor = 12;
  double max_bad_fraction = 0.0;
};

inline std::vector<float> random_vector(size_t n, uint64_t seed, float lo = -1.0f,
                                        float hi = 1.0f) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

// forward(): runs the layer on the current params/input and returns (output pointer).
// backward(dy): runs backward with dy (may be modified) and returns dx (may be null).
// `input` is the layer input (host memory, CPU backend) that forward() reads; `input_valid`
// tells which input entries are not padding (only those are checked).
struct GradCheckCase {
  ParamStore* store = nullptr;
  std::function<const float*()> forward;
  std::function<const float*(float*)> backward;
  size_t out_size = 0;
  std::vector<float>* input = nullptr;
  std::function<bool(size_t)> input_valid;
  std::vector<uint8_t> out_valid;  // optional: loss weights zero on padded outputs
};

inline double loss_of(const float* y, const std::vector<float>& r) {
  double s = 0;
  for (size_t i = 0; i < r.size(); ++i) s += static_cast<double>(r[i]) * y[i];
  return s;
}

inline void run_grad_check(GradCheckCase& c, const GradCheckOptions& o, uint64_t seed = 7) {
  std::vector<float> r = random_vector(c.out_size, seed + 1);
  for (float& v : r) v = static_cast<float>(v * o.loss_scale);
  if (!c.out_valid.empty())
    for (size_t i = 0; i < r.size(); ++i)
      if (!c.out_valid[i]) r[i] = 0;
  c.store->zero_grad();
  double l2 = 0;  // ||r * y||_2 at the unperturbed point
  {
    const float* y = c.forward();
    for (size_t i = 0; i < r.size(); ++i) l2 += std::pow(static_cast<double>(r[i]) * y[i], 2);
    l2 = std::sqrt(l2);
  }
  const double floor = o.atol + o.noise_factor * std::numeric_limits<float>::epsilon() * l2 /
                                    (2.0 * static_cast<double>(o.eps));
  std::vector<float> dy = r;
  const float* dx_ptr = c.backward(dy.data());
  std::vector<float> dx;
  if (dx_ptr && c.input) dx.assign(dx_ptr, dx_ptr + c.input->size());
  std::vector<float> grads(c.store->grads(), c.store->grads() + c.store->num_params());

  std::mt19937_64 rng(seed);
  int checked = 0, bad = 0;
  double worst = 0;  // largest error / tolerance
  std::string failures;
  auto check = [&](float* p, double analytic, const std::string& what) {
    const float saved = *p;
    *p = saved + o.eps;
    const double lp = loss_of(c.forward(), r);
    *p = saved - o.eps;
    const double lm = loss_of(c.forward(), r);
    *p = saved;
    const double numeric = (lp - lm) / (2.0 * o.eps);
    const double err = std::abs(analytic - numeric);
    const double tol = floor + o.rtol * std::max(std::abs(analytic), std::abs(numeric));
    worst = std::max(worst, err / tol);
    ++checked;
    if (err > tol) {
      ++bad;
      failures += what + ": analytic " + std::to_string(analytic) + " numeric " +
                  std::to_string(numeric) + "\n";
    }
  };
  for (const auto& info : c.store->params_info()) {
    for (int s = 0; s < o.samples_per_tensor && s < static_cast<int>(info.size); ++s) {
      const size_t i =
          info.size <= static_cast<size_t>(o.samples_per_tensor) ? s : rng() % info.size;
      check(c.store->params() + info.offset + i, grads[info.offset + i],
            info.name + "[" + std::to_string(i) + "]");
    }
  }
  if (!dx.empty()) {
    for (int s = 0, tries = 0; s < 2 * o.samples_per_tensor && tries < 1000; ++tries) {
      const size_t i = rng() % c.input->size();
      if (c.input_valid && !c.input_valid(i)) {
        EXPECT_EQ(dx[i], 0.0f) << "gradient at padded input " << i;
        continue;
      }
      check(&(*c.input)[i], dx[i], "input[" + std::to_string(i) + "]");
      ++s;
    }
  }
  c.forward();  // leave the layer in its unperturbed state
  std::printf("[ GRADCHK  ] %d entries, rounding floor %.3g, worst error/tolerance %.3f\n", checked,
              floor, worst);
  EXPECT_LE(bad, static_cast<int>(o.max_bad_fraction * checked))
      << bad << " of " << checked << " entries disagree:\n"
      << failures;
  EXPECT_GT(checked, 0);
}

}  // namespace ds2::model::test
