// Schedule tests. Oracles: a stable sort of the frame counts chunked by batch size (epoch 0),
// coverage counts, random batching as the baseline for length similarity, and brute-force checks
// of the greedy frame cap and the slice arithmetic.
#include "train/schedule.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <random>

#include "core/error.h"

namespace ds2::train {
namespace {

std::vector<int32_t> random_frames(size_t n, int lo, int hi, uint32_t seed) {
  std::mt19937 g(seed);
  std::vector<int32_t> f(n);
  for (auto& x : f) x = lo + static_cast<int32_t>(g() % static_cast<uint32_t>(hi - lo + 1));
  return f;
}

// Every utterance exactly once over the epoch.
void expect_covers(const std::vector<std::vector<int64_t>>& batches, size_t n) {
  std::vector<int> seen(n, 0);
  for (const auto& b : batches)
    for (int64_t u : b) {
      ASSERT_GE(u, 0);
      ASSERT_LT(static_cast<size_t>(u), n);
      ++seen[u];
    }
  for (size_t u = 0; u < n; ++u) EXPECT_EQ(seen[u], 1) << "utterance " << u;
}

double mean_ratio(const std::vector<std::vector<int64_t>>& batches, const std::vector<int32_t>& f) {
  double s = 0;
  for (const auto& b : batches) {
    int32_t lo = f[b[0]], hi = f[b[0]];
    for (int64_t u : b) lo = std::min(lo, f[u]), hi = std::max(hi, f[u]);
    s += static_cast<double>(hi) / lo;
  }
  return s / static_cast<double>(batches.size());
}

TEST(Schedule, SortaGradEpochZeroIsStableSortChunked) {
  auto f = random_frames(1000, 50, 400, 1);  // many ties
  ScheduleOptions o;
  o.batch_size = 32;
  Schedule s(f, o);
  auto e0 = s.epoch(0);
  expect_covers(e0, f.size());
  std::vector<int64_t> oracle(f.size());
  std::iota(oracle.begin(), oracle.end(), 0);
  std::stable_sort(oracle.begin(), oracle.end(), [&](int64_t a, int64_t b) { return f[a] < f[b]; });
  std::vector<int64_t> flat;
  for (size_t i = 0; i < e0.size(); ++i) {
    EXPECT_EQ(e0[i].size(), i + 1 < e0.size() ? 32u : 1000u % 32) << "batch " << i;
    flat.insert(flat.end(), e0[i].begin(), e0[i].end());
  }
  EXPECT_EQ(flat, oracle);
  EXPECT_EQ(s.batches_per_epoch(), e0.size());
  EXPECT_EQ(s.utts_per_epoch(), 1000);
}

TEST(Schedule, LaterEpochsAreShuffledBucketsOfSimilarLength) {
  auto f = random_frames(1000, 100, 1600, 2);
  ScheduleOptions o;
  o.batch_size = 32;
  Schedule s(f, o);
  auto e0 = s.epoch(0);
  std::vector<int32_t> sizes0;
  for (auto& b : e0) sizes0.push_back(static_cast<int32_t>(b.size()));
  std::sort(sizes0.begin(), sizes0.end());
  // Random batching as the baseline: the same sizes over a random permutation.
  std::vector<int64_t> perm(f.size());
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), std::mt19937(5));
  std::vector<std::vector<int64_t>> random_batches;
  for (size_t i = 0; i < perm.size(); i += 32)
    random_batches.emplace_back(perm.begin() + i, perm.begin() + std::min(i + 32, perm.size()));
  const double random_ratio = mean_ratio(random_batches, f);
  for (int e = 1; e <= 3; ++e) {
    auto b = s.epoch(e);
    expect_covers(b, f.size());
    std::vector<int32_t> sizes;
    for (auto& x : b) sizes.push_back(static_cast<int32_t>(x.size()));
    std::sort(sizes.begin(), sizes.end());
    EXPECT_EQ(sizes, sizes0);
    // Buckets never interleave in length: sorted by their shortest, each one's longest is <= the
    // next one's shortest.
    std::vector<std::pair<int32_t, int32_t>> range;
    for (auto& x : b) {
      int32_t lo = f[x[0]], hi = f[x[0]];
      for (int64_t u : x) lo = std::min(lo, f[u]), hi = std::max(hi, f[u]);
      range.emplace_back(lo, hi);
    }
    std::sort(range.begin(), range.end());
    for (size_t i = 1; i < range.size(); ++i) EXPECT_LE(range[i - 1].second, range[i].first);
    // Stated bound: the mean max/min frame ratio within a batch is under 1.1 here, against about
    // 10 for random batching of the same sizes; assert at most a fifth of the random one.
    const double r = mean_ratio(b, f);
    EXPECT_LT(r, 1.1);
    EXPECT_LT(r, 0.2 * random_ratio) << "random batching: " << random_ratio;
    // Not in increasing order any more.
    bool increasing = true;
    for (size_t i = 1; i < range.size() && increasing; ++i)
      increasing = f[b[i][0]] >= f[b[i - 1][0]];
    EXPECT_FALSE(increasing) << "epoch " << e;
  }
  EXPECT_NE(s.epoch(1), s.epoch(2));
}

