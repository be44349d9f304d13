// SNR mixing, peak limiting and babble against direct computations in the test.
#include "augment/mix.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "core/error.h"
#include "tests/augment/signals.h"

namespace ds2::augment {
namespace {

double power(const std::vector<double>& x) {
  double s = 0;
  for (double v : x) s += v * v;
  return s / static_cast<double>(x.size());
}

class MixSnr : public ::testing::TestWithParam<double> {};

TEST_P(MixSnr, MeasuredEqualsRequestedWithLoopedNoise) {
  const double snr = GetParam();
  const auto speech = test::sine(300, 1.0, 16000, 0.2f);
  const auto noise = test::lcg_noise(3001, 7, 0.05f);  // shorter than speech: looped 5+ times
  auto mixed = speech;
  MixStats st = mix_at_snr(mixed, noise, snr, 12345);
  ASSERT_TRUE(st.noise_added);
  // Oracle: undo the peak scale, subtract the speech, compare powers directly.
  std::vector<double> s(speech.begin(), speech.end()), n(speech.size());
  for (size_t i = 0; i < n.size(); ++i) n[i] = mixed[i] / st.clip_scale - speech[i];
  const double measured = 10 * std::log10(power(s) / power(n));
  EXPECT_NEAR(measured, snr, 0.1);
  EXPECT_NEAR(st.snr_db_measured, snr, 0.01);
  // The added noise is the looped segment from offset 12345 % 3001, times one gain.
  const size_t off = 12345 % 3001;
  const double g = n[0] / noise[off];
  for (size_t i : {size_t{1}, size_t{2999}, size_t{3000}, size_t{15999}})
    EXPECT_NEAR(n[i], g * noise[(off + i) % noise.size()], 1e-5) << i;
}

INSTANTIATE_TEST_SUITE_P(Snrs, MixSnr, ::testing::Values(-5.0, 0.0, 7.5, 15.0, 30.0));

TEST(Mix, CroppedNoiseLongerThanSpeech) {
  const auto speech = test::lcg_noise(8000, 3, 0.3f);
  const auto noise = test::sine(1000, 2.0, 16000, 0.4f);
  auto mixed = speech;
  MixStats st = mix_at_snr(mixed, noise, 10, 5000);
  std::vector<double> s(speech.begin(), speech.end()), n(speech.size());
  for (size_t i = 0; i < n.size(); ++i) n[i] = mixed[i] / st.clip_scale - speech[i];
  EXPECT_NEAR(10 * std::log10(power(s) / power(n)), 10, 0.1);
}

TEST(Mix, ClippingIsScaledAndCounted) {
  auto speech = test::sine(200, 0.5, 16000, 0.9f);
  const auto noise = test::lcg_noise(4000, 11, 0.5f);
  const auto orig = speech;
  MixStats st = mix_at_snr(speech, noise, 0, 0);  // 0 dB on a loud signal: peak well over 1
  EXPECT_TRUE(st.clipped);
  EXPECT_LT(st.clip_scale, 1.0f);
  float peak = 0;
  for (float v : speech) peak = std::max(peak, std::fabs(v));
  EXPECT_NEAR(peak, kPeakLimit, 1e-6);
  // The unscaled mix had peak kPeakLimit / clip_scale; the SNR survives the scaling.
  std::vector<double> s(orig.begin(), orig.end()), n(orig.size());
  for (size_t i = 0; i < n.size(); ++i) n[i] = speech[i] / st.clip_scale - orig[i];
  EXPECT_NEAR(10 * std::log10(power(s) / power(n)), 0, 0.1);
}

TEST(Mix, QuietMixIsNotScaled) {
  auto speech = test::sine(200, 0.5, 16000, 0.1f);
  MixStats st = mix_at_snr(speech, test::lcg_noise(100, 1, 0.1f), 20, 0);
  EXPECT_FALSE(st.clipped);
  EXPECT_EQ(st.clip_scale, 1.0f);
}

TEST(Mix, SilentSpeechOrNoiseAddsNothing) {
  std::vector<float> silent(1000, 0.0f);
  MixStats st = mix_at_snr(silent, test::lcg_noise(100, 1), 10, 0);
  EXPECT_FALSE(st.noise_added);
  EXPECT_EQ(silent, std::vector<float>(1000, 0.0f));
  auto speech = test::sine(200, 0.1, 16000);
  const auto orig = speech;
  st = mix_at_snr(speech, std::vector<float>(50, 0.0f), 10, 0);
  EXPECT_FALSE(st.noise_added);
  EXPECT_EQ(speech, orig);
  EXPECT_THROW(mix_at_snr(speech, {}, 10, 0), Error);
}

TEST(Babble, TalkersNormalizedToEqualPowerAndLooped) {
  const auto a = test::sine(150, 0.25, 16000, 0.8f);  // 4000 samples, loud
  const auto b = test::lcg_noise(1500, 5, 0.01f);     // quiet, looped
  const std::vector<float> silent(700, 0.0f);         // skipped
  const size_t len = 6000;
  auto bab = make_babble({&a, &b, &silent}, len, {100, 1499, 3});
  ASSERT_EQ(bab.size(), len);
  const double ga = 1 / std::sqrt(mean_power(a)), gb = 1 / std::sqrt(mean_power(b));
  for (size_t i : {size_t{0}, size_t{1}, size_t{3899}, size_t{3900}, size_t{5999}}) {
    const double expect = ga * a[(100 + i) % a.size()] + gb * b[(1499 + i) % b.size()];
    EXPECT_NEAR(bab[i], expect, 1e-4) << i;
  }
  EXPECT_EQ(make_babble({&silent}, 10), std::vector<float>(10, 0.0f));
}

}  // namespace
}  // namespace ds2::augment
