// BatchLoader tests on tiny datasets written directly with ShardWriter and DatasetIndex::write.
// Oracle: the features and labels the test wrote, normalized here in double precision.
#include "train/loader.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "core/error.h"
#include "pipeline/index.h"
#include "pipeline/shard.h"
#include "tests/testutil.h"
#include "tests/train/dataset_fixture.h"
#include "train/schedule.h"

namespace ds2::train {
namespace {

constexpr int kBins = fixture::kFixtureBins;
using fixture::Utt;

using fixture::write_dataset;

std::vector<Utt> random_utts(int n, uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<Utt> u(n);
  for (int i = 0; i < n; ++i) {
    u[i].id = "utt-" + std::to_string(i);
    u[i].text = "text " + std::to_string(i);
    int frames = 3 + static_cast<int>(g() % 38);
    for (int k = 0; k < frames * kBins; ++k) u[i].x.push_back(3.f * nd(g) + (k % kBins) - 7.f);
    int nl = 1 + static_cast<int>(g() % 9);
    for (int k = 0; k < nl; ++k) u[i].labels.push_back(1 + static_cast<int32_t>(g() % 27));
  }
  return u;
}

const std::vector<double> kMean = {-7, -6, -5, -4.5, -3};
const std::vector<double> kStd = {3, 2.5, 3.5, 1, 4};

// Checks a batch against the written utterances in order `which`, with global normalization.
void expect_batch(const Batch& b, const std::vector<Utt>& utts, const std::vector<int64_t>& which,
                  const std::vector<int>& index_of) {
  ASSERT_EQ(b.n, static_cast<int>(which.size()));
  EXPECT_EQ(b.f, kBins);
  EXPECT_EQ(b.utts, which);
  int t = 0;
  for (int64_t w : which) t = std::max(t, static_cast<int>(utts[index_of[w]].x.size() / kBins));
  ASSERT_EQ(b.t, t);
  ASSERT_EQ(b.features.size(), static_cast<size_t>(b.n) * t * kBins);
  std::vector<int32_t> labels;
  for (int i = 0; i < b.n; ++i) {
    const Utt& u = utts[index_of[which[i]]];
    int frames = static_cast<int>(u.x.size() / kBins);
    EXPECT_EQ(b.lengths[i], frames);
    EXPECT_EQ(b.utt_ids[i], u.id);
    if (!b.transcripts.empty()) {
      EXPECT_EQ(b.transcripts[i], u.text);
    }
    EXPECT_EQ(b.label_lengths[i], static_cast<int32_t>(u.labels.size()));
    labels.insert(labels.end(), u.labels.begin(), u.labels.end());
    for (int r = 0; r < t; ++r)
      for (int c = 0; c < kBins; ++c) {
        float got = b.features[(static_cast<size_t>(i) * t + r) * kBins + c];
        if (r >= frames) {
          ASSERT_EQ(got, 0.0f) << "padding, utt " << i << " frame " << r;
        } else {
          double want = (u.x[r * kBins + c] - kMean[c]) / kStd[c];
          ASSERT_NEAR(got, want, 1e-5 * (1 + std::abs(want))) << "utt " << i << " frame " << r;
        }
      }
  }
  EXPECT_EQ(b.labels, labels);
}

// Two shards; index positions map to utts[index_of[pos]] (shard-major order).
struct Dataset {
  test::TempDir dir{"ds2-loader"};
  std::vector<Utt> utts = random_utts(23, 11);
  std::vector<int> shard_of, index_of;
  pipeline::DatasetIndex index;
  Dataset() {
    for (size_t i = 0; i < utts.size(); ++i) shard_of.push_back(i < 10 ? 0 : 1);
    index = write_dataset(dir.path(), utts, shard_of, kMean, kStd);
    for (size_t i = 0; i < utts.size(); ++i) index_of.push_back(static_cast<int>(i));
  }
};

TEST(Loader, LoadNormalizesPadsAndKeepsLabels) {
  Dataset d;
  LoaderOptions lo;
  lo.transcripts = true;
  BatchLoader loader(d.dir.path(), d.index, lo);
  std::vector<int64_t> which = {17, 3, 9, 10, 0};  // across both shards, unsorted
  Batch b = loader.load(which);
  ASSERT_EQ(b.transcripts.size(), which.size());
  expect_batch(b, d.utts, which, d.index_of);
  // Training reads no strings: without transcripts the batch has none (and the rest is equal).
  const Batch lean = BatchLoader(d.dir.path(), d.index, LoaderOptions{}).load(which);
  EXPECT_TRUE(lean.transcripts.empty());
  expect_batch(lean, d.utts, which, d.index_of);
  Batch empty = loader.load({});
  EXPECT_EQ(empty.n, 0);
  EXPECT_TRUE(empty.features.empty());
}

TEST(Loader, PrefetchDeliversSlicesInOrderWithSteps) {
  Dataset d;
  std::vector<int32_t> frames = utt_frames(d.index);
  ASSERT_EQ(frames.size(), d.utts.size());
  for (size_t i = 0; i < frames.size(); ++i)
    ASSERT_EQ(frames[i], static_cast<int32_t>(d.utts[i].x.size() / kBins));
  ScheduleOptions so;
  so.batch_size = 3;  // 23 = 7 x 3 + 2: the last batch leaves rank 2 of 3 empty
  Schedule s(frames, so);
  for (int rank = 0; rank < 3; ++rank) {
    std::vector<std::vector<int64_t>> slices;
    for (auto& b : s.epoch(1)) slices.push_back(Schedule::slice(b, rank, 3));
    LoaderOptions lo;
    lo.prefetch = 2;
    lo.max_open_shards = 1;  // forces shard re-opening
    lo.transcripts = true;
    BatchLoader loader(d.dir.path(), d.index, lo);
    loader.start(slices, 2, 100);
    Batch b;
    size_t k = 2;
    while (loader.next(&b)) {
      ASSERT_LT(k, slices.size());
      EXPECT_EQ(b.step, static_cast<int64_t>(100 + k - 2));
      expect_batch(b, d.utts, slices[k], d.index_of);
      // The main thread reads too while the loader thread prefetches.
      Batch dev = loader.load({0, 22});
      expect_batch(dev, d.utts, {0, 22}, d.index_of);
      ++k;
    }
    EXPECT_EQ(k, slices.size());
    EXPECT_FALSE(loader.next(&b));
    // Restart from the beginning (a new epoch).
    loader.start(slices, 0, 0);
    ASSERT_TRUE(loader.next(&b));
    EXPECT_EQ(b.step, 0);
    expect_batch(b, d.utts, slices[0], d.index_of);
  }  // destroyed while the thread still has batches to read: must join cleanly
}

TEST(Loader, CorruptShardRaisesOnNextNamingTheUtterance) {
  test::TempDir dir("ds2-loader");
  std::vector<Utt> utts = random_utts(3, 5);
  utts[2].id = "utt-corrupt";
  utts[2].x.assign(1000 * kBins, 0.f);
  for (size_t i = 0; i < utts[2].x.size(); ++i) utts[2].x[i] = 10000.f + static_cast<float>(i);
  auto index = write_dataset(dir.path(), utts, {0, 0, 1}, kMean, kStd);
  std::string p = dir / "shard-1.h5";
  std::string bytes;
  {
    std::ifstream in(p, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  float probe = 12345.f;
  size_t at = bytes.find(std::string(reinterpret_cast<char*>(&probe), 4));
  ASSERT_NE(at, std::string::npos);
  bytes[at] ^= 0x55;
  {
    std::ofstream out(p, std::ios::binary);
    out << bytes;
  }
  BatchLoader loader(dir.path(), index, LoaderOptions{});
  loader.start({{0}, {1}, {2}, {0}}, 0, 0);
  Batch b;
  ASSERT_TRUE(loader.next(&b));
  ASSERT_TRUE(loader.next(&b));
  for (int k = 0; k < 2; ++k) {  // keeps rethrowing
    try {
      loader.next(&b);
      FAIL() << "corrupt chunk not reported";
    } catch (const FormatError& e) {
      std::string m = e.what();
      EXPECT_NE(m.find("utt-corrupt"), std::string::npos) << m;
      EXPECT_NE(m.find("shard-1.h5"), std::string::npos) << m;
    }
  }
  EXPECT_THROW(loader.load({2}), FormatError);
  EXPECT_EQ(loader.load({1}).n, 1);  // the good shard still reads
}

TEST(Loader, UtteranceNormalizationGivesZeroMeanUnitStdPerBin) {
  Dataset d;
  LoaderOptions lo;
  lo.normalize = "utterance";
  BatchLoader loader(d.dir.path(), d.index, lo);
  Batch b = loader.load({4, 12, 20});
  for (int i = 0; i < b.n; ++i) {
    for (int c = 0; c < kBins; ++c) {
      double s = 0, s2 = 0;
      for (int r = 0; r < b.lengths[i]; ++r) {
        double v = b.features[(static_cast<size_t>(i) * b.t + r) * kBins + c];
        s += v;
        s2 += v * v;
      }
      EXPECT_NEAR(s / b.lengths[i], 0.0, 1e-5) << "utt " << i << " bin " << c;
      EXPECT_NEAR(s2 / b.lengths[i], 1.0, 1e-4) << "utt " << i << " bin " << c;
    }
    for (int r = b.lengths[i]; r < b.t; ++r)
      for (int c = 0; c < kBins; ++c)
        EXPECT_EQ(b.features[(static_cast<size_t>(i) * b.t + r) * kBins + c], 0.f);
  }
}

// Bytes read for one epoch, the measure of each byte read once: two ranks' slices of every batch
// of a shuffled epoch, over 12 shards with only 2 kept open (so shards are re-opened again and
// again) and 161-bin features, must read at most 1.2x the bytes of the shards (the process's
// read() total from /proc/self/io). Version 1 shards read every 644 KiB chunk once per utterance
// in it; this test failed with them (9.8x here, as with a chunk cache that re-reads them).
TEST(Loader, OneEpochReadsEachShardByteAboutOnce) {
  if (test::bytes_read() < 0)
    GTEST_SKIP() << "/proc/self/io not available: bytes cannot be measured";
  test::TempDir dir("ds2-loader-bytes");
  const int bins = 161, shards = 12, per_shard = 30;
  std::mt19937 g(3);
  std::vector<Utt> utts(shards * per_shard);
  std::vector<int> shard_of;
  for (size_t i = 0; i < utts.size(); ++i) {
    utts[i].id = "u" + std::to_string(i);
    utts[i].text = "a";
    utts[i].x.assign(static_cast<size_t>(60 + g() % 80) * bins, 0.5f * static_cast<float>(i % 7));
    utts[i].labels = {2, 2, 1, 2};
    shard_of.push_back(static_cast<int>(i / per_shard));
  }
  const auto index = write_dataset(dir.path(), utts, shard_of, std::vector<double>(bins, 0.0),
                                   std::vector<double>(bins, 1.0));
  int64_t shard_bytes = 0;
  for (const auto& s : index.shards)
    shard_bytes += static_cast<int64_t>(std::filesystem::file_size(dir / s));
  ScheduleOptions so;
  so.batch_size = 16;
  const Schedule schedule(utt_frames(index), so);
  LoaderOptions lo;
  lo.max_open_shards = 2;
  const int64_t before = test::bytes_read();
  int64_t loaded = 0;
  for (int rank = 0; rank < 2; ++rank) {
    BatchLoader loader(dir.path(), index, lo);
    for (const auto& batch : schedule.epoch(1))
      loaded += loader.load(Schedule::slice(batch, rank, 2)).n;
  }
  const double ratio =
      static_cast<double>(test::bytes_read() - before) / static_cast<double>(shard_bytes);
  std::printf("[  BYTES   ] %lld utterances, %.3f MB of shards, read %.3fx\n",
              static_cast<long long>(loaded), shard_bytes / 1e6, ratio);
  EXPECT_EQ(loaded, static_cast<int64_t>(utts.size()));
  EXPECT_LE(ratio, 1.2);
  EXPECT_GE(ratio, 0.9);  // the features were really read
}

TEST(Loader, NoneKeepsRawFeaturesAndBadOptionsThrow) {
  Dataset d;
  LoaderOptions lo;
  lo.normalize = "none";
  BatchLoader loader(d.dir.path(), d.index, lo);
  Batch b = loader.load({13});
  EXPECT_EQ(b.features, d.utts[13].x);
  lo.normalize = "cmvn";
  EXPECT_THROW(BatchLoader(d.dir.path(), d.index, lo), ConfigError);
  lo.normalize = "global";
  lo.prefetch = 0;
  EXPECT_THROW(BatchLoader(d.dir.path(), d.index, lo), ConfigError);
  EXPECT_THROW(BatchLoader(d.dir.path(), d.index, LoaderOptions{}).load({23}), ConfigError);
}

}  // namespace
}  // namespace ds2::train
