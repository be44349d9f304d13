// `ds2 sweep` grid, checkpoint listing, point settings and content digests. Oracles: values
// written out by hand for each grid spec (lo:hi:n against the closed form lo + (hi - lo) i /
// (n - 1)), the cartesian product counted independently, real files/hard links made in a
// temporary run folder, and for file_digest a second implementation over the whole file in
// memory (the same chunked fold written from digest.h's definition).
#include "eval/sweep.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "core/error.h"
#include "core/rng.h"
#include "eval/digest.h"
#include "tests/testutil.h"

namespace ds2::eval {
namespace {

namespace fs = std::filesystem;

BeamOptions defaults() {
  BeamOptions b;
  b.alpha = 0.75f;
  b.beta = 1.5f;
  b.beam = 32;
  return b;
}

TEST(SweepGrid, RangesSinglesAndDefaults) {
  const Grid g = parse_grid({"alpha=0.5:2.0:4,beta=0:2:3,beam=64"}, defaults());
  EXPECT_EQ(g.alpha, (std::vector<double>{0.5, 1.0, 1.5, 2.0}));
  EXPECT_EQ(g.beta, (std::vector<double>{0, 1, 2}));
  EXPECT_EQ(g.beam, (std::vector<int>{64}));
  // Closed form with rounding noise removed (0.1 steps).
  const Grid h = parse_grid({"alpha=0:0.3:4"}, defaults());
  ASSERT_EQ(h.alpha.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_DOUBLE_EQ(h.alpha[i], 0.1 * i);
  EXPECT_EQ(h.alpha[3], 0.3);  // exactly, not 0.30000000000000004
  // Names left out take the defaults (as float -> double).
  EXPECT_EQ(h.beta, (std::vector<double>{1.5}));
  EXPECT_EQ(h.beam, (std::vector<int>{32}));
  // n = 1 is lo; a decreasing range is allowed; values are sorted.
  EXPECT_EQ(parse_grid({"alpha=3:9:1"}, defaults()).alpha, (std::vector<double>{3}));
  EXPECT_EQ(parse_grid({"beta=2:0:3"}, defaults()).beta, (std::vector<double>{0, 1, 2}));
}

TEST(SweepGrid, RepeatedNamesAndSpecsAddValues) {
  const Grid g = parse_grid({"beam=16,beam=64", "beam=1,alpha=1", "alpha=0.5:1:2"}, defaults());
  EXPECT_EQ(g.beam, (std::vector<int>{1, 16, 64}));
  EXPECT_EQ(g.alpha, (std::vector<double>{0.5, 1.0}));  // 1 given twice: once
  EXPECT_EQ(parse_grid({"beam=8:32:4"}, defaults()).beam, (std::vector<int>{8, 16, 24, 32}));
  EXPECT_EQ(parse_grid({""}, defaults()).beam, (std::vector<int>{32}));
}

TEST(SweepGrid, BadTokensAreNamed) {
  const std::vector<std::pair<std::string, std::string>> bad = {{"alpha=0.5:x:3", "alpha=0.5:x:3"},
                                                                {"gamma=1", "unknown name 'gamma'"},
                                                                {"alpha", "'alpha'"},
                                                                {"beam=2.5", "whole numbers"},
                                                                {"beam=0", "beam=0"},
                                                                {"alpha=0:1:0", "n in lo:hi:n"},
                                                                {"alpha=0:1:2.5", "n in lo:hi:n"},
                                                                {"alpha=0:1", "alpha=0:1"},
                                                                {"beta=1:2:3:4", "beta=1:2:3:4"},
                                                                {"alpha=", "alpha="},
                                                                {"alpha=nan", "alpha=nan"},
                                                                {"beam=1:2:3", "whole numbers"}};
  for (const auto& [spec, want] : bad) {
    try {
      parse_grid({"beta=0," + spec}, defaults());
      ADD_FAILURE() << spec << " was accepted";
    } catch (const ConfigError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("option 'grid'"), std::string::npos) << msg;
      EXPECT_NE(msg.find(want), std::string::npos) << spec << ": " << msg;
    }
  }
}

TEST(SweepGrid, PointsAreTheProductWithLmOnly) {
  Grid g;
  g.alpha = {0, 1, 2};
  g.beta = {0, 1};
  g.beam = {1, 8, 16};
  const auto with = grid_points(g, /*with_lm=*/true);
  ASSERT_EQ(with.size(), 1u + 2 * 3 * 2);  // greedy once + beams x alpha x beta
  EXPECT_EQ(with[0].decoder, "greedy");
  EXPECT_FALSE(with[0].lm);
  size_t i = 1;
  for (int beam : {8, 16})
    for (double a : g.alpha)
      for (double b : g.beta) {
        EXPECT_EQ(with[i].decoder, "beam");
        EXPECT_EQ(with[i].beam, beam);
        EXPECT_EQ(with[i].alpha, a);
        EXPECT_EQ(with[i].beta, b);
        EXPECT_TRUE(with[i].lm);
        ++i;
      }
  const auto without = grid_points(g, /*with_lm=*/false);
  ASSERT_EQ(without.size(), 3u);  // alpha/beta collapse
  EXPECT_EQ(without[0].decoder, "greedy");
  EXPECT_EQ(without[1].beam, 8);
  EXPECT_EQ(without[2].beam, 16);
  for (const auto& p : without) EXPECT_FALSE(p.lm);
}

TEST(SweepCheckpoints, RunFolderFilesAndLinks) {
  test::TempDir tmp("ds2-sweep");
  const std::string run = tmp / "run";
  fs::create_directories(run);
  for (int s : {100, 20, 3}) std::ofstream(run + "/ckpt-step" + std::to_string(s) + ".h5") << s;
  std::ofstream(run + "/ckpt-stepX.h5") << "not a step";
  std::ofstream(run + "/metrics.csv") << "step\n";
  fs::create_hard_link(run + "/ckpt-step100.h5", run + "/ckpt-last.h5");
  std::ofstream(run + "/ckpt-best.h5") << "a copy";  // not a link: listed on its own

  EXPECT_EQ(list_checkpoints(run, "best"), (std::vector<std::string>{run + "/ckpt-best.h5"}));
  EXPECT_EQ(list_checkpoints(run + "/", "last"), (std::vector<std::string>{run + "/ckpt-last.h5"}));
  EXPECT_EQ(list_checkpoints(run, "all"),
            (std::vector<std::string>{run + "/ckpt-step3.h5", run + "/ckpt-step20.h5",
                                      run + "/ckpt-step100.h5", run + "/ckpt-best.h5"}));
  // A file is taken as it is, whatever --checkpoints says.
  EXPECT_EQ(list_checkpoints(run + "/ckpt-step20.h5", "all"),
            (std::vector<std::string>{run + "/ckpt-step20.h5"}));

  auto expect_error = [](const std::string& arg, const std::string& which,
                         const std::string& want) {
    try {
      list_checkpoints(arg, which);
      ADD_FAILURE() << arg << " accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
    }
  };
  expect_error(tmp / "missing.h5", "best", "missing.h5: no such checkpoint file or run folder");
  fs::remove(run + "/ckpt-best.h5");
  expect_error(run, "best", "ckpt-best.h5: no such checkpoint");
  expect_error(run, "newest", "option 'checkpoints': 'newest'");
  fs::create_directories(tmp / "empty");
  expect_error(tmp / "empty", "all", "holds no checkpoints");
}

TEST(SweepSettings, EveryOptionThatChangesTheNumbersChangesTheText) {
  const BeamOptions b = defaults();
  const GridPoint greedy{"greedy", 1, 0, 0, false}, beam{"beam", 8, 0, 0, false},
      lm{"beam", 8, 0.5, 1.5, true};
  std::set<std::string> seen;
  auto add = [&](const std::string& s) { EXPECT_TRUE(seen.insert(s).second) << s; };
  add(point_settings(greedy, b, ""));
  add(point_settings(greedy, b, "utterance"));
  add(point_settings(beam, b, ""));
  add(point_settings(lm, b, ""));
  GridPoint lm2 = lm;
  lm2.alpha = 0.75;
  add(point_settings(lm2, b, ""));
  lm2 = lm;
  lm2.beam = 16;
  add(point_settings(lm2, b, ""));
  for (int field = 0; field < 7; ++field) {
    BeamOptions c = b;
    switch (field) {
      case 0:
        c.prune_logprob = -8;
        break;
      case 1:
        c.top_k = 20;
        break;
      case 2:
        c.beam_threshold = 10;
        break;
      case 3:
        c.lm_eos = false;
        break;
      case 4:
        c.oov_logprob = -5;
        break;
      case 5:
        c.oov_char_logprob = -1;
        break;
      case 6:
        c.partial_words = false;
        break;
    }
    add(point_settings(lm, c, ""));
  }
  // Pruning options do not change the greedy decoder; alpha and beta do not apply without an LM.
  EXPECT_EQ(point_settings(greedy, b, ""), point_settings(greedy, BeamOptions{}, ""));
  EXPECT_EQ(point_settings(beam, b, ""), point_settings({"beam", 8, 2, 3, false}, b, ""));
  EXPECT_EQ(point_settings(greedy, b, ""), "v1 decoder=greedy normalize=trained");
}

TEST(SweepDigest, FileDigestStreamsAndFollowsContent) {
  test::TempDir tmp("ds2-digest");
  // 2.5 MiB + 3 bytes: two whole 1 MiB chunks and a partial one.
  std::vector<unsigned char> bytes((5u << 19) + 3);
  uint64_t x = 1;
  for (auto& c : bytes) c = static_cast<unsigned char>((x = mix64(x)) >> 56);
  auto write = [&](const std::string& p) {
    std::ofstream(p, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
  };
  write(tmp / "a.h5");
  // The reference over the buffer in memory.
  uint64_t h = mix64(0x64733266696c6531ULL);
  for (size_t at = 0; at < bytes.size(); at += 1u << 20)
    h = mix64(h ^ bytes_digest(bytes.data() + at, std::min<size_t>(1u << 20, bytes.size() - at)));
  EXPECT_EQ(file_digest(tmp / "a.h5"), fmt::format("{:016x}", mix64(h ^ bytes.size())));
  // Same bytes under another name: same digest; one byte changed: another.
  write(tmp / "copy.h5");
  EXPECT_EQ(file_digest(tmp / "copy.h5"), file_digest(tmp / "a.h5"));
  bytes[(3u << 19) + 1] ^= 1;
  write(tmp / "b.h5");
  EXPECT_NE(file_digest(tmp / "b.h5"), file_digest(tmp / "a.h5"));
  // Empty file; missing file names the path.
  std::ofstream(tmp / "empty.h5").close();
  EXPECT_EQ(file_digest(tmp / "empty.h5"),
            fmt::format("{:016x}", mix64(mix64(0x64733266696c6531ULL) ^ 0)));
  try {
    file_digest(tmp / "missing.h5");
    ADD_FAILURE() << "no error";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("missing.h5"), std::string::npos) << e.what();
  }
  // LM digest: the file, and the lexicon option (by content when a file).
  std::ofstream(tmp / "lm.arpa") << "\\data\\\n";
  std::ofstream(tmp / "lex1.txt") << "a\nb\n";
  std::ofstream(tmp / "lex2.txt") << "a\nb\n";
  std::ofstream(tmp / "lex3.txt") << "a\nc\n";
  const std::string lm = tmp / "lm.arpa";
  EXPECT_EQ(lm_digest("", ""), "");
  std::set<std::string> d = {lm_digest(lm, ""), lm_digest(lm, "lm"),
                             lm_digest(lm, tmp / "lex1.txt"), lm_digest(lm, tmp / "lex3.txt"),
                             lm_digest(tmp / "a.h5", "")};
  EXPECT_EQ(d.size(), 5u);
  EXPECT_EQ(lm_digest(lm, tmp / "lex1.txt"), lm_digest(lm, tmp / "lex2.txt"));
}

}  // namespace
}  // namespace ds2::eval
