// FeatureNormalizer (pipeline/normalize.h), the normalization of training, eval and transcribe.
// Oracles: closed forms. Utterance mode on x[r][b] = a_b + s_b z_r with z = +1, -1, +1, -1, ...
// (an even number of frames: mean exactly a_b, biased std exactly |s_b|) must give z back; global
// mode must give (x - mean) / std as computed here in double; a constant bin hits the 1e-5 floor.
#include "pipeline/normalize.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/error.h"

namespace ds2::pipeline {
namespace {

TEST(Normalize, UtteranceModeRecoversTheStandardizedSignal) {
  const size_t frames = 10, f = 4;
  const double a[f] = {-6.5, 0.25, 3.0, 12.0}, s[f] = {2.0, 0.5, 0.125, 4.0};  // exact in float
  std::vector<float> x(frames * f);
  for (size_t r = 0; r < frames; ++r)
    for (size_t b = 0; b < f; ++b)
      x[r * f + b] = static_cast<float>(a[b] + s[b] * (r % 2 ? -1 : 1));
  const FeatureNormalizer norm("utterance", {}, {});
  EXPECT_FALSE(norm.per_frame());
  std::vector<float> out(x.size(), -99.f);
  norm.apply(x.data(), frames, f, out.data());
  for (size_t r = 0; r < frames; ++r)
    for (size_t b = 0; b < f; ++b) EXPECT_EQ(out[r * f + b], r % 2 ? -1.0f : 1.0f) << r << " " << b;
  // In place gives the same floats.
  norm.apply(x.data(), frames, f);
  EXPECT_EQ(x, out);
}

TEST(Normalize, UtteranceModePerBinMeanZeroStdOneAndFloor) {
  std::mt19937 rng(3);
  std::normal_distribution<float> g(0.f, 1.f);
  const size_t frames = 37, f = 6;
  std::vector<float> x(frames * f);
  for (size_t r = 0; r < frames; ++r)
    for (size_t b = 0; b < f; ++b)
      x[r * f + b] = b == 5 ? 7.5f : static_cast<float>(b) * 3.f + (1.f + b) * g(rng);
  FeatureNormalizer("utterance", {}, {}).apply(x.data(), frames, f);
  for (size_t b = 0; b < f; ++b) {
    double m = 0, v = 0;
    for (size_t r = 0; r < frames; ++r) m += x[r * f + b];
    m /= frames;
    for (size_t r = 0; r < frames; ++r) v += (x[r * f + b] - m) * (x[r * f + b] - m);
    const double sd = std::sqrt(v / frames);
    EXPECT_NEAR(m, 0.0, 1e-6) << b;
    if (b == 5)
      EXPECT_EQ(sd, 0.0);  // constant bin: (x - mean) * 1e5 = 0, no division by zero
    else
      EXPECT_NEAR(sd, 1.0, 1e-5) << b;
  }
  // A bin whose spread is below the floor is scaled by 1 / 1e-5, not by 1 / std.
  std::vector<float> y = {1.0f, 1.0f + 1e-6f};  // std ~ 4.8e-7 < 1e-5
  FeatureNormalizer("utterance", {}, {}).apply(y.data(), 2, 1);
  const double half = (double(1.0f + 1e-6f) - 1.0) / 2;
  EXPECT_NEAR(y[0], -half * 1e5, 1e-3);
  EXPECT_NEAR(y[1], half * 1e5, 1e-3);
}

TEST(Normalize, GlobalModeIsPerBinAffineAndPerFrame) {
  const std::vector<double> mean = {-5.0, 0.3, 2.7}, sd = {2.0, 0.1, 3.3};
  const FeatureNormalizer norm("global", mean, sd);
  EXPECT_TRUE(norm.per_frame());
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-10.f, 10.f);
  const size_t frames = 9, f = 3;
  std::vector<float> x(frames * f);
  for (auto& v : x) v = u(rng);
  std::vector<float> whole(x.size());
  norm.apply(x.data(), frames, f, whole.data());
  for (size_t r = 0; r < frames; ++r)
    for (size_t b = 0; b < f; ++b)
      EXPECT_NEAR(whole[r * f + b], (x[r * f + b] - mean[b]) / sd[b], 1e-5) << r << " " << b;
  // Per frame: normalizing frame by frame (a stream's chunks) gives the same floats.
  std::vector<float> pieces(x);
  for (size_t r = 0; r < frames; ++r) norm.apply(pieces.data() + r * f, 1, f);
  EXPECT_EQ(pieces, whole);
  EXPECT_THROW(norm.apply(x.data(), 1, 2), ConfigError);  // wrong number of bins
}

TEST(Normalize, NoneCopiesAndBadInputsThrow) {
  std::vector<float> x = {1.5f, -2.f, 3.f}, out(3);
  const FeatureNormalizer none("none", {}, {});
  none.apply(x.data(), 3, 1, out.data());
  EXPECT_EQ(out, x);
  EXPECT_EQ(FeatureNormalizer().mode(), "none");
  EXPECT_TRUE(is_normalize_mode("utterance"));
  EXPECT_FALSE(is_normalize_mode("Global"));
  try {
    FeatureNormalizer("cmvn", {}, {});
    ADD_FAILURE() << "unknown mode accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("'normalize'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(FeatureNormalizer("global", {}, {}), FormatError);
  EXPECT_THROW(FeatureNormalizer("global", {0.0, 1.0}, {1.0}), FormatError);
  EXPECT_THROW(FeatureNormalizer("global", {0.0}, {0.0}), FormatError);
}

}  // namespace
}  // namespace ds2::pipeline
