// `ds2 sweep --models RUN/ [--models ...] --data DIR --grid alpha=0.5:2:4,beta=0:2:3,beam=64
//  --db history.sqlite [--report report.html] [--lm LM.arpa] [--checkpoints best|last|all]`
// `ds2 sweep --db history.sqlite --report report.html`   (rewrite the report only)
#include "eval/sweep_main.h"

#include <cstdio>

#include "core/error.h"
#include "core/log.h"
#include "core/mpi.h"
#include "core/node.h"
#include "core/options.h"
#include "eval/report.h"
#include "eval/sweep.h"
#include "eval/sweep_svg.h"
#include "model/device.h"

namespace ds2::eval {

int sweep_main(int argc, char** argv) {
  SweepOptions o;
  po::options_description desc("ds2 sweep options");
  o.add_to(desc);
  po::variables_map vm;
  CommonOptions common;
  if (!parse_command(argc, argv,
                     "ds2 sweep --models RUN/ [--models RUN2/ ...] --data DATA "
                     "--grid alpha=0.5:2.0:4,beta=0:2:3,beam=64 --db history.sqlite "
                     "[--report report.html] [--lm LM.arpa] [--checkpoints best|last|all]\n"
                     "       ds2 sweep --db history.sqlite --report report.html  "
                     "(rewrite the report only)\n"
                     "Grid: NAME=v or NAME=lo:hi:n (n evenly spaced values, lo and hi included), "
                     "NAME in alpha, beta, beam;\n"
                     "      repeat a name to add values; beam=1 is the greedy decoder; without "
                     "--lm alpha/beta do not apply",
                     desc, vm, common))
    return 0;
  Comm world;
  init_logging(world.rank(), world.size(), common.verbose);
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
    write_report(o.report, rows, runs, o.title, o.db);
    std::printf("report %s: %zu results\n", o.report.c_str(), rows.size());
    return 0;
  }
  const std::vector<HistoryRow> rows = run_sweep(world, o);
  if (!world.root()) return 0;
  for (const HistoryRow& r : rows) {
    std::string how = r.decoder;
    if (r.beam) how += " " + std::to_string(*r.beam);
    if (r.alpha && r.beta)
      how += " alpha " + svg::format_number(*r.alpha) + " beta " + svg::format_number(*r.beta);
    std::printf("WER %.2f%% CER %.2f%% %s step %s %s\n", 100 * r.wer, 100 * r.cer,
                r.checkpoint.c_str(), r.step ? std::to_string(*r.step).c_str() : "-", how.c_str());
  }
  if (!o.report.empty()) {
    History h(o.db, /*create=*/false, static_cast<int>(o.busy_timeout_s * 1000));
    const std::vector<HistoryRow> all = h.rows();
    // Training curves: the run folders of this sweep's checkpoints.
    std::vector<RunCurves> runs;
    for (const std::string& d : history_runs(rows)) runs.push_back(read_run_curves(d));
    write_report(o.report, all, runs, o.title, o.db);
    std::printf("report %s: %zu results\n", o.report.c_str(), all.size());
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace ds2::eval
