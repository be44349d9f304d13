// The sweep report and its SVG charts. Oracles: a small tag-balance parser (every element
// opened is closed in order, so the page and each SVG are well formed), values computed here
// by hand for the heatmap cells and the best-results table, a brute-force check of the tick
// rules, and CSV files written here for the training curves.
#include "eval/report.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>
#include <regex>
#include <set>

#include "eval/sweep_svg.h"
#include "tests/testutil.h"

namespace ds2::eval {
namespace {

// Checks that tags nest properly (void elements and <!DOCTYPE> excepted); returns "" or the
// first problem.
std::string tag_balance(const std::string& html) {
  static const std::regex tag(R"(<(/?)([a-zA-Z][a-zA-Z0-9]*)[^>]*?(/?)>)");
  const std::set<std::string> void_tags = {"meta", "br", "hr", "img", "input", "link"};
  std::vector<std::string> stack;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), tag); it != std::sregex_iterator();
       ++it) {
    const std::string name = (*it)[2];
    if ((*it)[3] == "/" || void_tags.count(name)) continue;  // self-closing
    if ((*it)[1] == "/") {
      if (stack.empty() || stack.back() != name)
        return "</" + name + "> closes " + (stack.empty() ? "nothing" : "<" + stack.back() + ">");
      stack.pop_back();
    } else {
      stack.push_back(name);
    }
  }
  return stack.empty() ? "" : "<" + stack.back() + "> never closed";
}

HistoryRow row(int64_t id, const std::string& ckpt, int64_t step, double wer, double cer) {
  HistoryRow r;
  r.id = id;
  r.time = "2026-11-24T10:00:00Z";
  r.git_commit = "abc";
  r.host = "h";
  r.checkpoint = ckpt;
  r.step = step;
  r.epoch = step / 10;
  r.dataset = "/data/dev";
  r.utterances = 10;
  r.decoder = "greedy";
  r.wer = wer;
  r.cer = cer;
  r.words = 100;
  r.chars = 400;
  return r;
}

HistoryRow lm_row(int64_t id, const std::string& ckpt, int64_t step, double a, double b,
                  double wer) {
  HistoryRow r = row(id, ckpt, step, wer, wer / 2);
  r.decoder = "beam";
  r.beam = 16;
  r.alpha = a;
  r.beta = b;
  r.lm = "/lm/3gram.arpa";
  return r;
}

// The text labels of the SVG whose title is `title`, in document order.
std::vector<std::string> svg_texts(const std::string& html, const std::string& title) {
  const size_t at = html.find(">" + title + "<");
  EXPECT_NE(at, std::string::npos) << title;
  const std::string svg = html.substr(at, html.find("</svg>", at) - at);
  static const std::regex text(R"(<text [^>]*>([^<]*)</text>)");
  std::vector<std::string> out;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), text); it != std::sregex_iterator();
       ++it)
    out.push_back((*it)[1]);
  return out;
}

TEST(SweepSvg, NiceTicksCoverTheRangeWithRoundSteps) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> u(-3, 3);
  for (int trial = 0; trial < 500; ++trial) {
    const double scale = std::pow(10, std::round(u(rng) * 2));
    double lo = u(rng) * scale, hi = lo + std::abs(u(rng)) * scale;
    const std::vector<double> t = svg::nice_ticks(lo, hi, 5);
    ASSERT_GE(t.size(), 2u) << lo << " " << hi;
    EXPECT_LE(t.front(), lo + 1e-9 * scale);
    EXPECT_GE(t.back(), hi - 1e-9 * scale);
    EXPECT_LE(t.size(), 13u);
    const double step = t[1] - t[0];
    const double mant = step / std::pow(10, std::floor(std::log10(step) + 1e-9));
    EXPECT_TRUE(std::abs(mant - 1) < 1e-6 || std::abs(mant - 2) < 1e-6 || std::abs(mant - 5) < 1e-6)
        << step;
    for (size_t i = 1; i < t.size(); ++i) EXPECT_NEAR(t[i] - t[i - 1], step, 1e-9 * step);
  }
  EXPECT_EQ(svg::nice_ticks(0, 0.1212, 5), (std::vector<double>{0, 0.05, 0.1, 0.15}));
}

TEST(SweepSvg, EscapeAndColours) {
  EXPECT_EQ(svg::escape("a<b & \"c\" 'd'>"), "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;");
  EXPECT_EQ(svg::scale_colour(0), "#1a9850");
  EXPECT_EQ(svg::scale_colour(0.5), "#fee08b");
  EXPECT_EQ(svg::scale_colour(1), "#d73027");
  EXPECT_EQ(svg::format_number(0.25), "0.25");
  EXPECT_EQ(svg::format_number(2), "2");
}

