// `ds2 sweep`: checkpoints x datasets x decoder grid, appended to an SQLite history
// (eval/history.h) with an HTML report (eval/report.h). Only new work: a point whose key
// (checkpoint digest, dataset digest, LM digest, settings; history.h) the history already holds
// is skipped unless --rescore. The algorithm is explained at the top of eval/sweep.cc.
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

// The canonical text of a point's settings (history column `settings`): decoder, beam, and for
// the beam decoder the pruning options of `beam` (and alpha, beta with an LM), then the
// normalization option ("" = as trained). Numbers as fmt "{}" prints them (exact). The lexicon
// is part of the LM digest, not of this text.
std::string point_settings(const GridPoint& p, const BeamOptions& beam,
                           const std::string& normalize);

struct SweepOptions {
  std::vector<std::string> models;   // run folders or .h5 checkpoints
  std::vector<std::string> data;     // prepared dataset folders (--data, repeatable)
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
  bool rescore = false;             // score points the history already holds
  bool fail_on_regression = false;  // exit non-zero when this sweep's rows regress
  double regression_margin = 0.0;   // absolute WER (fraction) tolerated above the previous best
  BeamOptions beam;                 // defaults for names not in --grid, and the pruning settings
  void add_to(po::options_description& d);
};

struct SweepResult {
  std::vector<HistoryRow> rows;  // appended by this sweep (ids on rank 0 only)
  int64_t points = 0;            // checkpoints x datasets x grid points considered
  int64_t in_history = 0;        // skipped: the history holds their key
  int64_t duplicates = 0;        // skipped: same key as an earlier point of this sweep (a copy)
  int64_t forwards_skipped = 0;  // (checkpoint, dataset) pairs with nothing to do: no forward
  int64_t digests_read = 0;      // rank 0: checkpoint files read for their digest
  int64_t digests_cached = 0;    // rank 0: unchanged checkpoint files, digest from the cache
};

// Collective over `comm`: evaluates every checkpoint at every grid point on every o.data,
// skipping the points whose key the history holds (unless o.rescore). Rank 0 appends each
// (checkpoint, dataset)'s rows to o.db in one transaction (the history is opened before any
// work, so an unwritable file fails first); every rank returns the same rows (ids on rank 0).
// Logs one line per grid point scored and the skip counts on rank 0.
SweepResult run_sweep(const Comm& comm, const SweepOptions& o);

}  // namespace ds2::eval