TEST(Schedule, SeedDeterminesTheSchedule) {
  auto f = random_frames(300, 1, 6, 3);  // long equal-length runs: ties get shuffled too
  ScheduleOptions o;
  o.batch_size = 8;
  o.seed = 42;
  Schedule a(f, o), b(f, o);
  for (int e = 0; e < 3; ++e) EXPECT_EQ(a.epoch(e), b.epoch(e)) << "epoch " << e;
  o.seed = 43;
  Schedule c(f, o);
  EXPECT_EQ(a.epoch(0), c.epoch(0));  // SortaGrad epoch 0 does not depend on the seed
  EXPECT_NE(a.epoch(1), c.epoch(1));
  // Batch membership (not only order) changes between epochs through shuffled ties.
  auto members = [](std::vector<std::vector<int64_t>> bs) {
    for (auto& x : bs) std::sort(x.begin(), x.end());
    std::sort(bs.begin(), bs.end());
    return bs;
  };
  EXPECT_NE(members(a.epoch(1)), members(a.epoch(2)));
}

TEST(Schedule, NoSortaGradShufflesEpochZero) {
  auto f = random_frames(500, 10, 900, 4);
  ScheduleOptions o;
  o.batch_size = 16;
  o.sortagrad = false;
  auto e0 = Schedule(f, o).epoch(0);
  o.sortagrad = true;
  auto sorted0 = Schedule(f, o).epoch(0);
  expect_covers(e0, f.size());
  EXPECT_NE(e0, sorted0);
  EXPECT_EQ(e0.size(), sorted0.size());
}

TEST(Schedule, MaxBatchFramesCapsPaddedFrames) {
  auto f = random_frames(2000, 20, 3000, 5);
  f[7] = 9000;  // longer than the cap on its own: a batch of one
  ScheduleOptions o;
  o.batch_size = 64;
  o.max_batch_frames = 8000;
  Schedule s(f, o);
  for (int e = 0; e < 2; ++e) {
    auto bs = s.epoch(e);
    expect_covers(bs, f.size());
    bool saw_single_long = false;
    for (auto& b : bs) {
      ASSERT_FALSE(b.empty());
      int64_t longest = 0;
      for (int64_t u : b) longest = std::max<int64_t>(longest, f[u]);
      EXPECT_LE(static_cast<int64_t>(b.size()), 64);
      if (b.size() > 1) {
        EXPECT_LE(static_cast<int64_t>(b.size()) * longest, 8000);
      }
      if (b.size() == 1 && b[0] == 7) saw_single_long = true;
    }
    EXPECT_TRUE(saw_single_long);
  }
  // Greedy and tight in epoch 0: a batch is full, or taking the next utterance would pass the cap.
  auto e0 = s.epoch(0);
  for (size_t i = 0; i + 1 < e0.size(); ++i) {
    int64_t next = f[e0[i + 1][0]];
    EXPECT_TRUE(e0[i].size() == 64 || static_cast<int64_t>(e0[i].size() + 1) * next > 8000)
        << "batch " << i;
  }
  // Short utterances still fill whole batches.
  EXPECT_EQ(e0[0].size(), 64u);
}

