// Trend series and regressions (eval/trends.h). Oracles: small histories whose series, best-so-far
// marks and regressions are worked out by hand, and random histories checked against a brute
// force written here from the definitions in trends.h (every checkpoint against all earlier
// ones, every row against all earlier rows of its key), not against the running minimum the
// implementation keeps.
#include "eval/trends.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <set>

namespace ds2::eval {
namespace {

HistoryRow row(int64_t id, const std::string& ck, std::optional<int64_t> step, double wer,
               const std::string& commit = "c1", const std::string& data = "/d/dev") {
  HistoryRow r;
  r.id = id;
  r.time = "2026-11-2" + std::to_string(id % 10) + "T02:00:00Z";
  r.git_commit = commit;
  r.checkpoint = ck;
  r.step = step;
  r.dataset = data;
  r.decoder = "greedy";
  r.wer = wer;
  r.cer = wer / 2;
  r.ckpt_digest = ck + "#" + (step ? std::to_string(*step) : "-");
  r.data_digest = "dd";
  r.settings = "greedy";
  return r;
}

TEST(Trends, SeriesPerRunAndDatasetBestSoFar) {
  // Rows out of step order; ckpt-last.h5 scored twice with different contents (steps 30, 50).
  const std::vector<HistoryRow> rows = {row(1, "/r/a/ckpt-step20.h5", 20, 0.40),
                                        row(2, "/r/a/ckpt-step10.h5", 10, 0.50),
                                        row(3, "/r/a/ckpt-last.h5", 30, 0.45),
                                        row(4, "/r/a/ckpt-step20.h5", 20, 0.35),
                                        row(5, "/r/a/ckpt-last.h5", 50, 0.30),
                                        row(6, "/r/b/ckpt-step10.h5", 10, 0.9),
                                        row(7, "/r/a/ckpt-step10.h5", 10, 0.2, "c1", "/d/other")};
  const std::vector<TrendSeries> s = trend_series(rows);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].run, "/r/a");
  EXPECT_EQ(s[0].dataset, "/d/dev");
  ASSERT_EQ(s[0].points.size(), 4u);
  const std::vector<int64_t> steps = {10, 20, 30, 50};
  const std::vector<double> wers = {0.50, 0.35, 0.45, 0.30};  // ckpt-step20: min(0.40, 0.35)
  const std::vector<bool> best = {true, true, false, true};
  const std::vector<int64_t> best_rows = {2, 4, 3, 5};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(*s[0].points[i].step, steps[i]);
    EXPECT_DOUBLE_EQ(s[0].points[i].wer, wers[i]) << i;
    EXPECT_EQ(s[0].points[i].best_so_far, best[i]) << i;
    EXPECT_EQ(s[0].points[i].best_row, best_rows[i]) << i;
  }
  EXPECT_EQ(s[1].dataset, "/d/other");
  EXPECT_EQ(s[2].run, "/r/b");
  // Nights: rows 1..5 are on days 21..25, one each.
  ASSERT_EQ(s[0].nights.size(), 5u);
  EXPECT_EQ(s[0].nights[0].date, "2026-11-21");
  EXPECT_TRUE(s[0].nights[0].best_so_far);   // 40%
  EXPECT_FALSE(s[0].nights[1].best_so_far);  // 50%
  EXPECT_FALSE(s[0].nights[2].best_so_far);  // 45%
  EXPECT_TRUE(s[0].nights[3].best_so_far);   // 35%
  EXPECT_TRUE(s[0].nights[4].best_so_far);   // 30%

  // Regressions at margin 0.05: step 30 (45%) vs best before it 35% -> yes; nothing else.
  const std::vector<Regression> g = find_regressions(rows, 0.05);
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].kind, "checkpoint");
  EXPECT_EQ(g[0].row, 3);
  EXPECT_EQ(g[0].best_row, 4);
  EXPECT_NE(g[0].what.find("ckpt-last.h5 (step 30)"), std::string::npos) << g[0].what;
  EXPECT_TRUE(find_regressions(rows, 0.2).empty());  // 45% <= 35% + 20%
}

TEST(Trends, CommitRegressionOnTheSameKey) {
  std::vector<HistoryRow> rows = {row(1, "/r/a/ckpt-step10.h5", 10, 0.30, "c1"),
                                  row(2, "/r/a/ckpt-step10.h5", 10, 0.31, "c1"),  // same commit
                                  row(3, "/r/a/ckpt-step10.h5", 10, 0.40, "c2")};
  const std::vector<Regression> g = find_regressions(rows, 0.05);
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].kind, "commit");
  EXPECT_EQ(g[0].row, 3);
  EXPECT_EQ(g[0].best_row, 1);
  // Rows without digests (migrated from schema 1) have no key: no commit regression.
  for (HistoryRow& r : rows) r.ckpt_digest.clear();
  for (const Regression& x : find_regressions(rows, 0.05)) EXPECT_NE(x.kind, "commit");
}

TEST(Trends, RandomHistoriesAgainstBruteForce) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<HistoryRow> rows;
    const int n = 1 + static_cast<int>(rng() % 30);
    for (int i = 0; i < n; ++i) {
      const int64_t step = 10 * static_cast<int64_t>(rng() % 6);
      const std::string run = rng() % 2 ? "/r/a" : "/r/b";
      const std::string data = rng() % 2 ? "/d/x" : "/d/y";
      HistoryRow r = row(i + 1, run + "/ckpt-step" + std::to_string(step) + ".h5", step,
                         static_cast<double>(rng() % 100) / 100, rng() % 3 ? "c1" : "c2", data);
      r.ckpt_digest = run + std::to_string(step);
      r.settings = rng() % 2 ? "greedy" : "beam";
      rows.push_back(r);
    }
    const double margin = static_cast<double>(rng() % 10) / 100;
    // Brute force: (kind, row) of every regression.
    std::set<std::pair<std::string, int64_t>> want;
    std::map<std::tuple<std::string, std::string, std::string>, double> best_of;  // ckpt's best
    std::map<std::tuple<std::string, std::string, std::string>, int64_t> best_id, step_of;
    for (const HistoryRow& r : rows) {
      const auto k = std::make_tuple(r.checkpoint.substr(0, 4), r.dataset, r.ckpt_digest);
      if (!best_of.count(k) || r.wer < best_of[k]) {
        best_of[k] = r.wer;
        best_id[k] = r.id;
      }
      step_of[k] = *r.step;
    }
    for (const auto& [k, w] : best_of) {
      double earlier = INFINITY;
      for (const auto& [k2, w2] : best_of)
        if (std::get<0>(k2) == std::get<0>(k) && std::get<1>(k2) == std::get<1>(k) &&
            step_of[k2] < step_of[k])
          earlier = std::min(earlier, w2);
      if (w > earlier + margin) want.insert({"checkpoint", best_id[k]});
    }
    for (const HistoryRow& r : rows) {
      double earlier = INFINITY;
      for (const HistoryRow& q : rows)
        if (q.id < r.id && q.key() == r.key() && q.git_commit != r.git_commit)
          earlier = std::min(earlier, q.wer);
      if (r.wer > earlier + margin) want.insert({"commit", r.id});
    }
    std::set<std::pair<std::string, int64_t>> got;
    for (const Regression& g : find_regressions(rows, margin)) got.insert({g.kind, g.row});
    ASSERT_EQ(got, want) << "trial " << trial;
  }
}

}  // namespace
}  // namespace ds2::eval
