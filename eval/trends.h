// How a run evolves over checkpoints, nights and commits, drawn from the evaluation history
// (eval/history.h): the series behind the report's trend panels (eval/report.h) and the
// regressions `ds2 sweep --fail-on-regression` alerts on.
//
// A series is one (run folder, dataset path): the run folder is the checkpoint's folder. A
// checkpoint of a series is identified by its content digest (by path and step for rows
// migrated from schema version 1), so ckpt-last.h5 overwritten every night is a new point
// each night; its value is the best WER (and, separately, best CER) over all of its rows.
//
// Regressions (margin m, an absolute WER fraction):
//   checkpoint: in a series ordered by step (by first evaluation when a step is missing), a
//     checkpoint whose best WER exceeds the best WER of every checkpoint before it by more
//     than m;
//   commit: for one measurement key (history.h: same checkpoint, dataset, LM and settings), a
//     row whose WER exceeds the best WER of the earlier rows (by id) made by OTHER commits by
//     more than m -- the code got worse at the same job (this needs --rescore, or a key scored
//     again after a history merge).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "eval/history.h"

namespace ds2::eval {

struct TrendPoint {
  std::string checkpoint;  // the path of its newest row
  std::optional<int64_t> step;
  double wer = 0, cer = 0;   // best over its rows (NaN: no finite value)
  int64_t best_row = 0;      // id of the row with that WER
  int64_t first_id = 0;      // its first row
  bool best_so_far = false;  // lower WER than every point before it
};

// One night (UTC date of the rows) x commit of a series: the best over the rows made then.
struct TrendNight {
  std::string date, git_commit;  // "2026-11-24", git describe
  int64_t rows = 0, checkpoints = 0;
  double wer = 0, cer = 0;
  std::optional<int64_t> step;  // of the best row's checkpoint
  bool best_so_far = false;
};

struct TrendSeries {
  std::string run, dataset;
  std::vector<TrendPoint> points;  // by step (first evaluation when some step is missing)
  std::vector<TrendNight> nights;  // by date, then first row
};

// Series sorted by (run, dataset).
std::vector<TrendSeries> trend_series(const std::vector<HistoryRow>& rows);

struct Regression {
  std::string kind;  // "checkpoint" | "commit"
  std::string run, dataset;
  int64_t row = 0, best_row = 0;  // the regressing row and the previous best it is worse than
  double wer = 0, best_wer = 0;
  std::string what;  // one line: "ckpt-step300.h5 (step 300) WER 12.50% > 10.00% + 0.50 ..."
};

// Every regression of the history (definitions above), in row order. margin >= 0.
std::vector<Regression> find_regressions(const std::vector<HistoryRow>& rows, double margin);

}  // namespace ds2::eval