TEST(Schedule, DropLastDropsTheFinalShortBatch) {
  auto f = random_frames(100, 10, 500, 6);
  ScheduleOptions o;
  o.batch_size = 32;
  o.drop_last = true;
  Schedule s(f, o);
  EXPECT_EQ(s.batches_per_epoch(), 3u);
  EXPECT_EQ(s.utts_per_epoch(), 96);
  std::vector<int32_t> sorted = f;
  std::sort(sorted.begin(), sorted.end());
  for (int e = 0; e < 2; ++e) {
    int64_t n = 0;
    int32_t longest = 0;
    for (auto& b : s.epoch(e)) {
      EXPECT_EQ(b.size(), 32u);
      n += static_cast<int64_t>(b.size());
      for (int64_t u : b) longest = std::max(longest, f[u]);
    }
    EXPECT_EQ(n, 96);
    EXPECT_LE(longest, sorted[96]);  // the 4 dropped are the longest
  }
}

TEST(Schedule, SlicesPartitionEveryBatchForAnyRankCount) {
  for (int b = 0; b <= 13; ++b) {
    std::vector<int64_t> batch(b);
    std::iota(batch.begin(), batch.end(), 100);
    for (int n = 1; n <= 5; ++n) {
      std::vector<int64_t> joined;
      size_t lo = SIZE_MAX, hi = 0;
      for (int r = 0; r < n; ++r) {
        auto s = Schedule::slice(batch, r, n);
        lo = std::min(lo, s.size());
        hi = std::max(hi, s.size());
        joined.insert(joined.end(), s.begin(), s.end());
        if (b < n) {
          EXPECT_LE(s.size(), 1u);
        }
      }
      EXPECT_EQ(joined, batch) << "B=" << b << " N=" << n;
      EXPECT_LE(hi - lo, 1u) << "B=" << b << " N=" << n;
      if (b > 0 && b < n) {
        EXPECT_EQ(lo, 0u);  // some ranks get an empty slice
      }
    }
  }
  EXPECT_THROW(Schedule::slice({1, 2}, 2, 2), ConfigError);
}

TEST(Schedule, RanksTogetherCoverTheEpochWhateverTheRankCount) {
  auto f = random_frames(203, 5, 800, 7);
  ScheduleOptions o;
  o.batch_size = 7;           // 203 % 7 == 0 -> full batches; batch 7 over 2..5 ranks is uneven
  o.max_batch_frames = 2500;  // and long batches smaller than some rank counts
  for (int n = 1; n <= 5; ++n) {
    std::vector<int> seen(f.size(), 0);
    for (int r = 0; r < n; ++r) {
      Schedule s(f, o);  // what rank r builds on its own
      for (auto& b : s.epoch(1))
        for (int64_t u : Schedule::slice(b, r, n)) ++seen[u];
    }
    for (size_t u = 0; u < f.size(); ++u) EXPECT_EQ(seen[u], 1) << "N=" << n << " utt " << u;
  }
}

TEST(Schedule, OptionsParse) {
  ScheduleOptions o;
  po::options_description d;
  o.add_to(d);
  const char* argv[] = {"x", "--batch-size",       "8",   "--sortagrad=0", "--shuffle-seed",
                        "7", "--max-batch-frames", "100", "--drop-last"};
  po::variables_map vm;
  po::store(po::parse_command_line(9, argv, d), vm);
  po::notify(vm);
  EXPECT_EQ(o.batch_size, 8);
  EXPECT_FALSE(o.sortagrad);
  EXPECT_EQ(o.seed, 7u);
  EXPECT_EQ(o.max_batch_frames, 100);
  EXPECT_TRUE(o.drop_last);
  o.batch_size = 0;
  EXPECT_THROW(Schedule({1, 2}, o), ConfigError);
}

}  // namespace
}  // namespace ds2::train
