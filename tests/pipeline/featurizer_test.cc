// Featurizer against independent oracles: the closed-form power of a windowed on-bin sine, and a
// direct O(N^2) DFT in double precision written here.
#include "pipeline/featurizer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>

#include "core/error.h"

namespace ds2::pipeline {
namespace {

constexpr double kPi = 3.14159265358979323846;

std::vector<double> hamming(int n) {
  std::vector<double> w(n);
  for (int i = 0; i < n; ++i) w[i] = 0.54 - 0.46 * std::cos(2 * kPi * i / (n - 1));
  return w;
}

// |DFT(w * x)|^2 of one frame, in double, bin by bin.
std::vector<double> direct_power(const float* x, int n) {
  const std::vector<double> w = hamming(n);
  std::vector<double> p(n / 2 + 1);
  for (int k = 0; k <= n / 2; ++k) {
    double re = 0, im = 0;
    for (int i = 0; i < n; ++i) {
      const double a = 2 * kPi * static_cast<double>((static_cast<int64_t>(k) * i) % n) / n;
      re += w[i] * x[i] * std::cos(a);
      im -= w[i] * x[i] * std::sin(a);
    }
    p[k] = re * re + im * im;
  }
  return p;
}

std::vector<float> random_signal(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(n);
  for (auto& v : x) v = u(rng);
  return x;
}

TEST(FeatureOptions, DefaultsGiveDs2Geometry) {
  FeatureOptions o;
  EXPECT_EQ(o.window(), 320);
  EXPECT_EQ(o.hop(), 160);
  EXPECT_EQ(o.n_bins(), 161);
  Featurizer f(o);
  EXPECT_EQ(f.n_bins(), 161);
}

TEST(FeatureOptions, RegistersAndRejectsBadValues) {
  FeatureOptions o;
  po::options_description d;
  o.add_to(d);
  const char* argv[] = {"x",     "--window-ms",   "25",  "--hop-ms", "10", "--feature",
                        "log1p", "--sample-rate", "8000"};
  po::variables_map vm;
  po::store(po::parse_command_line(9, argv, d), vm);
  po::notify(vm);
  EXPECT_EQ(o.window(), 200);
  EXPECT_EQ(o.hop(), 80);
  EXPECT_EQ(o.feature, "log1p");
  o.feature = "mel";
  EXPECT_THROW(Featurizer{o}, ConfigError);
  o.feature = "log";
  o.hop_ms = 0;
  EXPECT_THROW(Featurizer{o}, ConfigError);
}

TEST(Featurizer, FrameCountsAtBoundaries) {
  Featurizer f(FeatureOptions{});
  const std::vector<std::pair<int64_t, int64_t>> cases = {{0, 0},   {319, 0}, {320, 1},   {479, 1},
                                                          {480, 2}, {481, 2}, {16000, 99}};
  std::vector<float> out;
  for (auto [n, frames] : cases) {
    EXPECT_EQ(f.num_frames(n), frames) << n;
    const std::vector<float> x = random_signal(static_cast<size_t>(n), 1);
    f.compute(x.data(), n, out);
    EXPECT_EQ(out.size(), static_cast<size_t>(frames * 161)) << n;
  }
}

// Silence: every bin is exactly at the floor, log(1e-10) or log1p(0) = 0.
TEST(Featurizer, SilenceGivesTheFloor) {
  const std::vector<float> zeros(1000, 0.0f);
  std::vector<float> out;
  for (const std::string feature : {"log", "log1p"}) {
    FeatureOptions o;
    o.feature = feature;
    Featurizer f(o);
    f.compute(zeros, out);
    ASSERT_EQ(out.size(), 5u * 161);
    const double floor = feature == "log" ? std::log(1e-10) : 0.0;
    for (float v : out) ASSERT_NEAR(v, floor, 1e-5) << feature;
  }
}

// A sine at exactly bin k's frequency: its power in bin k is (A * sum(w) / 2)^2 (the image at -k
// leaks < 1e-5 relative for k well inside (0, N/2)), and bin k is the maximum.
class SineBin : public ::testing::TestWithParam<int> {};

TEST_P(SineBin, PowerMatchesClosedForm) {
  const int k = GetParam();
  const int n_win = 320;
  const double amp = 0.5, rate = 16000, freq = k * rate / n_win;
  std::vector<float> x(16000);
  for (size_t i = 0; i < x.size(); ++i) {
    x[i] = static_cast<float>(amp * std::sin(2 * kPi * freq * i / rate + 0.3));
  }
  Featurizer f(FeatureOptions{});
  std::vector<float> out;
  f.compute(x, out);
  const std::vector<double> w = hamming(n_win);
  double sum_w = 0;
  for (double v : w) sum_w += v;
  const double expected = std::pow(amp * sum_w / 2, 2);
  const int64_t frames = f.num_frames(static_cast<int64_t>(x.size()));
  for (int64_t fr : {int64_t{0}, frames / 2, frames - 1}) {
    const float* row = out.data() + fr * 161;
    int best = 0;
    for (int b = 1; b < 161; ++b) best = row[b] > row[best] ? b : best;
    EXPECT_EQ(best, k) << "frame " << fr;
    EXPECT_NEAR(std::exp(static_cast<double>(row[k])) / expected, 1.0, 1e-3) << "frame " << fr;
  }
}

INSTANTIATE_TEST_SUITE_P(Bins, SineBin, ::testing::Values(10, 40, 123));

// Every frame of a random signal, both feature variants, against the direct DFT.
TEST(Featurizer, MatchesDirectDftEveryFrame) {
  for (const std::string feature : {"log", "log1p"}) {
    FeatureOptions o;
    o.feature = feature;
    Featurizer f(o);
    // 39 frames plus a partial one; a quiet stretch exercises small powers.
    std::vector<float> x = random_signal(160 * 40 + 97, 7);
    for (size_t i = 3000; i < 3800; ++i) x[i] *= 1e-4f;
    std::vector<float> out;
    f.compute(x, out);
    const int64_t frames = f.num_frames(static_cast<int64_t>(x.size()));
    ASSERT_EQ(frames, 39);
    // Two measures: (1) the power recovered from the feature vs the exact power, relative to
    // the frame's mean bin power (a float32 FFT's error is relative to the frame's energy, so a
    // near-empty bin cannot be held to its own scale); (2) the feature itself vs the exact
    // feature, on average.
    double worst = 0, sum = 0;
    for (int64_t fr = 0; fr < frames; ++fr) {
      const std::vector<double> p = direct_power(x.data() + fr * 160, 320);
      double mean_p = 0;
      for (double v : p) mean_p += v / p.size();
      for (int b = 0; b < 161; ++b) {
        const double ref = feature == "log" ? std::log(p[b] + 1e-10) : std::log1p(p[b]);
        const double got = out[fr * 161 + b];
        const double p_got = feature == "log" ? std::exp(got) - 1e-10 : std::expm1(got);
        worst = std::max(worst, std::abs(p_got - p[b]) / mean_p);
        sum += std::abs(got - ref) / (feature == "log" ? 1.0 : std::max(1e-3, std::min(1.0, ref)));
      }
    }
    const double mean = sum / (frames * 161);
    // float32 FFT + float log give ~1e-7 and ~1e-6; a wrong window or bin would be >1e-2.
    EXPECT_LT(worst, 5e-5) << feature;
    EXPECT_LT(mean, 1e-5) << feature;
    std::printf("%s: worst %.3g mean %.3g\n", feature.c_str(), worst, mean);
  }
}

TEST(Featurizer, TwoObjectsAreBitIdentical) {
  const std::vector<float> x = random_signal(16000 * 3 + 123, 11);
  Featurizer a(FeatureOptions{}), b(FeatureOptions{});
  std::vector<float> oa, ob;
  a.compute(x, oa);
  b.compute(x, ob);
  ASSERT_EQ(oa.size(), ob.size());
  EXPECT_EQ(0, std::memcmp(oa.data(), ob.data(), oa.size() * sizeof(float)));
  // A frame's value does not depend on its position: featurizing from sample 160 * 5 equals
  // the tail of the full run (shards must not depend on how audio was split or batched).
  std::vector<float> tail;
  a.compute(x.data() + 160 * 5, static_cast<int64_t>(x.size()) - 160 * 5, tail);
  ASSERT_EQ(tail.size(), oa.size() - 5 * 161);
  EXPECT_EQ(0, std::memcmp(tail.data(), oa.data() + 5 * 161, tail.size() * sizeof(float)));
}

}  // namespace
}  // namespace ds2::pipeline