TEST(Report, CurvesFromTheTrainerCsvFiles) {
  test::TempDir tmp("ds2-report");
  std::ofstream(tmp / "metrics.csv")
      << "step,epoch,loss,lr,grad_norm,utts_per_s,skipped,time\n1,0,50.5,0.001,3,10,0,1\n"
         "2,0,oops,0.001,3,10,0,2\n3,0,20.25,0.001,3,10,0,3\n";
  std::ofstream(tmp / "dev.csv") << "epoch,step,dev_loss,dev_cer\n1,3,30.5,0.5\n2,6,10,0.25\n";
  const RunCurves rc = read_run_curves(tmp.path());
  ASSERT_EQ(rc.train.size(), 2u);
  EXPECT_EQ(rc.train[1].step, 3);
  EXPECT_EQ(rc.train[1].loss, 20.25);
  EXPECT_EQ(rc.bad_lines, 1);
  ASSERT_EQ(rc.dev.size(), 2u);
  EXPECT_EQ(rc.dev[1].epoch, 2);
  EXPECT_EQ(rc.dev[1].step, 6);
  EXPECT_EQ(rc.dev[1].loss, 10);
  EXPECT_EQ(rc.dev[1].cer, 0.25);
  const RunCurves none = read_run_curves(tmp / "missing");
  EXPECT_TRUE(none.train.empty() && none.dev.empty());
}

TEST(Report, SectionsValuesAndEscaping) {
  const std::string old_ck = "/runs/<a&b>/ckpt-step10.h5", new_ck = "/runs/<a&b>/ckpt-step20.h5";
  std::vector<HistoryRow> rows = {row(1, old_ck, 10, 0.5, 0.25), row(2, new_ck, 20, 0.4, 0.2)};
  // The older checkpoint's LM grid must not reach the heatmap.
  rows.push_back(lm_row(3, old_ck, 10, 0, 0, 0.9));
  // The newest checkpoint's 2 x 3 grid (alpha x beta); one cell evaluated twice (newest wins).
  const double wer[3][2] = {{0.30, 0.20}, {0.35, 0.10}, {0.45, 0.25}};  // [beta][alpha]
  int64_t id = 4;
  rows.push_back(lm_row(id++, new_ck, 20, 1, 2, 0.99));  // superseded by the row below
  for (int b = 0; b < 3; ++b)
    for (int a = 0; a < 2; ++a) rows.push_back(lm_row(id++, new_ck, 20, a, b, wer[b][a]));
  RunCurves rc;
  rc.run = "/runs/<a&b>";
  rc.train = {{1, 40}, {2, 30}, {3, 20}};
  rc.dev = {{1, 3, 25, 0.5}};

  const std::string html = render_report(rows, {rc}, "History <x>", "h.sqlite");
  EXPECT_EQ(tag_balance(html), "");
  EXPECT_EQ(html.find("<script"), std::string::npos);
  // Self-contained: no external resources.
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("href="), std::string::npos);
  EXPECT_EQ(html.find("url(http"), std::string::npos);
  EXPECT_NE(html.find("History &lt;x&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<a&b>"), std::string::npos) << "unescaped path";
  EXPECT_NE(html.find("/runs/&lt;a&amp;b&gt;/ckpt-step20.h5"), std::string::npos);
  // Sections (a), (b), (c): four charts (one trend panel: one run on one dataset; heatmap, loss,
  // dev CER); (r) and (d) are tables.
  size_t svgs = 0;
  for (size_t p = html.find("<svg"); p != std::string::npos; p = html.find("<svg", p + 1)) ++svgs;
  EXPECT_EQ(svgs, 4u);
  // (b) heatmap cells row by row (beta 0, 1, 2), columns alpha 0, 1, as percent.
  const std::vector<std::string> t = svg_texts(html, "WER over the alpha x beta grid");
  std::vector<std::string> cells;
  for (const std::string& s : t)
    if (std::regex_match(s, std::regex(R"(\d+\.\d%)"))) cells.push_back(s);
  EXPECT_EQ(cells, (std::vector<std::string>{"30.0%", "20.0%", "35.0%", "10.0%", "45.0%", "25.0%",
                                             "10.0%", "45.0%"}));  // + legend lo, hi
  EXPECT_NE(html.find(svg::scale_colour(0)), std::string::npos);
  EXPECT_NE(html.find(svg::scale_colour(1)), std::string::npos);
  // (a) x axis in steps (10 and 20 are ticks).
  const std::vector<std::string> a =
      svg_texts(html, "Best WER and CER per checkpoint: &lt;a&amp;b&gt; on dev");
  EXPECT_NE(std::find(a.begin(), a.end(), "checkpoint step"), a.end());
  EXPECT_NE(std::find(a.begin(), a.end(), "20"), a.end());
  // (c) training curves present with their legend.
  const std::vector<std::string> c = svg_texts(html, "Loss: &lt;a&amp;b&gt;");
  EXPECT_NE(std::find(c.begin(), c.end(), "train loss"), c.end());
  EXPECT_NE(std::find(c.begin(), c.end(), "dev loss"), c.end());
  // (d) best per checkpoint: step 20's best is 10.00% (alpha 1, beta 1), step 10's 50.00%
  // (greedy; its LM row is 90%), in that order.
  const size_t table = html.find("<table>");
  ASSERT_NE(table, std::string::npos);
  const size_t r1 = html.find("<tr><td>10.00%</td><td>5.00%</td>", table);
  const size_t r2 = html.find("<tr><td>50.00%</td><td>25.00%</td>", table);
  EXPECT_NE(r1, std::string::npos);
  EXPECT_NE(r2, std::string::npos);
  EXPECT_LT(r1, r2);
  EXPECT_EQ(html.find("<td>90.00%"), std::string::npos);
}

