// libsox effects on synthetic sines: durations and frequencies against closed forms, thread
// safety against a serial run. Real libsox, no mocks.
#include "augment/effects.h"

#include <gtest/gtest.h>

#include <thread>

#include "core/error.h"
#include "tests/augment/signals.h"

namespace ds2::augment {
namespace {

constexpr int kRate = 16000;
constexpr double kFrame = 160;  // one 10 ms frame, in samples

TEST(Effects, IdentityReturnsInput) {
  auto x = test::sine(440, 0.5, kRate);
  EXPECT_EQ(apply_sox_effects(x, kRate, 1, 1, 0), x);
}

TEST(Effects, Speed11ShortensByOneOverSpeedAndRaisesFrequency) {
  auto x = test::sine(500, 2.0, kRate);
  uint64_t clips = 99;
  auto y = apply_sox_effects(x, kRate, 1.1, 1, 0, false, &clips);
  EXPECT_NEAR(static_cast<double>(y.size()), x.size() / 1.1, kFrame);
  EXPECT_EQ(clips, 0u);
  EXPECT_NEAR(test::peak_frequency(y, kRate, 100, 2000), 550, 25);
}

TEST(Effects, Speed09Lengthens) {
  auto x = test::sine(500, 1.0, kRate);
  auto y = apply_sox_effects(x, kRate, 0.9, 1, 0);
  EXPECT_NEAR(static_cast<double>(y.size()), x.size() / 0.9, kFrame);
  EXPECT_NEAR(test::peak_frequency(y, kRate, 100, 2000), 450, 25);
}

TEST(Effects, Pitch1200CentsDoublesFrequencyKeepsDuration) {
  auto x = test::sine(440, 2.0, kRate);
  auto y = apply_sox_effects(x, kRate, 1, 1, 1200);
  EXPECT_NEAR(static_cast<double>(y.size()), x.size(), kFrame);
  EXPECT_NEAR(test::peak_frequency(y, kRate, 100, 3000), 880, 25);  // within one 50 Hz bin
}

TEST(Effects, PitchMinus300Cents) {
  auto x = test::sine(600, 1.5, kRate);
  auto y = apply_sox_effects(x, kRate, 1, 1, -300);
  EXPECT_NEAR(static_cast<double>(y.size()), x.size(), kFrame);
  EXPECT_NEAR(test::peak_frequency(y, kRate, 100, 3000), 600 * std::pow(2.0, -0.25), 25);
}

TEST(Effects, Tempo12ShortensKeepsFrequency) {
  auto x = test::sine(440, 2.0, kRate);
  auto y = apply_sox_effects(x, kRate, 1, 1.2, 0);
  EXPECT_NEAR(static_cast<double>(y.size()), x.size() / 1.2, kFrame);
  EXPECT_NEAR(test::peak_frequency(y, kRate, 100, 3000), 440, 25);
}

TEST(Effects, QuickTempoAndPitchKeepTheirSemantics) {
  auto x = test::sine(440, 2.0, kRate);
  auto y = apply_sox_effects(x, kRate, 1, 1.2, 0, /*tempo_quick=*/true);
  EXPECT_NEAR(static_cast<double>(y.size()), x.size() / 1.2, kFrame);
  EXPECT_NEAR(test::peak_frequency(y, kRate, 100, 3000), 440, 25);
  y = apply_sox_effects(x, kRate, 1, 1, 1200, /*tempo_quick=*/true);
  EXPECT_NEAR(static_cast<double>(y.size()), x.size(), kFrame);
  EXPECT_NEAR(test::peak_frequency(y, kRate, 100, 3000), 880, 25);
  EXPECT_NE(y, apply_sox_effects(x, kRate, 1, 1, 1200, false));  // really another search
}

TEST(Effects, AllThreeCombine) {
  // speed 1.1, tempo 0.9, +200 cents: duration / (1.1 * 0.9), frequency * 1.1 * 2^(1/6).
  auto x = test::sine(400, 2.0, kRate);
  auto y = apply_sox_effects(x, kRate, 1.1, 0.9, 200);
  EXPECT_NEAR(static_cast<double>(y.size()), x.size() / (1.1 * 0.9), 2 * kFrame);
  EXPECT_NEAR(test::peak_frequency(y, kRate, 100, 3000), 400 * 1.1 * std::pow(2.0, 200 / 1200.0),
              25);
}

TEST(Effects, BadArgumentsThrow) {
  auto x = test::sine(440, 0.1, kRate);
  EXPECT_THROW(apply_sox_effects(x, kRate, -1, 1, 0), Error);
  EXPECT_THROW(apply_sox_effects(x, 0, 1.1, 1, 0), Error);
  // libsox's tempo accepts factors 0.1..100: its refusal must come back naming the effect.
  try {
    apply_sox_effects(x, kRate, 1, 1000, 0);
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("libsox effect 'tempo -s 1000'"), std::string::npos)
        << e.what();
  }
}

TEST(Effects, ConcurrentCallsMatchSerial) {
  // Different settings on two threads at once, repeated, must give exactly the serial outputs.
  struct Job {
    double speed, tempo, cents;
  };
  const std::vector<Job> jobs = {{1.1, 1, 0}, {1, 1.2, 0}, {1, 1, 300}, {0.9, 1.05, -200}};
  const auto x = test::sine(300, 1.0, kRate);
  std::vector<std::vector<float>> serial;
  for (const auto& j : jobs)
    serial.push_back(apply_sox_effects(x, kRate, j.speed, j.tempo, j.cents));
  std::vector<int> mismatches(2, 0);
  auto worker = [&](int t) {
    for (int rep = 0; rep < 6; ++rep)
      for (size_t k = 0; k < jobs.size(); ++k) {
        const auto& j = jobs[(k + t) % jobs.size()];
        auto y = apply_sox_effects(x, kRate, j.speed, j.tempo, j.cents);
        if (y != serial[(k + t) % jobs.size()]) ++mismatches[t];
      }
  };
  std::thread a(worker, 0), b(worker, 1);
  a.join();
  b.join();
  EXPECT_EQ(mismatches[0], 0);
  EXPECT_EQ(mismatches[1], 0);
}

}  // namespace
}  // namespace ds2::augment
