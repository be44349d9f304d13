// pipeline::dataset_digest (the digest `ds2 train --resume` stores in checkpoints and `ds2 sweep`
// keys its history on). Oracle: a second implementation written here from the definition in
// dataset_digest.h (FNV-1a 64 over the tagged fields, byte by byte), which also pins the value:
// the code moved from train/resume_check.cc, and a changed value would make every saved
// checkpoint refuse --resume. Plus: moving the folder keeps it, any covered field changes it.
#include "pipeline/dataset_digest.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "core/h5.h"
#include "tests/testutil.h"

namespace ds2::pipeline {
namespace {

uint64_t fnv(const std::string& s, uint64_t h) {
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}
template <typename T>
uint64_t fnv_bytes(const T& v, uint64_t h) {
  return fnv(std::string(reinterpret_cast<const char*>(&v), sizeof v), h);
}

std::string reference(const DatasetIndex& x, const std::vector<std::string>& plan_digests) {
  uint64_t h = fnv("ds2-dataset-digest-1", 0xcbf29ce484222325ULL);
  h = fnv(fmt::format("sample_rate={}\nwindow_ms={}\nhop_ms={}\nn_bins={}\nfeature={}\n",
                      x.meta.sample_rate, x.meta.window_ms, x.meta.hop_ms, x.meta.n_bins,
                      x.meta.feature),
          h);
  h = fnv(x.meta.alphabet + "\x1e", h);
  for (double v : x.mean) h = fnv_bytes(v, h);
  for (double v : x.std) h = fnv_bytes(v, h);
  h = fnv_bytes(x.stats_frames, h);
  for (size_t i = 0; i < x.shards.size(); ++i)
    h = fnv(plan_digests[i] + "\x1e", fnv(x.shards[i] + "\x1f", h));
  for (const IndexUtt& u : x.utts) {
    h = fnv_bytes(u.shard, h);
    h = fnv_bytes(u.row, h);
    h = fnv_bytes(u.frames, h);
    h = fnv_bytes(u.label_length, h);
    h = fnv_bytes(u.duration, h);
  }
  return fmt::format("{:016x}", h);
}

TEST(DatasetDigest, MatchesTheDefinitionAndFollowsTheContent) {
  test::TempDir tmp("ds2-digest");
  const std::string dir = tmp / "data";
  std::filesystem::create_directories(dir);
  DatasetIndex x;
  x.meta.window_ms = 25.5;
  x.meta.alphabet = "' a b c\n";
  x.mean = {0.5, -1.25};
  x.std = {1, 2};
  x.stats_frames = 1234;
  x.shards = {"shard-00000.h5", "shard-00001.h5"};
  x.utts = {{0, 0, 100, 10, 1.0f}, {0, 1, 80, 7, 0.8f}, {1, 0, 120, 12, 1.2f}};
  const std::vector<std::string> plans = {"aaaa000011112222", "bbbb000011112222"};
  for (size_t i = 0; i < 2; ++i)
    h5::File::create(dir + "/" + x.shards[i]).write_attr_str("plan_digest", plans[i]);
  const std::string d = dataset_digest(dir, x);
  EXPECT_EQ(d, reference(x, plans));
  // The folder moved: same digest.
  std::filesystem::rename(dir, tmp / "moved");
  EXPECT_EQ(dataset_digest(tmp / "moved", x), d);
  // Any covered field changes it.
  DatasetIndex y = x;
  y.utts[1].frames = 81;
  EXPECT_NE(dataset_digest(tmp / "moved", y), d);
  y = x;
  y.mean[0] = 0.25;
  EXPECT_NE(dataset_digest(tmp / "moved", y), d);
  y = x;
  y.meta.hop_ms = 20;
  EXPECT_NE(dataset_digest(tmp / "moved", y), d);
  h5::File::open(tmp / "moved/shard-00001.h5", true).write_attr_str("plan_digest", "cccc");
  EXPECT_NE(dataset_digest(tmp / "moved", x), d);
  // A shard without the attribute is named.
  h5::File::create(tmp / "moved/shard-00000.h5");
  try {
    dataset_digest(tmp / "moved", x);
    ADD_FAILURE() << "no error";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("shard-00000.h5: no plan_digest"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace ds2::pipeline
