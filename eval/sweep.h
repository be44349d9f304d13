// `ds2 sweep`: checkpoints x decoder grid on one dataset, appended to an SQLite history
// (eval/history.h) with an HTML report (eval/report.h). The algorithm is explained at the top of
// eval/sweep.cc.
//
// Grid syntax (--grid, repeatable): comma-separated items NAME=VALUES, NAME one of alpha, beta,
// beam; VALUES is a number `v` or `lo:hi:n` (n evenly spaced values from lo to hi, both
// included; n = 1 gives lo). A name given again adds its values (`beam=16,beam=64`). Names left
// out take --alpha / --beta / --beam. Beam values are integers >= 1; beam = 1 means the greedy
// decoder (best path). Without --lm, alpha and beta do not apply: each beam is decoded once and
// stored with alpha = beta = NULL.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/mpi.h"
#include "core/options.h"
#include "decode/ctc_decode.h"
#include "eval/history.h"

namespace ds2::eval {

using namespace ::ds2::decode;  // the decoders and scorers eval builds on

struct Grid {
  std::vector<double> alpha, beta;
  std::vector<int> beam;
};

// Parses --grid values (syntax above); `defaults` fill the names not given. Values of a name
// are sorted and de-duplicated. Throws ConfigError "option 'grid': 'TOKEN' ..." naming the bad
// item.
Grid parse_grid(const std::vector<std::string>& specs, const BeamOptions& defaults);

// One decoder setting of the grid.
struct GridPoint {
  std::string decoder;  // greedy (beam 1) | beam
  int beam = 1;
  double alpha = 0, beta = 0;
  bool lm = false;  // alpha/beta apply (beam decoder with an LM)
};
// The points in order beam, alpha, beta (each ascending); without an LM (or for the greedy
// decoder) alpha and beta collapse to a single point per beam.
std::vector<GridPoint> grid_points(const Grid& g, bool with_lm);

// The checkpoints of one --models argument: a .h5 file itself, or from a run folder
// `which` = best (RUN/ckpt-best.h5), last (RUN/ckpt-last.h5) or all (every RUN/ckpt-step*.h5 by
// step, then ckpt-best.h5 and ckpt-last.h5 when they are not hard links of one of those).
// Throws ConfigError "option 'models': ..." when the path or the checkpoint does not exist.
std::vector<std::string> list_checkpoints(const std::string& models_arg, const std::string& which);

struct SweepOptions {
  std::vector<std::string> models;   // run folders or .h5 checkpoints
  std::string data;                  // prepared dataset folder
  std::vector<std::string> grid;     // --grid specs
  std::string db;                    // SQLite history
  std::string report;                // HTML report ("" = none)
  std::string lm;                    // ARPA word LM ("" = none)
  std::string checkpoints = "best";  // best | last | all
  int batch_size = 16;
  std::string device = "cpu";
  int threads = 0;
  std::string normalize;
  double busy_timeout_s = 600;  // wait for another writer of the history
  std::string title = "ds2 evaluation history";
  BeamOptions beam;  // defaults for names not in --grid, and the pruning settings
  void add_to(po::options_description& d);
};

// Collective over `comm`: evaluates every checkpoint at every grid point on o.data. Rank 0
// appends each checkpoint's rows to o.db in one transaction (the history is opened before any
// work, so an unwritable file fails first) and returns all rows; other ranks return them too
// (without ids). Logs one line per grid point on rank 0.
std::vector<HistoryRow> run_sweep(const Comm& comm, const SweepOptions& o);

}  // namespace ds2::eval
