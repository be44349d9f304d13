// The sweep report page (sections in report.h); charts come from eval/sweep_svg.h, trends and
// regressions from eval/trends.h.
#include "eval/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "core/csv.h"
#include "core/fs.h"
#include "core/version.h"
#include "ds2/config.h"
#include "eval/sweep_svg.h"
#include "eval/trends.h"

namespace ds2::eval {

namespace fs = std::filesystem;
using svg::escape;

namespace {

bool to_double(const std::string& s, double* v) {
  try {
    size_t used = 0;
    *v = std::stod(s, &used);
    return used == s.size() || s.find_first_not_of(" \r", used) == std::string::npos;
  } catch (const std::exception&) {
    return false;
  }
}

// Rows of a CSV file as numbers of the named columns; a row missing one is counted as bad.
std::vector<std::vector<double>> read_columns(const std::string& path,
                                              const std::vector<std::string>& names, int64_t* bad) {
  std::ifstream in(path);
  std::vector<std::vector<double>> rows;
  CsvReader reader(in);
  CsvRecord header;
  if (!in || !reader.next(&header)) return rows;
  std::vector<size_t> idx;
  for (const std::string& n : names) {
    const auto it = std::find(header.fields.begin(), header.fields.end(), n);
    if (it == header.fields.end()) return rows;  // not the expected file: nothing to draw
    idx.push_back(static_cast<size_t>(it - header.fields.begin()));
  }
  for (CsvRecord rec; reader.next(&rec);) {
    const std::vector<std::string>& f = rec.fields;
    if (f.size() == 1 && f[0].empty()) continue;  // an empty line
    std::vector<double> r(idx.size());
    bool ok = rec.error.empty();
    for (size_t k = 0; k < idx.size() && ok; ++k)
      ok = idx[k] < f.size() && to_double(f[idx[k]], &r[k]);
    if (ok)
      rows.push_back(std::move(r));
    else
      ++*bad;
  }
  return rows;
}

std::string base_name(const std::string& p) {
  const fs::path path(p);
  return path.filename().empty() ? path.parent_path().filename().string()
                                 : path.filename().string();
}

std::string run_of(const std::string& ckpt) { return fs::path(ckpt).parent_path().string(); }

std::string pct(double v) { return std::isfinite(v) ? fmt::format("{:.2f}%", 100 * v) : "-"; }

template <typename T>
std::string opt(const std::optional<T>& v) {
  return v ? svg::format_number(static_cast<double>(*v)) : std::string("-");
}

// (a): one trend panel: best WER/CER per checkpoint with the best-so-far points marked, and
// the nights x commits table.
std::string trend_panel(const TrendSeries& s) {
  bool all_steps = true;
  for (const TrendPoint& p : s.points) all_steps = all_steps && p.step.has_value();
  svg::Series wer{"best WER", {}, true}, cer{"best CER", {}, true};
  svg::Series mark{"best so far (WER)", {}, false};
  for (size_t i = 0; i < s.points.size(); ++i) {
    const TrendPoint& p = s.points[i];
    const double x = all_steps ? static_cast<double>(*p.step) : static_cast<double>(i + 1);
    wer.points.emplace_back(x, p.wer);
    cer.points.emplace_back(x, p.cer);
    if (p.best_so_far) mark.points.emplace_back(x, p.wer);
  }
  svg::ChartOptions o;
  o.x_label = all_steps ? "checkpoint step" : "checkpoint (evaluation order)";
  o.x_integer = true;
  o.y_percent = true;
  o.y_from_zero = true;
  o.y_label = "error rate";
  o.title = "Best WER and CER per checkpoint: " + base_name(s.run) + " on " + base_name(s.dataset);
  std::string out = "<div>" + svg::line_chart({wer, cer, mark}, o) + "</div>\n";
  out +=
      "<table class=\"nights\"><tr><th>night (UTC)</th><th>commit</th><th>rows</th>"
      "<th>checkpoints</th><th>best WER</th><th>best CER</th><th>its step</th>"
      "<th>best so far</th></tr>\n";
  for (const TrendNight& n : s.nights)
    out += fmt::format(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
        "<td>{}</td></tr>\n",
        escape(n.date), escape(n.git_commit), n.rows, n.checkpoints, pct(n.wer), pct(n.cer),
        opt(n.step), n.best_so_far ? "*" : "");
  return out + "</table>\n";
}

// (r): the regressions.
std::string regression_list(const std::vector<HistoryRow>& rows, double margin) {
  const std::vector<Regression> regs = find_regressions(rows, margin);
  if (regs.empty())
    return fmt::format("<p class=\"note\">No regressions (margin {}).</p>\n", pct(margin));
  std::string out = fmt::format(
      "<p class=\"note\">{} regression(s): a newer checkpoint or commit worse than the previous "
      "best by more than {}.</p>\n<table class=\"regressions\"><tr><th>kind</th><th>row</th>"
      "<th>WER</th><th>previous best</th><th>its row</th><th>what</th></tr>\n",
      regs.size(), pct(margin));
  for (const Regression& g : regs)
    out += fmt::format(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
        "<td style=\"text-align:left\">{}</td></tr>\n",
        escape(g.kind), g.row, pct(g.wer), pct(g.best_wer), g.best_row, escape(g.what));
  return out + "</table>\n";
}

// (b): WER over alpha x beta for the newest LM result's checkpoint/dataset/LM/beam.
std::string grid_heatmap(const std::vector<HistoryRow>& rows, std::string* caption) {
  const HistoryRow* newest = nullptr;
  for (const HistoryRow& r : rows)
    if (r.alpha && r.beta && (!newest || r.id > newest->id)) newest = &r;
  if (!newest) {
    *caption = "No alpha/beta results yet (they need a sweep with --lm and a beam above 1).";
    return "";
  }
  std::map<std::pair<double, double>, const HistoryRow*> cell;  // (alpha, beta) -> newest row
  std::set<double> alphas, betas;
  for (const HistoryRow& r : rows) {
    if (!r.alpha || !r.beta || r.checkpoint != newest->checkpoint || r.dataset != newest->dataset ||
        r.lm != newest->lm || r.beam != newest->beam)
      continue;
    alphas.insert(*r.alpha);
    betas.insert(*r.beta);
    const HistoryRow*& c = cell[{*r.alpha, *r.beta}];
    if (!c || r.id > c->id) c = &r;
  }
  std::vector<std::string> cols, labels;
  for (double a : alphas) cols.push_back(svg::format_number(a));
  std::vector<std::vector<double>> values;
  for (double b : betas) {
    labels.push_back(svg::format_number(b));
    values.emplace_back();
    for (double a : alphas) {
      const auto it = cell.find({a, b});
      values.back().push_back(it == cell.end() ? NAN : it->second->wer);
    }
  }
  *caption = fmt::format("{} (step {}) on {}, LM {}, beam {}: WER of the newest row per cell.",
                         newest->checkpoint, opt(newest->step), newest->dataset, newest->lm,
                         opt(newest->beam));
  svg::ChartOptions o;
  o.title = "WER over the alpha x beta grid";
  o.x_label = "alpha (LM weight)";
  o.y_label = "beta (word bonus)";
  o.width = std::max(420, 120 + 80 * static_cast<int>(cols.size()));
  o.height = std::max(200, 90 + 36 * static_cast<int>(labels.size()));
  return svg::heatmap(values, cols, labels, o, /*percent=*/true);
}

// (c): training curves of one run folder.
std::string run_charts(const RunCurves& rc) {
  svg::Series train{"train loss", {}, true}, dev{"dev loss", {}, true}, cer{"dev CER", {}, true};
  for (const auto& t : rc.train) train.points.emplace_back(static_cast<double>(t.step), t.loss);
  for (const auto& d : rc.dev) {
    dev.points.emplace_back(static_cast<double>(d.step), d.loss);
    cer.points.emplace_back(static_cast<double>(d.epoch), d.cer);
  }
  svg::ChartOptions o;
  o.title = "Loss: " + base_name(rc.run);
  o.x_label = "step";
  o.x_integer = true;
  o.y_label = "CTC loss (nats)";
  o.y_from_zero = true;
  std::string out = svg::line_chart({train, dev}, o);
  o.title = "Dev CER per epoch: " + base_name(rc.run);
  o.x_label = "epoch";
  o.y_label = "CER";
  o.y_percent = true;
  return out + svg::line_chart({cer}, o);
}

// (d): the best row of each (checkpoint, dataset), lowest WER first.
std::string best_table(const std::vector<HistoryRow>& rows, size_t max_rows) {
  std::map<std::pair<std::string, std::string>, const HistoryRow*> best;
  for (const HistoryRow& r : rows) {
    const HistoryRow*& b = best[{r.checkpoint, r.dataset}];
    const double w = std::isfinite(r.wer) ? r.wer : INFINITY;
    if (!b || w < (std::isfinite(b->wer) ? b->wer : INFINITY)) b = &r;
  }
  std::vector<const HistoryRow*> list;
  for (const auto& [k, r] : best) list.push_back(r);
  std::stable_sort(list.begin(), list.end(), [](const HistoryRow* a, const HistoryRow* b) {
    const double wa = std::isfinite(a->wer) ? a->wer : INFINITY;
    const double wb = std::isfinite(b->wer) ? b->wer : INFINITY;
    return wa < wb || (wa == wb && a->id < b->id);
  });
  std::string out =
      "<table><tr><th>WER</th><th>CER</th><th>S / D / I</th><th>words</th><th>checkpoint</th>"
      "<th>step</th><th>epoch</th><th>dataset</th><th>decoder</th><th>beam</th><th>alpha</th>"
      "<th>beta</th><th>LM</th><th>RTF</th><th>time (UTC)</th><th>commit</th></tr>\n";
  for (size_t i = 0; i < list.size() && i < max_rows; ++i) {
    const HistoryRow& r = *list[i];
    out += fmt::format(
        "<tr><td>{}</td><td>{}</td><td>{} / {} / {}</td><td>{}</td><td title=\"{}\">{}</td>"
        "<td>{}</td><td>{}</td><td title=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td>"
        "<td>{}</td><td>{}</td><td>{:.4f}</td><td>{}</td><td>{}</td></tr>\n",
        pct(r.wer), pct(r.cer), r.sub, r.del, r.ins, r.words, escape(r.checkpoint),
        escape(base_name(run_of(r.checkpoint)) + "/" + base_name(r.checkpoint)), opt(r.step),
        opt(r.epoch), escape(r.dataset), escape(base_name(r.dataset)), escape(r.decoder),
        opt(r.beam), opt(r.alpha), opt(r.beta), escape(r.lm.empty() ? "-" : base_name(r.lm)), r.rtf,
        escape(r.time), escape(r.git_commit));
  }
  return out + "</table>\n";
}

}  // namespace

RunCurves read_run_curves(const std::string& run_dir) {
  RunCurves rc;
  rc.run = run_dir;
  for (const auto& r : read_columns(run_dir + "/metrics.csv", {"step", "loss"}, &rc.bad_lines))
    rc.train.push_back({static_cast<int64_t>(r[0]), r[1]});
  for (const auto& r :
       read_columns(run_dir + "/dev.csv", {"epoch", "step", "dev_loss", "dev_cer"}, &rc.bad_lines))
    rc.dev.push_back({static_cast<int64_t>(r[0]), static_cast<int64_t>(r[1]), r[2], r[3]});
  return rc;
}

std::vector<std::string> history_runs(const std::vector<HistoryRow>& rows, size_t max_runs) {
  std::vector<std::string> out;
  for (auto it = rows.rbegin(); it != rows.rend() && out.size() < max_runs; ++it) {
    const std::string run = run_of(it->checkpoint);
    if (std::find(out.begin(), out.end(), run) == out.end() && file_exists(run + "/metrics.csv"))
      out.push_back(run);
  }
  return out;
}

std::string render_report(const std::vector<HistoryRow>& rows, const std::vector<RunCurves>& runs,
                          const std::string& title, const std::string& source, double margin) {
  std::string h = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{0}</title>\n"
      "<style>body{{font-family:sans-serif;margin:16px;color:#222}}"
      "h1{{font-size:20px}}h2{{font-size:16px;margin-top:24px}}h3{{font-size:14px}}"
      "svg{{margin:4px;border:1px solid #ddd}}table{{border-collapse:collapse;font-size:12px}}"
      "td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}}"
      "th{{background:#f0f0f0}}.note{{color:#666;font-size:12px}}</style></head><body>\n"
      "<h1>{0}</h1>\n<p class=\"note\">{1} results from {2}; ds2 {3} ({4}).</p>\n",
      escape(title), rows.size(), escape(source), DS2_VERSION, escape(git_describe()));
  h += "<h2>Trends per run and dataset</h2>\n";
  const std::vector<TrendSeries> series = trend_series(rows);
  if (series.empty()) h += "<p class=\"note\">No results yet.</p>\n";
  for (const TrendSeries& s : series)
    h += "<h3>" + escape(base_name(s.run)) + " on " + escape(base_name(s.dataset)) +
         "</h3>\n<p class=\"note\">" + escape(s.run) + " on " + escape(s.dataset) +
         fmt::format(": {} checkpoint(s), {} night(s) x commit(s).</p>\n", s.points.size(),
                     s.nights.size()) +
         trend_panel(s);
  h += "<h2>Regressions</h2>\n" + regression_list(rows, margin);
  std::string caption;
  const std::string heat = grid_heatmap(rows, &caption);
  h += "<h2>Language model weights</h2>\n<p class=\"note\">" + escape(caption) + "</p>\n";
  if (!heat.empty()) h += "<div>" + heat + "</div>\n";
  h += "<h2>Training curves</h2>\n";
  if (runs.empty()) h += "<p class=\"note\">No run folder with a metrics.csv.</p>\n";
  for (const RunCurves& rc : runs) {
    h += "<p class=\"note\">" + escape(rc.run) +
         fmt::format(": {} training steps, {} dev evaluations", rc.train.size(), rc.dev.size()) +
         (rc.bad_lines ? fmt::format(", {} unreadable rows skipped", rc.bad_lines) : "") +
         ".</p>\n<div>" + run_charts(rc) + "</div>\n";
  }
  h += "<h2>Best results</h2>\n" + best_table(rows, 50);
  return h + "</body></html>\n";
}

void write_report(const std::string& path, const std::vector<HistoryRow>& rows,
                  const std::vector<RunCurves>& runs, const std::string& title,
                  const std::string& source, double margin) {
  write_file_atomic(path, render_report(rows, runs, title, source, margin));
}

}  // namespace ds2::eval
