// pipeline/shard.h, index.h, prep_plan.h: round trips, older shard versions written by hand
// through the HDF5 C API, corruption named with its utterance, statistics in closed form, and
// the LPT plan's balance.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <xxhash.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/rng.h"
#include "pipeline/index.h"
#include "pipeline/prep_plan.h"
#include "pipeline/shard.h"
#include "tests/testutil.h"

namespace ds2::pipeline {
namespace {

FeatureMeta meta3() {
  FeatureMeta m;
  m.n_bins = 3;
  m.alphabet = "<blank>\n<space>\na\n";
  m.created_by = "test";
  return m;
}

TEST(Shard, RoundTripAndStats) {
  test::TempDir d;
  std::string p = d / "s.h5";
  std::vector<float> f1 = {1, 2, 3, 4, 5, 6};  // 2 frames
  std::vector<float> f2 = {7, 8, 9};           // 1 frame
  {
    ShardWriter w(p, meta3(), "digest");
    w.add({"u1", "a a", "m.tsv:1", "{}", 0.5f}, f1.data(), 2, {2, 1, 2});
    w.add({"u2", "a", "m.tsv:2", "{\"speed\":1.1}", 0.25f}, f2.data(), 1, {2});
    EXPECT_FALSE(std::filesystem::exists(p));
    w.commit();
  }
  ShardReader r(p);
  EXPECT_EQ(r.size(), 2);
  EXPECT_EQ(r.plan_digest(), "digest");
  EXPECT_EQ(r.features(0), f1);
  EXPECT_EQ(r.features(1), f2);
  EXPECT_EQ(r.labels(0), (std::vector<int32_t>{2, 1, 2}));
  EXPECT_EQ(r.labels(1), (std::vector<int32_t>{2}));
  EXPECT_EQ(r.utt_ids(), (std::vector<std::string>{"u1", "u2"}));
  EXPECT_EQ(r.augment()[1], "{\"speed\":1.1}");
  EXPECT_EQ(r.durations(), (std::vector<float>{0.5f, 0.25f}));
  std::vector<double> s, s2;
  int64_t n;
  r.stats(&s, &s2, &n);
  EXPECT_EQ(n, 3);
  EXPECT_EQ(s, (std::vector<double>{12, 15, 18}));
  EXPECT_EQ(s2, (std::vector<double>{1 + 16 + 49, 4 + 25 + 64, 9 + 36 + 81}));
}

TEST(Shard, UncommittedWriterLeavesNothing) {
  test::TempDir d;
  std::string p = d / "s.h5";
  {
    ShardWriter w(p, meta3(), "x");
    std::vector<float> f = {1, 2, 3};
    w.add({"u", "a", "", "{}", 0.1f}, f.data(), 1, {2});
  }
  EXPECT_FALSE(std::filesystem::exists(p));
  EXPECT_TRUE(std::filesystem::is_empty(d.path()));
}

TEST(Shard, CorruptChunkIsNamedWithTheUtterance) {
  test::TempDir d;
  std::string p = d / "s.h5";
  std::vector<float> f(1000 * 3);
  for (size_t i = 0; i < f.size(); ++i) f[i] = static_cast<float>(i);
  {
    ShardWriter w(p, meta3(), "x");
    w.add({"utt-corrupt", "a", "", "{}", 10.f}, f.data(), 1000, {2});
    w.commit();
  }
  // Flip bytes inside the feature data (a float pattern we know is there).
  std::string bytes;
  {
    std::ifstream in(p, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  float probe = 1500.0f;
  std::string pat(reinterpret_cast<char*>(&probe), 4);
  size_t at = bytes.find(pat);
  ASSERT_NE(at, std::string::npos);
  bytes[at] ^= 0x55;
  {
    std::ofstream out(p, std::ios::binary);
    out << bytes;
  }
  ShardReader r(p);
  try {
    r.features(0);
    FAIL() << "checksum error not detected";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("utt-corrupt"), std::string::npos) << e.what();
  }
}

// A version 1 shard (fletcher32 chunks, no per-utterance checksums), written here by hand in the
// layout version 1 had, still reads: offsets, features, labels, by row and by offset.
TEST(Shard, VersionOneStillReads) {
  test::TempDir d;
  const std::string p = d / "v1.h5";
  const std::vector<float> f = {1, 2, 3, 4, 5, 6, 7, 8, 9};  // 3 frames x 3 bins
  {
    h5::File file = h5::File::create(p);
    file.write_attr_str("format", kShardFormat);
    file.write_attr<int32_t>("version", 1);
    meta3().write_attrs(file);
    file.write_attr_str("plan_digest", "x");
    file.write<float>("/features", f, {3, 3}, 1024);  // chunked + fletcher32, as version 1
    file.write<int32_t>("/labels", {2, 1, 2}, {}, 16384);
    file.write<int64_t>("/frame_offset", {0, 1, 3});
    file.write<int64_t>("/label_offset", {0, 2, 3});
    file.write_strings("/utt_id", {"a", "b"});
  }
  ShardReader r(p);
  EXPECT_EQ(r.version(), 1);
  EXPECT_FALSE(r.has_checksums());
  EXPECT_EQ(r.size(), 2);
  EXPECT_EQ(r.features(1), (std::vector<float>{4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(r.labels(0), (std::vector<int32_t>{2, 1}));
  const ShardReader lean(p, false);
  std::vector<float> row(3);
  lean.features_at(0, 1, row.data());
  EXPECT_EQ(row, (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(lean.labels_at(2, 1), (std::vector<int32_t>{2}));
}

// Version 3 stores XXH3-64 (seed 0) of each utterance's bytes as written: checked against the
// xxHash library called here on the test's own arrays.
TEST(Shard, VersionThreeStoresXxh3OfTheStoredBytes) {
  test::TempDir d;
  const std::string p = d / "v3.h5";
  const std::vector<float> f = {1.5f, -2, 3, 4, 5, 6.25f};  // 2 frames x 3 bins
  const std::vector<int32_t> labels = {2, 1, 2};
  {
    ShardWriter w(p, meta3(), "x");
    w.add({"u", "a a", "", "{}", 0.5f}, f.data(), 2, labels);
    w.commit();
  }
  ShardReader r(p);
  EXPECT_EQ(r.version(), 3);
  EXPECT_EQ(r.feature_checksum(0), XXH3_64bits(f.data(), f.size() * 4));
  EXPECT_EQ(r.label_checksum(0), XXH3_64bits(labels.data(), labels.size() * 4));
  EXPECT_EQ(r.features(0), f);
}

// A version 2 shard (version 3's layout, bytes_digest checksums) still reads and is verified by
// bytes_digest: made here from a version 3 shard by rewriting the version and the checksums.
TEST(Shard, VersionTwoStillReadsAndIsVerified) {
  test::TempDir d;
  const std::string p = d / "v2.h5";
  const std::vector<float> f = {1, 2, 3, 4, 5, 6};
  const std::vector<int32_t> labels = {2, 1};
  {
    ShardWriter w(p, meta3(), "x");
    w.add({"u", "a", "", "{}", 0.5f}, f.data(), 2, labels);
    w.commit();
  }
  auto rewrite = [&](uint64_t feature_ck) {
    h5::File file = h5::File::open(p, true);
    file.write_attr<int32_t>("version", 2);
    ASSERT_GE(H5Ldelete(file.id(), "/feature_checksum", H5P_DEFAULT), 0);
    ASSERT_GE(H5Ldelete(file.id(), "/label_checksum", H5P_DEFAULT), 0);
    file.write<uint64_t>("/feature_checksum", {feature_ck});
    file.write<uint64_t>("/label_checksum", {bytes_digest(labels.data(), labels.size() * 4)});
  };
  rewrite(bytes_digest(f.data(), f.size() * 4));
  {
    ShardReader r(p);
    EXPECT_EQ(r.version(), 2);
    EXPECT_TRUE(r.has_checksums());
    EXPECT_EQ(r.features(0), f);
    EXPECT_EQ(r.labels(0), labels);
  }
  rewrite(XXH3_64bits(f.data(), f.size() * 4));  // a version 3 checksum under version 2: wrong
  ShardReader r(p);
  EXPECT_THROW(r.features(0), FormatError);
}

TEST(Index, RoundTrip) {
  test::TempDir d;
  DatasetIndex idx;
  idx.meta = meta3();
  idx.command = "ds2 prep --x";
  idx.n_rows = 3;
  idx.n_rejected = 1;
  idx.shards = {"shard-00000.h5", "shard-00001.h5"};
  idx.utts = {{0, 0, 10, 2, 0.1f}, {1, 0, 20, 3, 0.2f}};
  idx.utt_ids = {"a", "b"};
  idx.mean = {1, 2, 3};
  idx.std = {1, 1, 2};
  idx.stats_frames = 30;
  idx.write(d / "index.h5");
  DatasetIndex r = DatasetIndex::read(d / "index.h5");
  EXPECT_EQ(r.command, idx.command);
  EXPECT_EQ(r.shards, idx.shards);
  ASSERT_EQ(r.utts.size(), 2u);
  EXPECT_EQ(r.utt_id(1), "b");
  EXPECT_EQ(r.utts[1].frames, 20);
  // Read without ids (as training does): the rest is the same, and asking for an id is an error.
  DatasetIndex lean = DatasetIndex::read(d / "index.h5", false);
  EXPECT_TRUE(lean.utt_ids.empty());
  EXPECT_EQ(lean.utts[1].row, r.utts[1].row);
  EXPECT_EQ(lean.total_frames(), 30);
  EXPECT_THROW(lean.utt_id(1), FormatError);
  EXPECT_THROW(lean.write(d / "again.h5"), ConfigError);
  EXPECT_EQ(r.total_frames(), 30);
  EXPECT_EQ(r.std, idx.std);
  EXPECT_EQ(r.meta.alphabet, idx.meta.alphabet);
}

TEST(Stats, MeanStdClosedForm) {
  std::vector<double> mean, sd;
  stats_from_sums({6, 0}, {14, 0}, 3, &mean, &sd);  // values 1,2,3 and 0,0,0
  EXPECT_DOUBLE_EQ(mean[0], 2.0);
  EXPECT_NEAR(sd[0], std::sqrt(2.0 / 3.0), 1e-12);
  EXPECT_NEAR(sd[1], 1e-5, 1e-12);
}

TEST(Plan, LongestFirstBalancesAndIsDeterministic) {
  std::vector<PrepItem> items;
  double total = 0;
  for (int i = 0; i < 101; ++i) {
    double dur = 1.0 + (i * 37 % 17);
    items.push_back({i, dur});
    total += dur;
  }
  auto plans = assign_shards(items, 4);
  double mx = 0, mn = 1e9, sum = 0;
  size_t count = 0;
  for (const auto& p : plans) {
    mx = std::max(mx, p.duration);
    mn = std::min(mn, p.duration);
    sum += p.duration;
    count += p.items.size();
    for (size_t k = 1; k < p.items.size(); ++k) EXPECT_LT(p.items[k - 1].entry, p.items[k].entry);
  }
  EXPECT_EQ(count, items.size());
  EXPECT_DOUBLE_EQ(sum, total);
  EXPECT_LE(mx - mn, 17.0);  // never more than the longest item apart
  auto again = assign_shards(items, 4);
  for (size_t s = 0; s < 4; ++s) EXPECT_EQ(again[s].items.size(), plans[s].items.size());
  EXPECT_EQ(assign_shards({}, 3).size(), 3u);
  EXPECT_EQ(fnv1a64(""), 14695981039346656037ull);
  EXPECT_EQ(hex64(fnv1a64("a")), "af63dc4c8601ec8c");  // published FNV-1a 64 test vector
}

}  // namespace
}  // namespace ds2::pipeline
