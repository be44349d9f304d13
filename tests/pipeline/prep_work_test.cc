// prep's wire form (pipeline/prep_work.h): what rank 0 sends is what a rank receives, field by
// field against the values the test put in (the oracle), and a cut or padded message is refused
// with CommError instead of being read past its end.
#include "pipeline/prep_work.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace ds2::pipeline {
namespace {

ShardWork sample() {
  ShardWork w;
  w.shard = 7;
  w.digest = "00ff00ff00ff00ff";
  w.duration = 12.25;
  w.entries.push_back({3, "/a/b c.wav", -1, "héllo wörld", "u-3", "m.tsv:3"});
  w.entries.push_back({9, "", 2.5, "", "u\t9", "m.tsv:9"});  // empty path/text, tab in an id
  w.index = {2, 40000};
  w.seconds = {1.5, 0.75};
  w.babble = {{1, "/x.wav"}, {123456789012ull, "/y z.flac"}};
  return w;
}

TEST(PrepWork, ShardWorkRoundTripsEveryField) {
  const ShardWork w = sample();
  const ShardWork r = unpack_shard_work(pack(w), "test");
  EXPECT_EQ(r.shard, 7);
  EXPECT_EQ(r.digest, w.digest);
  EXPECT_EQ(r.duration, 12.25);
  ASSERT_EQ(r.entries.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(r.entries[i].line, w.entries[i].line);
    EXPECT_EQ(r.entries[i].path, w.entries[i].path);
    EXPECT_EQ(r.entries[i].duration, w.entries[i].duration);
    EXPECT_EQ(r.entries[i].transcript, w.entries[i].transcript);
    EXPECT_EQ(r.entries[i].utt_id, w.entries[i].utt_id);
    EXPECT_EQ(r.entries[i].source, w.entries[i].source);
  }
  EXPECT_EQ(r.index, w.index);
  EXPECT_EQ(r.seconds, w.seconds);
  EXPECT_EQ(r.babble, w.babble);
  // "No shard this round" is its own message.
  EXPECT_EQ(unpack_shard_work(pack(ShardWork{}), "test").shard, -1);
}

TEST(PrepWork, CutOrPaddedMessagesAreRefused) {
  const std::string b = pack(sample());
  for (size_t cut : {size_t(0), size_t(3), b.size() / 2, b.size() - 1})
    EXPECT_THROW(unpack_shard_work(b.substr(0, cut), "test"), CommError) << cut;
  EXPECT_THROW(unpack_shard_work(b + "x", "test"), CommError);
  // A count field that claims more entries than the bytes could hold fails before allocating.
  std::string huge = pack(ShardWork{});
  const uint64_t n = uint64_t(1) << 60;
  huge.replace(4 + 8 + 8, 8, reinterpret_cast<const char*>(&n), 8);
  EXPECT_THROW(unpack_shard_work(huge, "test"), CommError);
}

TEST(PrepWork, ProbeJobsAndResultsRoundTrip) {
  const std::vector<ProbeJob> jobs = {{0, "a.wav"}, {99, "dir/b c.flac"}};
  const auto j = unpack_probe_jobs(pack(jobs), "test");
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[1].pos, 99);
  EXPECT_EQ(j[1].path, "dir/b c.flac");
  const std::vector<ProbeResult> res = {{0, 1.25, ""}, {99, -1, "b: cannot open"}};
  const auto r = unpack_probe_results(pack(res), "test");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].seconds, 1.25);
  EXPECT_EQ(r[1].seconds, -1);
  EXPECT_EQ(r[1].error, "b: cannot open");
  EXPECT_TRUE(unpack_probe_jobs(pack(std::vector<ProbeJob>{}), "test").empty());
  EXPECT_THROW(unpack_probe_results(pack(res).substr(1), "test"), CommError);
}

}  // namespace
}  // namespace ds2::pipeline
