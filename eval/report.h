// The sweep report: ONE self-contained HTML file (inline CSS and SVG, no scripts, no external
// resources) drawn from the evaluation history (eval/history.h) and the training logs of run
// folders. Sections:
//   (a) trends, one panel per (run folder, dataset) (eval/trends.h): best WER and best CER over
//       the grid per checkpoint, x = checkpoint step (evaluation order when a checkpoint has no
//       step), the checkpoints that were the best so far marked; then a table per night (UTC
//       date) and commit with the best WER/CER of that night's rows, best so far marked (*);
//   (r) regressions (eval/trends.h find_regressions at `margin`), newest last, or "none";
//   (b) WER over the alpha x beta grid as a heatmap, for the newest row's checkpoint, dataset,
//       LM and beam (the newest row that has alpha/beta);
//   (c) per run folder: train loss per step (RUN/metrics.csv) with dev loss per epoch
//       (RUN/dev.csv) and dev CER per epoch;
//   (d) the best result of each (checkpoint, dataset), lowest WER first.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "eval/history.h"

namespace ds2::eval {

// The training logs of one run folder (train/trainer.cc writes them).
struct RunCurves {
  std::string run;  // the folder
  struct Train {
    int64_t step;
    double loss;  // metrics.csv `loss`: mean CTC cost of the step's batch (nats)
  };
  struct Dev {
    int64_t epoch, step;
    double loss, cer;  // dev.csv `dev_loss`, `dev_cer` (a fraction)
  };
  std::vector<Train> train;
  std::vector<Dev> dev;
  int64_t bad_lines = 0;  // rows that could not be parsed (skipped)
};

// Reads RUN/metrics.csv (columns step, loss by header name) and RUN/dev.csv (epoch, step,
// dev_loss, dev_cer). A missing file gives no points; unparsable rows are skipped and counted.
RunCurves read_run_curves(const std::string& run_dir);

// The report page. `source` names the history in the header; `margin` is the regression margin
// (an absolute WER fraction).
std::string render_report(const std::vector<HistoryRow>& rows, const std::vector<RunCurves>& runs,
                          const std::string& title, const std::string& source, double margin = 0);

// Renders and writes `path` atomically (core/fs.h). Throws IoError naming the file.
void write_report(const std::string& path, const std::vector<HistoryRow>& rows,
                  const std::vector<RunCurves>& runs, const std::string& title,
                  const std::string& source, double margin = 0);

// The run folders of a history's checkpoints that hold a metrics.csv (newest evaluated first,
// at most `max_runs`): the report's training curves when no run folder is named.
std::vector<std::string> history_runs(const std::vector<HistoryRow>& rows, size_t max_runs = 8);

}  // namespace ds2::eval
