// SgdNesterov and clipping against closed forms: on a separable quadratic the Nesterov update is
// a linear 2x2 recurrence per coordinate, so k steps equal a matrix power computed in double;
// Sutskever's original formulation (velocity evaluated at the look-ahead point) is a second,
// independent oracle; clipping is checked on a hand-computed 3-4-5 case.
#include "train/optimizer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/error.h"

namespace ds2::train {
namespace {

// f(x) = 0.5 * sum a_i (x_i - c_i)^2, gradient a_i (x_i - c_i).
struct Quadratic {
  std::vector<double> a, c;
  void grad(const std::vector<float>& x, std::vector<float>* g) const {
    g->resize(x.size());
    for (size_t i = 0; i < x.size(); ++i) (*g)[i] = static_cast<float>(a[i] * (x[i] - c[i]));
  }
};

// e = x - c, v: [e'; v'] = [[1 - lr a (1 + mu), -lr mu^2]; [a, mu]] [e; v]; returns e_k + c.
double closed_form(double a, double c, double x0, double lr, double mu, int k) {
  double m00 = 1 - lr * a * (1 + mu), m01 = -lr * mu * mu, m10 = a, m11 = mu;
  // M^k by repeated squaring.
  double r00 = 1, r01 = 0, r10 = 0, r11 = 1;
  for (int p = k; p > 0; p >>= 1) {
    if (p & 1) {
      double t00 = r00 * m00 + r01 * m10, t01 = r00 * m01 + r01 * m11;
      double t10 = r10 * m00 + r11 * m10, t11 = r10 * m01 + r11 * m11;
      r00 = t00, r01 = t01, r10 = t10, r11 = t11;
    }
    double s00 = m00 * m00 + m01 * m10, s01 = m00 * m01 + m01 * m11;
    double s10 = m10 * m00 + m11 * m10, s11 = m10 * m01 + m11 * m11;
    m00 = s00, m01 = s01, m10 = s10, m11 = s11;
  }
  return r00 * (x0 - c) + c;  // v0 = 0
}

TEST(SgdNesterov, MatchesClosedFormOnQuadratic) {
  Quadratic q{{0.5, 2.0, 10.0, 0.1}, {1.0, -2.0, 0.5, 3.0}};
  const std::vector<float> x0 = {0.0f, 1.0f, -1.0f, 2.0f};
  const double lr = 0.03, mu = 0.9;
  std::vector<float> x = x0, g;
  SgdNesterov opt(x.size(), mu);
  for (int k = 1; k <= 60; ++k) {
    q.grad(x, &g);
    opt.step(x.data(), g.data(), x.size(), lr);
    for (size_t i = 0; i < x.size(); ++i)
      ASSERT_NEAR(x[i], closed_form(q.a[i], q.c[i], x0[i], lr, mu, k), 1e-4)
          << "step " << k << " coordinate " << i;
  }
}

TEST(SgdNesterov, MatchesSutskeverFormulation) {
  // Sutskever et al. 2013: v = mu v - lr grad(y + mu v); y += v. With constant lr its iterates
  // y relate to ours by x = y + mu v (x is the look-ahead point).
  Quadratic q{{1.5, 0.2, 4.0}, {-1.0, 2.0, 0.25}};
  const double lr = 0.05, mu = 0.8;
  std::vector<double> y = {0.5, -0.5, 1.0}, vs(3, 0.0);
  std::vector<float> x = {0.5f, -0.5f, 1.0f}, g;
  SgdNesterov opt(3, mu);
  for (int k = 0; k < 300; ++k) {
    q.grad(x, &g);
    opt.step(x.data(), g.data(), 3, lr);
    for (int i = 0; i < 3; ++i) {
      vs[i] = mu * vs[i] - lr * q.a[i] * (y[i] + mu * vs[i] - q.c[i]);
      y[i] += vs[i];
    }
    for (int i = 0; i < 3; ++i) ASSERT_NEAR(x[i], y[i] + mu * vs[i], 1e-4) << "step " << k;
  }
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(x[i], q.c[i], 1e-3);  // converged to the minimum
}

TEST(SgdNesterov, WeightDecayIsAQuadraticPenalty) {
  // Zero loss gradient + weight decay wd == the quadratic a = wd, c = 0.
  const double lr = 0.1, mu = 0.5, wd = 0.3;
  std::vector<float> x = {2.0f, -1.0f}, zero(2, 0.0f);
  SgdNesterov opt(2, mu, wd);
  for (int k = 1; k <= 20; ++k) {
    opt.step(x.data(), zero.data(), 2, lr);
    EXPECT_NEAR(x[0], closed_form(wd, 0, 2.0, lr, mu, k), 1e-5);
    EXPECT_NEAR(x[1], closed_form(wd, 0, -1.0, lr, mu, k), 1e-5);
  }
}

TEST(SgdNesterov, VelocityRoundTripContinuesExactly) {
  Quadratic q{{1.0, 3.0}, {0.5, -0.5}};
  std::vector<float> a = {1.0f, 1.0f}, g;
  SgdNesterov o1(2, 0.9);
  for (int k = 0; k < 5; ++k) q.grad(a, &g), o1.step(a.data(), g.data(), 2, 0.1);
  std::vector<float> b = a;
  SgdNesterov o2(2, 0.9);
  o2.set_velocity(o1.velocity());
  for (int k = 0; k < 5; ++k) {
    q.grad(a, &g), o1.step(a.data(), g.data(), 2, 0.1);
    q.grad(b, &g), o2.step(b.data(), g.data(), 2, 0.1);
  }
  EXPECT_EQ(a, b);  // bit for bit
  EXPECT_THROW(o2.set_velocity(std::vector<float>(3)), FormatError);
}

TEST(Clip, HandComputedThreeFourFive) {
  std::vector<float> g = {3.0f, 0.0f, -4.0f};
  EXPECT_DOUBLE_EQ(global_norm(g.data(), 3), 5.0);
  EXPECT_DOUBLE_EQ(clip_by_global_norm(g.data(), 3, 10.0), 5.0);  // within: unchanged
  EXPECT_EQ(g, (std::vector<float>{3.0f, 0.0f, -4.0f}));
  EXPECT_DOUBLE_EQ(clip_by_global_norm(g.data(), 3, 0.0), 5.0);  // off
  EXPECT_EQ(g, (std::vector<float>{3.0f, 0.0f, -4.0f}));
  EXPECT_DOUBLE_EQ(clip_by_global_norm(g.data(), 3, 2.5), 5.0);  // halved
  EXPECT_FLOAT_EQ(g[0], 1.5f);
  EXPECT_FLOAT_EQ(g[1], 0.0f);
  EXPECT_FLOAT_EQ(g[2], -2.0f);
  EXPECT_NEAR(global_norm(g.data(), 3), 2.5, 1e-6);
}

TEST(OptimizerOptions, AnnealsPerEpoch) {
  OptimizerOptions o;
  o.lr = 1e-3;
  o.anneal = 1.1;
  EXPECT_DOUBLE_EQ(o.lr_for_epoch(0), 1e-3);
  EXPECT_NEAR(o.lr_for_epoch(2), 1e-3 / 1.21, 1e-15);
}

}  // namespace
}  // namespace ds2::train
