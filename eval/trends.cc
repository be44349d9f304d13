// Trend series and regressions over the evaluation history (definitions in trends.h).
#include "eval/trends.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

namespace ds2::eval {

namespace {

double finite_or_inf(double v) { return std::isfinite(v) ? v : INFINITY; }

std::string run_of(const std::string& ckpt) {
  return std::filesystem::path(ckpt).parent_path().string();
}

std::string base_name(const std::string& p) { return std::filesystem::path(p).filename().string(); }

// A checkpoint's identity within its series.
std::string checkpoint_id(const HistoryRow& r) {
  if (!r.ckpt_digest.empty()) return "d:" + r.ckpt_digest;
  return "p:" + r.checkpoint + "@" + (r.step ? std::to_string(*r.step) : "-");
}

std::string pct(double v) { return std::isfinite(v) ? fmt::format("{:.2f}%", 100 * v) : "-"; }

}  // namespace

std::vector<TrendSeries> trend_series(const std::vector<HistoryRow>& rows) {
  std::map<std::pair<std::string, std::string>, std::vector<const HistoryRow*>> by;
  for (const HistoryRow& r : rows) by[{run_of(r.checkpoint), r.dataset}].push_back(&r);
  std::vector<TrendSeries> out;
  for (auto& [key, list] : by) {
    std::sort(list.begin(), list.end(),
              [](const HistoryRow* a, const HistoryRow* b) { return a->id < b->id; });
    TrendSeries s;
    s.run = key.first;
    s.dataset = key.second;
    // Checkpoints: best WER / CER over their rows.
    std::map<std::string, TrendPoint> pts;
    for (const HistoryRow* r : list) {
      TrendPoint& p = pts[checkpoint_id(*r)];
      if (!p.first_id) {
        p.first_id = r->id;
        p.wer = p.cer = NAN;
      }
      p.checkpoint = r->checkpoint;
      p.step = r->step;
      if (!p.best_row) p.best_row = r->id;
      if (std::isfinite(r->wer) && !(r->wer >= p.wer)) {  // (NaN p.wer: the first finite)
        p.wer = r->wer;
        p.best_row = r->id;
      }
      if (std::isfinite(r->cer) && !(r->cer >= p.cer)) p.cer = r->cer;
    }
    bool all_steps = true;
    for (const auto& [id, p] : pts) all_steps = all_steps && p.step.has_value();
    for (auto& [id, p] : pts) s.points.push_back(p);
    std::sort(s.points.begin(), s.points.end(), [&](const TrendPoint& a, const TrendPoint& b) {
      if (all_steps && *a.step != *b.step) return *a.step < *b.step;
      return a.first_id < b.first_id;
    });
    double best = INFINITY;
    for (TrendPoint& p : s.points) {
      p.best_so_far = finite_or_inf(p.wer) < best;
      best = std::min(best, finite_or_inf(p.wer));
    }
    // Nights x commits, in order of their first row.
    std::map<std::pair<std::string, std::string>, size_t> night_of;
    std::vector<std::set<std::string>> ckpts_of;
    for (const HistoryRow* r : list) {
      const std::string date = r->time.substr(0, 10);
      auto it = night_of.find({date, r->git_commit});
      if (it == night_of.end()) {
        it = night_of.emplace(std::make_pair(date, r->git_commit), s.nights.size()).first;
        TrendNight n;
        n.date = date;
        n.git_commit = r->git_commit;
        n.wer = n.cer = NAN;
        s.nights.push_back(n);
        ckpts_of.emplace_back();
      }
      TrendNight& n = s.nights[it->second];
      ++n.rows;
      ckpts_of[it->second].insert(checkpoint_id(*r));
      if (std::isfinite(r->wer) && !(r->wer >= n.wer)) {
        n.wer = r->wer;
        n.step = r->step;
      }
      if (std::isfinite(r->cer) && !(r->cer >= n.cer)) n.cer = r->cer;
    }
    for (size_t i = 0; i < s.nights.size(); ++i)
      s.nights[i].checkpoints = static_cast<int64_t>(ckpts_of[i].size());
    std::stable_sort(s.nights.begin(), s.nights.end(),
                     [](const TrendNight& a, const TrendNight& b) { return a.date < b.date; });
    best = INFINITY;
    for (TrendNight& n : s.nights) {
      n.best_so_far = finite_or_inf(n.wer) < best;
      best = std::min(best, finite_or_inf(n.wer));
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<Regression> find_regressions(const std::vector<HistoryRow>& rows, double margin) {
  std::vector<Regression> out;
  // Checkpoint regressions, per series.
  for (const TrendSeries& s : trend_series(rows)) {
    double best = INFINITY;
    int64_t best_row = 0;
    std::string best_name;
    for (const TrendPoint& p : s.points) {
      if (std::isfinite(p.wer) && std::isfinite(best) && p.wer > best + margin) {
        Regression g;
        g.kind = "checkpoint";
        g.run = s.run;
        g.dataset = s.dataset;
        g.row = p.best_row;
        g.best_row = best_row;
        g.wer = p.wer;
        g.best_wer = best;
        g.what = fmt::format("{} (step {}) on {}: best WER {} > {} of {} + margin {}",
                             base_name(p.checkpoint), p.step ? std::to_string(*p.step) : "-",
                             base_name(s.dataset), pct(p.wer), pct(best), best_name, pct(margin));
        out.push_back(std::move(g));
      }
      if (std::isfinite(p.wer) && p.wer < best) {
        best = p.wer;
        best_row = p.best_row;
        best_name = base_name(p.checkpoint);
      }
    }
  }
  // Commit regressions, per measurement key.
  std::map<std::string, std::vector<const HistoryRow*>> by_key;
  for (const HistoryRow& r : rows)
    if (!r.key().empty()) by_key[r.key()].push_back(&r);
  for (auto& [key, list] : by_key) {
    std::sort(list.begin(), list.end(),
              [](const HistoryRow* a, const HistoryRow* b) { return a->id < b->id; });
    for (size_t i = 0; i < list.size(); ++i) {
      const HistoryRow& r = *list[i];
      const HistoryRow* best = nullptr;
      for (size_t j = 0; j < i; ++j)
        if (list[j]->git_commit != r.git_commit && std::isfinite(list[j]->wer) &&
            (!best || list[j]->wer < best->wer))
          best = list[j];
      if (!best || !std::isfinite(r.wer) || !(r.wer > best->wer + margin)) continue;
      Regression g;
      g.kind = "commit";
      g.run = run_of(r.checkpoint);
      g.dataset = r.dataset;
      g.row = r.id;
      g.best_row = best->id;
      g.wer = r.wer;
      g.best_wer = best->wer;
      g.what = fmt::format(
          "commit {} on {} (step {}) / {}, {}: WER {} > {} of commit {} + "
          "margin {}",
          r.git_commit, base_name(r.checkpoint), r.step ? std::to_string(*r.step) : "-",
          base_name(r.dataset), r.settings, pct(r.wer), pct(best->wer), best->git_commit,
          pct(margin));
      out.push_back(std::move(g));
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Regression& a, const Regression& b) { return a.row < b.row; });
  return out;
}

}  // namespace ds2::eval
