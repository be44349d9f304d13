// Seeding and parameter draws: known hash values, determinism, independence from call order,
// ranges and frequencies.
#include "augment/draw.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "augment/rng.h"

namespace ds2::augment {
namespace {

TEST(Rng, KnownValues) {
  // Published FNV-1a 64 test vectors and the first SplitMix64 output for seed 0.
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(fnv1a64("foobar"), 0x85944171f73967e8ULL);
  EXPECT_EQ(mix64(0), 0xe220a8397b1dcdafULL);
}

TEST(Rng, UniformRangeAndMean) {
  Rng r(123);
  double sum = 0;
  for (int i = 0; i < 100000; ++i) {
    double u = r.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / 100000, 0.5, 0.01);
  std::vector<int> counts(7, 0);
  for (int i = 0; i < 70000; ++i) ++counts[r.index(7)];
  for (int c : counts) EXPECT_NEAR(c, 10000, 500);
  EXPECT_EQ(Rng(5).uniform(2.5, 2.5), 2.5);
}

TEST(Rng, SeedForDependsOnEveryPart) {
  const uint64_t s = seed_for(1, "utt-a", 1);
  EXPECT_EQ(s, seed_for(1, "utt-a", 1));
  EXPECT_NE(s, seed_for(2, "utt-a", 1));
  EXPECT_NE(s, seed_for(1, "utt-b", 1));
  EXPECT_NE(s, seed_for(1, "utt-a", 2));
}

AugmentPolicy policy() {
  auto p = AugmentPolicy::parse(
      "copies=3,noise_prob=0.4,snr_db=0:15,speed=0.9:1.1,tempo=0.95:1.05,pitch_cents=-300:300,"
      "babble=3");
  return p;
}

bool same(const AugmentParams& a, const AugmentParams& b) {
  return a.copy == b.copy && a.speed == b.speed && a.tempo == b.tempo &&
         a.pitch_cents == b.pitch_cents && a.noise == b.noise && a.noise_kind == b.noise_kind &&
         a.noise_index == b.noise_index && a.noise_offset_frac == b.noise_offset_frac &&
         a.babble_utts == b.babble_utts && a.babble_offset_frac == b.babble_offset_frac &&
         a.snr_db == b.snr_db;
}

TEST(Draw, SameInputsSameParamsDifferentCopyDifferent) {
  const auto p = policy();
  auto a = draw_params(p, "spk1-utt7", 1, 5, 100, 7);
  EXPECT_TRUE(same(a, draw_params(p, "spk1-utt7", 1, 5, 100, 7)));
  auto b = draw_params(p, "spk1-utt7", 2, 5, 100, 7);
  EXPECT_NE(a.speed, b.speed);
  EXPECT_NE(a.pitch_cents, b.pitch_cents);
  auto p2 = p;
  p2.seed = 2;
  EXPECT_NE(a.speed, draw_params(p2, "spk1-utt7", 1, 5, 100, 7).speed);
}

TEST(Draw, IndependentOfCallOrder) {
  const auto p = policy();
  std::vector<std::pair<std::string, int>> keys;
  for (int u = 0; u < 20; ++u)
    for (int c = 1; c <= 3; ++c) keys.emplace_back("utt" + std::to_string(u), c);
  std::vector<AugmentParams> forward;
  for (const auto& [id, c] : keys) forward.push_back(draw_params(p, id, c, 4, 20));
  for (size_t k = keys.size(); k-- > 0;)  // reverse order, interleaved with other draws
  {
    draw_params(p, "other", 1, 4, 20);
    EXPECT_TRUE(same(draw_params(p, keys[k].first, keys[k].second, 4, 20), forward[k])) << k;
  }
}

TEST(Draw, CopyZeroIsIdentity) {
  auto a = draw_params(policy(), "x", 0, 5, 100);
  EXPECT_TRUE(a.is_identity());
}

TEST(Draw, RangesAndNoiseFrequencies) {
  auto p = policy();
  p.babble_prob = 0.25;
  int noisy = 0, babble = 0;
  const int n = 4000;
  for (int i = 0; i < n; ++i) {
    auto a = draw_params(p, "u" + std::to_string(i), 1 + i % 3, 5, 50, static_cast<size_t>(i % 50));
    ASSERT_GE(a.speed, 0.9);
    ASSERT_LT(a.speed, 1.1);
    ASSERT_GE(a.tempo, 0.95);
    ASSERT_LT(a.tempo, 1.05);
    ASSERT_GE(a.pitch_cents, -300);
    ASSERT_LT(a.pitch_cents, 300);
    if (!a.noise) continue;
    ++noisy;
    ASSERT_GE(a.snr_db, 0);
    ASSERT_LT(a.snr_db, 15);
    if (a.noise_kind == "babble") {
      ++babble;
      ASSERT_EQ(a.babble_utts.size(), 3u);
      std::set<size_t> distinct(a.babble_utts.begin(), a.babble_utts.end());
      ASSERT_EQ(distinct.size(), 3u);
      ASSERT_EQ(distinct.count(static_cast<size_t>(i % 50)), 0u);  // never itself
      for (size_t u : a.babble_utts) ASSERT_LT(u, 50u);
    } else {
      ASSERT_EQ(a.noise_kind, "file");
      ASSERT_LT(a.noise_index, 5u);
    }
  }
  EXPECT_NEAR(noisy / double(n), 0.4, 0.03);
  EXPECT_NEAR(babble / double(noisy), 0.25, 0.04);
}

TEST(Draw, OnlyAvailableSourcesAreUsed) {
  auto p = policy();
  p.noise_prob = 1;
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(draw_params(p, "u" + std::to_string(i), 1, 3, 0).noise_kind, "file");
    auto b = draw_params(p, "u" + std::to_string(i), 1, 0, 3, 1);  // 2 others for babble=3
    EXPECT_EQ(b.noise_kind, "babble");
    EXPECT_EQ(b.babble_utts, (std::vector<size_t>{0, 2}));
    EXPECT_FALSE(draw_params(p, "u" + std::to_string(i), 1, 0, 1, 0).noise);  // nobody else
  }
}

TEST(Draw, ChangingNoiseProbDoesNotShiftEffects) {
  auto p = policy();
  auto a = draw_params(p, "abc", 2, 5, 100);
  p.noise_prob = 0;
  auto b = draw_params(p, "abc", 2, 5, 100);
  EXPECT_EQ(a.speed, b.speed);
  EXPECT_EQ(a.tempo, b.tempo);
  EXPECT_EQ(a.pitch_cents, b.pitch_cents);
  EXPECT_FALSE(b.noise);
}

TEST(Draw, JsonRecordsWhatWasApplied) {
  AugmentParams p;
  p.copy = 2;
  p.speed = 1.05;
  p.noise = true;
  p.noise_kind = "file";
  p.noise_index = 3;
  p.snr_db = 7.5;
  ApplyStats s;
  s.noise_name = "noise/cafe.wav";
  s.noise_offset_s = 1.25;
  s.mix.noise_added = true;
  s.mix.snr_db_measured = 7.5000001;
  s.clip_scale = 0.5f;
  s.clipped = true;
  s.duration_out_s = 2.0;
  auto j = nlohmann::json::parse(to_json(p, s));
  EXPECT_EQ(j["copy"], 2);
  EXPECT_EQ(j["speed"], 1.05);
  EXPECT_EQ(j["noise"]["kind"], "file");
  EXPECT_EQ(j["noise"]["file"], "noise/cafe.wav");
  EXPECT_EQ(j["noise"]["offset_s"], 1.25);
  EXPECT_EQ(j["noise"]["snr_db"], 7.5);
  EXPECT_EQ(j["noise"]["snr_db_measured"], 7.5000001);
  EXPECT_EQ(j["clip_scale"], 0.5);
  EXPECT_EQ(j["clipped"], true);
  EXPECT_EQ(to_json(p, s), to_json(p, s));
  p.noise = false;
  EXPECT_TRUE(nlohmann::json::parse(to_json(p, s))["noise"].is_null());
}

}  // namespace
}  // namespace ds2::augment
