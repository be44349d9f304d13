// `ds2 sweep` grid and checkpoint listing. Oracles: values written out by hand for each grid
// spec (lo:hi:n against the closed form lo + (hi - lo) i / (n - 1)), the cartesian product
// counted independently, and real files/hard links made in a temporary run folder.
#include "eval/sweep.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
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

}  // namespace
}  // namespace ds2::eval
