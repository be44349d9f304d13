// augment() end to end on synthetic audio, noise sources, and the noise manifest.
#include "augment/augmenter.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "augment/noise_list.h"
#include "core/error.h"
#include "tests/augment/signals.h"
#include "tests/testutil.h"

namespace ds2::augment {
namespace {

constexpr int kRate = 16000;

NoiseSource make_source() {
  NoiseSource src;
  src.add_file("noise/hum.wav", test::sine(60, 0.3, kRate, 0.2f));
  src.add_file("noise/hiss.wav", test::lcg_noise(5000, 9, 0.1f));
  src.corpus_utterance = [](size_t i) {
    return test::sine(120.0 + 10.0 * static_cast<double>(i), 0.7, kRate, 0.3f);
  };
  return src;
}

TEST(Augmenter, FileNoiseAndEffects) {
  const auto clean = test::sine(300, 1.0, kRate, 0.3f);
  AugmentParams p;
  p.copy = 1;
  p.speed = 1.1;
  p.noise = true;
  p.noise_kind = "file";
  p.noise_index = 1;
  p.noise_offset_frac = 0.5;
  p.snr_db = 5;
  auto a = augment(clean, kRate, p, make_source());
  EXPECT_NEAR(static_cast<double>(a.samples.size()), clean.size() / 1.1, 160);
  auto j = nlohmann::json::parse(a.json);
  EXPECT_EQ(j["noise"]["file"], "noise/hiss.wav");
  EXPECT_DOUBLE_EQ(j["noise"]["offset_s"].get<double>(), 2500.0 / kRate);
  EXPECT_NEAR(j["noise"]["snr_db_measured"].get<double>(), 5, 0.1);
  EXPECT_NEAR(j["duration_s"].get<double>(), 1 / 1.1, 0.01);
  // Same params again: byte-identical samples and JSON.
  auto b = augment(clean, kRate, p, make_source());
  EXPECT_EQ(a.samples, b.samples);
  EXPECT_EQ(a.json, b.json);
}

TEST(Augmenter, BabbleFetchesTalkers) {
  const auto clean = test::sine(300, 1.0, kRate, 0.3f);
  AugmentParams p;
  p.copy = 1;
  p.noise = true;
  p.noise_kind = "babble";
  p.babble_utts = {4, 9};
  p.babble_offset_frac = {0.0, 0.5};
  p.snr_db = 10;
  auto src = make_source();
  std::vector<size_t> fetched;
  auto inner = src.corpus_utterance;
  src.corpus_utterance = [&](size_t i) {
    fetched.push_back(i);
    return inner(i);
  };
  auto a = augment(clean, kRate, p, src);
  EXPECT_EQ(fetched, (std::vector<size_t>{4, 9}));
  EXPECT_EQ(a.samples.size(), clean.size());
  auto j = nlohmann::json::parse(a.json);
  EXPECT_EQ(j["noise"]["utts"], (std::vector<size_t>{4, 9}));
  EXPECT_NEAR(j["noise"]["snr_db_measured"].get<double>(), 10, 0.1);
  // Oracle: the added signal is make_babble of the same talkers at one gain.
  auto t4 = inner(4), t9 = inner(9);
  auto bab = make_babble({&t4, &t9}, clean.size(), {0, t9.size() / 2});
  const double g = (a.samples[100] - clean[100]) / bab[100];
  for (size_t i : {size_t{1000}, size_t{8000}, size_t{15999}})
    EXPECT_NEAR(a.samples[i] - clean[i], g * bab[i], 1e-4);
}

TEST(Augmenter, DrawnParamsEndToEnd) {
  auto policy = AugmentPolicy::parse(
      "copies=2,noise_prob=1,snr_db=5:10,speed=0.9:1.1,tempo=0.95:1.05,pitch_cents=-200:200,"
      "babble=2");
  auto src = make_source();
  const auto clean = test::sine(250, 0.8, kRate, 0.3f);
  for (int c = 1; c <= 2; ++c) {
    auto p = draw_params(policy, "utt-1", c, src.files.size(), 10, 1);
    auto a = augment(clean, kRate, p, src);
    auto j = nlohmann::json::parse(a.json);
    EXPECT_EQ(j["copy"], c);
    EXPECT_NEAR(j["noise"]["snr_db_measured"].get<double>(), p.snr_db, 0.1);
    EXPECT_NEAR(static_cast<double>(a.samples.size()), clean.size() / (p.speed * p.tempo), 320);
  }
}

TEST(Augmenter, BadNoiseIsAnErrorNamingIt) {
  NoiseSource src;
  try {
    src.add_file("noise/empty.wav", {});
    FAIL() << "no throw";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("noise/empty.wav: noise file is empty"),
              std::string::npos);
  }
  try {
    src.add_file("noise/silence.wav", std::vector<float>(100, 0.0f));
    FAIL() << "no throw";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("noise/silence.wav"), std::string::npos);
  }
  AugmentParams p;
  p.copy = 1;
  p.noise = true;
  p.noise_kind = "file";
  p.noise_index = 0;
  EXPECT_THROW(augment(test::sine(100, 0.1, kRate), kRate, p, src), Error);
}

TEST(NoiseList, ReadsRelativePathsAndNamesBadManifests) {
  ds2::test::TempDir dir("augment");
  {
    std::ofstream f(dir / "noise.tsv");
    f << "# noise files\n\na.wav\nsub/b.flac\t12.5\t\n/abs/c.wav\r\n";
  }
  auto paths = read_noise_list(dir / "noise.tsv");
  EXPECT_EQ(paths, (std::vector<std::string>{dir / "a.wav", dir / "sub/b.flac", "/abs/c.wav"}));
  try {
    read_noise_list(dir / "missing.tsv");
    FAIL() << "no throw";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("missing.tsv"), std::string::npos);
  }
  {
    std::ofstream f(dir / "empty.tsv");
    f << "# nothing\n";
  }
  EXPECT_THROW(read_noise_list(dir / "empty.tsv"), FormatError);
}

}  // namespace
}  // namespace ds2::augment
