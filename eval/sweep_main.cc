// `ds2 sweep --models RUN/ [--models ...] --data DIR [--data DIR2 ...]
//  --grid alpha=0.5:2:4,beta=0:2:3,beam=64 --db history.sqlite [--report report.html]
//  [--lm LM.arpa] [--checkpoints best|last|all] [--rescore] [--fail-on-regression
//  --regression-margin M]`
// `ds2 sweep --db history.sqlite --report report.html`   (rewrite the report only)
// Exit status: 0; 1 on an error (one line); 4 with --fail-on-regression when a row this sweep
// appended is a regression (eval/trends.h), after the history and the report are written.
#include "eval/sweep_main.h"

#include <cstdio>
#include <set>

#include "core/error.h"
#include "core/log.h"
#include "core/mpi.h"
#include "core/node.h"
#include "core/options.h"
#include "eval/report.h"
#include "eval/sweep.h"
#include "eval/sweep_svg.h"
#include "eval/trends.h"
#include "model/device.h"

namespace ds2::eval {

int sweep_main(int argc, char** argv) {
  SweepOptions o;
  po::options_description desc("ds2 sweep options");
  o.add_to(desc);
  CommandArgs args;
  if (!start_command(argc, argv,
                     "ds2 sweep --models RUN/ [--models RUN2/ ...] --data DATA [--data DATA2 ...] "
                     "--grid alpha=0.5:2.0:4,beta=0:2:3,beam=64 --db history.sqlite "
                     "[--report report.html] [--lm LM.arpa] [--checkpoints best|last|all] "
                     "[--rescore] [--fail-on-regression [--regression-margin M]]\n"
                     "       ds2 sweep --db history.sqlite --report report.html  "
                     "(rewrite the report only)\n"
                     "Grid: NAME=v or NAME=lo:hi:n (n evenly spaced values, lo and hi included), "
                     "NAME in alpha, beta, beam;\n"
                     "      repeat a name to add values; beam=1 is the greedy decoder; without "
                     "--lm alpha/beta do not apply\n"
                     "Points the history already holds (same checkpoint, dataset and LM content "
                     "digests and settings) are skipped unless --rescore.\n"
                     "Exit status 4 with --fail-on-regression when a row of this sweep is a "
                     "regression.",
                     desc, &args))
    return 0;
  Comm world;
  model::select_gpu(o.device, node_place(world));  // one GPU per rank (model/device.h)
  if (o.models.empty()) {
    DS2_REQUIRE(!o.report.empty(), ConfigError,
                "option 'models' is required (or give --report alone to rewrite the report)");
    DS2_REQUIRE(o.grid.empty() && o.data.empty(), ConfigError,
                "option 'models' is required with --data/--grid");
    if (!world.root()) return 0;
    History h(o.db, /*create=*/false, static_cast<int>(o.busy_timeout_s * 1000));
    const std::vector<HistoryRow> rows = h.rows();
    std::vector<RunCurves> runs;
    for (const std::string& r : history_runs(rows)) runs.push_back(read_run_curves(r));
    write_report(o.report, rows, runs, o.title, o.db, o.regression_margin);
    std::printf("report %s: %zu results\n", o.report.c_str(), rows.size());
    return 0;
  }
  DS2_REQUIRE(o.regression_margin >= 0, ConfigError,
              "option 'regression-margin': {} (expected >= 0)", o.regression_margin);
  const SweepResult res = run_sweep(world, o);
  const std::vector<HistoryRow>& rows = res.rows;
  int regressed = 0;  // rank 0's count, broadcast so every rank exits alike
  if (world.root()) {
    for (const HistoryRow& r : rows) {
      std::string how = r.decoder;
      if (r.beam) how += " " + std::to_string(*r.beam);
      if (r.alpha && r.beta)
        how += " alpha " + svg::format_number(*r.alpha) + " beta " + svg::format_number(*r.beta);
      std::printf("WER %.2f%% CER %.2f%% %s step %s on %s %s\n", 100 * r.wer, 100 * r.cer,
                  r.checkpoint.c_str(), r.step ? std::to_string(*r.step).c_str() : "-",
                  r.dataset.c_str(), how.c_str());
    }
    std::printf(
        "skipped %lld of %lld point(s): %lld already in the history, %lld scored twice "
        "under another name%s\n",
        static_cast<long long>(res.in_history + res.duplicates), static_cast<long long>(res.points),
        static_cast<long long>(res.in_history), static_cast<long long>(res.duplicates),
        res.in_history && !o.rescore ? " (--rescore scores them again)" : "");
    if (o.fail_on_regression || !o.report.empty()) {
      History h(o.db, /*create=*/false, static_cast<int>(o.busy_timeout_s * 1000));
      const std::vector<HistoryRow> all = h.rows();
      if (!o.report.empty()) {
        // Training curves: the run folders of this sweep's checkpoints (of the history's when
        // everything was skipped).
        std::vector<RunCurves> runs;
        for (const std::string& d : history_runs(rows.empty() ? all : rows))
          runs.push_back(read_run_curves(d));
        write_report(o.report, all, runs, o.title, o.db, o.regression_margin);
        std::printf("report %s: %zu results\n", o.report.c_str(), all.size());
      }
      if (o.fail_on_regression) {
        std::set<int64_t> mine;
        for (const HistoryRow& r : rows) mine.insert(r.id);
        for (const Regression& g : find_regressions(all, o.regression_margin)) {
          if (!mine.count(g.row)) continue;
          ++regressed;
          std::printf("REGRESSION %s: %s\n", g.kind.c_str(), g.what.c_str());
        }
      }
    }
  }
  world.bcast(&regressed, 1);
  if (world.root() && regressed)
    logger("sweep")->error("{} regression(s) in this sweep's rows (--regression-margin {}): exit 4",
                           regressed, o.regression_margin);
  std::fflush(stdout);
  return regressed ? 4 : 0;
}

}  // namespace ds2::eval