TEST(Report, EmptyHistoryAndNoLmRows) {
  const std::string html = render_report({}, {}, "t", "h.sqlite");
  EXPECT_EQ(tag_balance(html), "");
  EXPECT_NE(html.find("No results yet"), std::string::npos);
  EXPECT_NE(html.find("No regressions"), std::string::npos);
  EXPECT_NE(html.find("No alpha/beta results yet"), std::string::npos);
  test::TempDir tmp("ds2-report");
  write_report(tmp / "r.html", {row(1, "/r/ckpt-best.h5", 5, 0.5, 0.1)}, {}, "t", "h");
  std::ifstream in(tmp / "r.html");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(tag_balance(text), "");
  EXPECT_NE(text.find("50.00%"), std::string::npos);
}

// Two datasets, two nights, one regression: a panel per (run, dataset), the nights table with
// its best-so-far marks and the regression listed. Expected values worked out by hand.
TEST(Report, TrendPanelsPerDatasetNightsAndRegressions) {
  std::vector<HistoryRow> rows;
  auto add = [&](const std::string& ck, int64_t step, const std::string& data,
                 const std::string& time, double wer) {
    HistoryRow r = row(static_cast<int64_t>(rows.size()) + 1, ck, step, wer, wer / 4);
    r.dataset = data;
    r.time = time;
    r.ckpt_digest = "d" + std::to_string(step);
    rows.push_back(r);
  };
  add("/runs/a/ckpt-step10.h5", 10, "/data/dev-clean", "2026-11-24T02:00:00Z", 0.30);
  add("/runs/a/ckpt-step10.h5", 10, "/data/dev-other", "2026-11-24T02:00:00Z", 0.50);
  add("/runs/a/ckpt-step20.h5", 20, "/data/dev-clean", "2026-11-25T02:00:00Z", 0.40);  // worse
  add("/runs/a/ckpt-step20.h5", 20, "/data/dev-other", "2026-11-25T02:00:00Z", 0.45);  // better
  const std::string html = render_report(rows, {}, "t", "h.sqlite", 0.05);
  EXPECT_EQ(tag_balance(html), "");
  EXPECT_NE(html.find("<h3>a on dev-clean</h3>"), std::string::npos);
  EXPECT_NE(html.find("<h3>a on dev-other</h3>"), std::string::npos);
  size_t svgs = 0;
  for (size_t p = html.find("<svg"); p != std::string::npos; p = html.find("<svg", p + 1)) ++svgs;
  EXPECT_EQ(svgs, 2u);  // one panel each; no LM rows, no run curves
  // dev-clean's nights: 11-24 best so far (30%), 11-25 not (40%).
  const size_t clean = html.find("<h3>a on dev-clean</h3>");
  const size_t n1 = html.find(
      "<tr><td>2026-11-24</td><td>abc</td><td>1</td><td>1</td>"
      "<td>30.00%</td><td>7.50%</td><td>10</td><td>*</td></tr>",
      clean);
  const size_t n2 = html.find(
      "<tr><td>2026-11-25</td><td>abc</td><td>1</td><td>1</td>"
      "<td>40.00%</td><td>10.00%</td><td>20</td><td></td></tr>",
      clean);
  EXPECT_NE(n1, std::string::npos);
  EXPECT_NE(n2, std::string::npos);
  EXPECT_LT(n2, html.find("<h3>a on dev-other</h3>"));
  // dev-other's second night is a new best.
  EXPECT_NE(html.find("<td>45.00%</td><td>11.25%</td><td>20</td><td>*</td>"), std::string::npos);
  // One regression: step 20 on dev-clean, 40% > 30% + 5%. (dev-other improved.)
  EXPECT_NE(html.find("1 regression(s)"), std::string::npos);
  EXPECT_NE(html.find("<tr><td>checkpoint</td><td>3</td><td>40.00%</td><td>30.00%</td>"
                      "<td>1</td>"),
            std::string::npos);
  // With a margin of 15 points it is none.
  EXPECT_NE(render_report(rows, {}, "t", "h", 0.15).find("No regressions"), std::string::npos);
}

}  // namespace
}  // namespace ds2::eval
