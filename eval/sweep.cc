// `ds2 sweep` (see sweep.h for the grid syntax, history.h for what is stored).
//
// Algorithm:
//   1. Every rank expands --models into the checkpoint list and --grid into decoder settings
//      (the same on every rank). Rank 0 opens the history first, so an unwritable database
//      fails before any work, and reads the keys it holds (none with --rescore).
//   2. Each --data folder is planned once, as `ds2 eval` does (plan_eval: the clean utterances
//      in fixed batches, balanced over the ranks by padded frames). Rank 0 computes the content
//      digests (eval/digest.h: dataset, LM; per checkpoint its file's bytes, or the history's
//      cached digest while the file's size, mtime and inode are unchanged) and broadcasts them.
//   3. Per (checkpoint, dataset), rank 0 marks the grid points still to do: those whose key is
//      neither in the history nor scored earlier in this sweep; the marks are broadcast. With
//      none, the checkpoint is not even loaded for that dataset.
//   4. Otherwise the acoustic model runs ONCE over the dataset, streamed: each rank gets its
//      batches' log-probabilities one batch at a time (for_each_log_prob_batch) and decodes
//      every pending point on that batch before the next one is computed, accumulating per point
//      the error counts and the decoding time. Memory is one batch of log-probabilities whatever
//      the dataset size (the cache of a whole checkpoint, e.g. 100 MB per 5 hours of audio, is
//      gone). The LM is parsed when the first pending point needs it. Decoding and scoring are
//      decode_utterance, the code `ds2 eval` runs, and counts are integers summed in any order,
//      so a point's WER is what `ds2 eval` with the same settings reports. The counts are summed
//      over the ranks with one all-reduce of 10 integers per point; decoding time is the
//      slowest rank's.
//   5. Rank 0 appends the pair's rows to the history in one transaction, so a sweep that is
//      killed keeps what it finished and the next one resumes after it. RTF of a row = (the
//      forward time + the point's decoding time) / audio seconds, as `ds2 eval` would measure it;
//      the forward time is the slowest rank's wall time of step 4 less its decoding time.
#include "eval/sweep.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/timer.h"
#include "decode/arpa_lm.h"
#include "decode/load_lm.h"
#include "eval/digest.h"
#include "eval/evaluate.h"
#include "pipeline/dataset_digest.h"

namespace ds2::eval {

using namespace ::ds2::decode;  // the decoders and scorers eval builds on

namespace fs = std::filesystem;

namespace {

auto log() { return logger("sweep"); }

[[noreturn]] void bad_grid(const std::string& token, const std::string& why) {
  DS2_THROW(ConfigError, "option 'grid': '{}' {}", token, why);
}

double parse_number(const std::string& s, const std::string& token) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != s.size() || !std::isfinite(v))
    bad_grid(token, "(a value '" + s + "' is not a number)");
  return v;
}

// The values of one item: `v` or `lo:hi:n`.
std::vector<double> parse_values(const std::string& spec, const std::string& token) {
  std::vector<std::string> parts;
  std::stringstream in(spec);
  for (std::string p; std::getline(in, p, ':');) parts.push_back(p);
  if (!spec.empty() && spec.back() == ':') parts.push_back("");
  if (parts.size() == 1) return {parse_number(parts[0], token)};
  if (parts.size() != 3) bad_grid(token, "(expected NAME=v or NAME=lo:hi:n)");
  const double lo = parse_number(parts[0], token), hi = parse_number(parts[1], token);
  const double n = parse_number(parts[2], token);
  if (n < 1 || n != std::floor(n) || n > 10000)
    bad_grid(token, "(n in lo:hi:n must be a whole number from 1 to 10000)");
  std::vector<double> v;
  const int count = static_cast<int>(n);
  for (int i = 0; i < count; ++i) {
    double x = count == 1 ? lo : lo + (hi - lo) * i / (count - 1);
    x = std::round(x * 1e9) / 1e9;  // 0.30000000000000004 -> 0.3
    v.push_back(x);
  }
  return v;
}

template <typename T>
void sort_unique(std::vector<T>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

std::string abs_path(const std::string& p) {
  return p.empty() ? p : fs::absolute(p).lexically_normal().string();
}

std::string point_label(const GridPoint& p) {
  return p.decoder == "greedy" ? std::string("greedy")
         : p.lm                ? fmt::format("beam {} alpha {} beta {}", p.beam, p.alpha, p.beta)
                               : fmt::format("beam {} without LM", p.beam);
}

// One (checkpoint, dataset) pair's pending points, decoded batch by batch (steps 4-5).
struct PointTally {
  ErrorCounts words, chars;
  double decode_s = 0;
};

}  // namespace

std::string point_settings(const GridPoint& p, const BeamOptions& b, const std::string& normalize) {
  std::string s = fmt::format("v1 decoder={}", p.decoder);
  if (p.decoder == "beam") {
    s += fmt::format(" beam={} prune_logprob={} top_k={} beam_threshold={}", p.beam,
                     b.prune_logprob, b.top_k, b.beam_threshold);
    if (b.cum_prob < 1.0f) s += fmt::format(" cum_prob={}", b.cum_prob);  // (older rows: off)
    if (p.lm)
      s += fmt::format(
          " alpha={} beta={} lm_eos={} oov_logprob={} oov_char_logprob={} "
          "partial_words={}",
          static_cast<float>(p.alpha), static_cast<float>(p.beta), b.lm_eos, b.oov_logprob,
          b.oov_char_logprob, b.partial_words);
  }
  return s + " normalize=" + (normalize.empty() ? "trained" : normalize);
}

Grid parse_grid(const std::vector<std::string>& specs, const BeamOptions& defaults) {
  Grid g;
  for (const std::string& spec : specs) {
    std::stringstream in(spec);
    for (std::string token; std::getline(in, token, ',');) {
      if (token.empty()) continue;
      const size_t eq = token.find('=');
      if (eq == std::string::npos) bad_grid(token, "(expected NAME=VALUES)");
      const std::string name = token.substr(0, eq);
      const std::vector<double> vals = parse_values(token.substr(eq + 1), token);
      if (name == "alpha") {
        g.alpha.insert(g.alpha.end(), vals.begin(), vals.end());
      } else if (name == "beta") {
        g.beta.insert(g.beta.end(), vals.begin(), vals.end());
      } else if (name == "beam") {
        for (double v : vals) {
          if (v < 1 || v != std::floor(v) || v > 1e6)
            bad_grid(token, "(beam values must be whole numbers >= 1)");
          g.beam.push_back(static_cast<int>(v));
        }
      } else {
        bad_grid(token, "(unknown name '" + name + "': expected alpha, beta or beam)");
      }
    }
  }
  if (g.alpha.empty()) g.alpha.push_back(defaults.alpha);
  if (g.beta.empty()) g.beta.push_back(defaults.beta);
  if (g.beam.empty()) g.beam.push_back(defaults.beam);
  sort_unique(g.alpha);
  sort_unique(g.beta);
  sort_unique(g.beam);
  return g;
}

std::vector<GridPoint> grid_points(const Grid& g, bool with_lm) {
  std::vector<GridPoint> out;
  for (int beam : g.beam) {
    if (beam <= 1 || !with_lm) {
      out.push_back({beam <= 1 ? "greedy" : "beam", std::max(beam, 1), 0, 0, false});
      continue;
    }
    for (double a : g.alpha)
      for (double b : g.beta) out.push_back({"beam", beam, a, b, true});
  }
  return out;
}

std::vector<std::string> list_checkpoints(const std::string& arg, const std::string& which) {
  DS2_REQUIRE(which == "best" || which == "last" || which == "all", ConfigError,
              "option 'checkpoints': '{}' (expected best, last or all)", which);
  std::error_code ec;
  if (!fs::is_directory(arg, ec)) {
    DS2_REQUIRE(fs::is_regular_file(arg, ec), ConfigError,
                "option 'models': {}: no such checkpoint file or run folder", arg);
    return {arg};
  }
  const std::string dir = arg.size() > 1 && arg.back() == '/' ? arg.substr(0, arg.size() - 1) : arg;
  const std::string best = dir + "/ckpt-best.h5", last = dir + "/ckpt-last.h5";
  std::vector<std::string> out;
  if (which != "all") {
    const std::string& p = which == "best" ? best : last;
    DS2_REQUIRE(fs::is_regular_file(p, ec), ConfigError,
                "option 'models': {}: no such checkpoint (run folder {} has no ckpt-{}.h5)", p, arg,
                which);
    return {p};
  }
  std::vector<std::pair<int64_t, std::string>> steps;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("ckpt-step", 0) != 0 || name.size() <= 12 ||
        name.compare(name.size() - 3, 3, ".h5") != 0)
      continue;
    const std::string num = name.substr(9, name.size() - 12);
    if (num.find_first_not_of("0123456789") != std::string::npos) continue;
    steps.emplace_back(std::stoll(num), dir + "/" + name);
  }
  std::sort(steps.begin(), steps.end());
  for (const auto& s : steps) out.push_back(s.second);
  for (const std::string& p : {best, last}) {
    if (!fs::is_regular_file(p, ec)) continue;
    bool dup = false;
    for (const std::string& q : out) dup = dup || fs::equivalent(p, q, ec);
    if (!dup) out.push_back(p);
  }
  DS2_REQUIRE(!out.empty(), ConfigError, "option 'models': run folder {} holds no checkpoints",
              arg);
  return out;
}

void SweepOptions::add_to(po::options_description& d) {
  d.add_options()("models", po::value(&models)->composing(),
                  "run folder (its checkpoints per --checkpoints) or a .h5 checkpoint; repeatable")(
      "data", po::value(&data)->composing(),
      "prepared dataset folder (index.h5 + shards); repeatable (dev-clean, dev-other, ...)")(
      "grid", po::value(&grid)->composing(),
      "decoder grid, comma-separated NAME=v or NAME=lo:hi:n (n evenly spaced, ends included) "
      "for NAME alpha, beta, beam; repeat a name to add values (beam=16,beam=64); beam=1 is "
      "greedy; names left out take --alpha/--beta/--beam; repeatable")(
      "db", po::value(&db)->required(), "SQLite history the results are appended to")(
      "report", po::value(&report), "HTML report to (re)write from the whole history")(
      "lm", po::value(&lm),
      "word language model, ARPA or compiled by ds2 lm compile (beam points); without it "
      "alpha/beta "
      "do not apply")("checkpoints", po::value(&checkpoints)->default_value(checkpoints),
                      "of a run folder: best | last | all (ckpt-step*.h5, best, last)")(
      "batch-size", po::value(&batch_size)->default_value(batch_size),
      "utterances per forward pass")("device", po::value(&device)->default_value(device),
                                     "network backend: cpu | cuda")(
      "threads", po::value(&threads)->default_value(threads),
      "CPU threads of the network (0: OpenMP default)")(
      "normalize", po::value(&normalize),
      "feature normalization: global | utterance | none (default: as the model was trained)")(
      "busy-timeout", po::value(&busy_timeout_s)->default_value(busy_timeout_s),
      "seconds to wait for another writer of --db")(
      "title", po::value(&title)->default_value(title), "title of the report")(
      "rescore", po::bool_switch(&rescore),
      "score every point again, also those the history already holds (same checkpoint, "
      "dataset and LM digests and settings)")(
      "fail-on-regression", po::bool_switch(&fail_on_regression),
      "exit 4 when a row of this sweep is a regression (see --regression-margin)")(
      "regression-margin", po::value(&regression_margin)->default_value(regression_margin),
      "a newer checkpoint (or commit) whose best WER is worse than the previous best by more "
      "than this (absolute, a fraction: 0.005 = half a point) is a regression");
  beam.add_to(d);
}

SweepResult run_sweep(const Comm& comm, const SweepOptions& o) {
  DS2_REQUIRE(!o.data.empty(), ConfigError, "option 'data' is required with --models");
  std::vector<std::string> ckpts;
  for (const std::string& m : o.models) {
    const auto c = list_checkpoints(m, o.checkpoints);
    ckpts.insert(ckpts.end(), c.begin(), c.end());
  }
  const std::vector<GridPoint> points = grid_points(parse_grid(o.grid, o.beam), !o.lm.empty());
  std::vector<std::string> settings;
  for (const GridPoint& p : points) settings.push_back(point_settings(p, o.beam, o.normalize));

  // Step 1: the history first; the keys it holds.
  std::unique_ptr<History> history;
  std::set<std::string> done;  // rank 0: keys in the history or scored by this sweep
  if (comm.root()) {
    history = std::make_unique<History>(o.db, true, static_cast<int>(o.busy_timeout_s * 1000));
    if (!o.rescore)
      for (std::string& k : history->keys()) done.insert(std::move(k));
  }
  // Step 2: plans and digests.
  std::vector<EvalPlan> plans;
  std::vector<std::string> data_digests;
  int64_t utterances = 0;
  for (const std::string& d : o.data) {
    plans.push_back(plan_eval(d, o.batch_size, comm.size()));
    std::string digest;
    if (comm.root()) digest = pipeline::dataset_digest(d, plans.back().index);
    comm.bcast_string(digest);
    data_digests.push_back(digest);
    utterances += plans.back().utterances;
  }
  std::unique_ptr<LanguageModel> lm;
  std::string lm_dig;
  if (!o.lm.empty()) {  // loaded when a pending point first needs it (a night may need none)
    if (comm.root()) lm_dig = lm_digest(o.lm, o.beam.lexicon);
    comm.bcast_string(lm_dig);
  }
  if (comm.root())
    log()->info(
        "{} checkpoint(s) x {} dataset(s) x {} grid point(s), {} utterances in all, {} "
        "rank(s){}",
        ckpts.size(), plans.size(), points.size(), utterances, comm.size(),
        o.rescore ? ", --rescore" : "");

  const std::string git = build_git_commit(), host = host_name();
  SweepResult res;
  for (const std::string& ckpt : ckpts) {
    std::string ckpt_dig;
    if (comm.root()) {
      // The digest cache (history.h file_digests): the file is read only when it changed.
      const FileStamp stamp = file_stamp(abs_path(ckpt));
      const std::optional<std::string> cached = history->cached_digest(stamp);
      ckpt_dig = cached ? *cached : file_digest(ckpt);
      if (!cached) history->store_digest(stamp, ckpt_dig);
      ++(cached ? res.digests_cached : res.digests_read);
    }
    comm.bcast_string(ckpt_dig);
    for (size_t di = 0; di < plans.size(); ++di) {
      const EvalPlan& plan = plans[di];
      // Step 3: the points to do.
      std::vector<uint8_t> todo(points.size(), 1);
      int64_t in_history = 0, duplicates = 0;
      if (comm.root()) {
        for (size_t i = 0; i < points.size(); ++i) {
          const std::string key =
              result_key(ckpt_dig, data_digests[di], points[i].lm ? lm_dig : "", settings[i]);
          if (done.count(key)) todo[i] = 0;
        }
      }
      comm.bcast(todo.data(), todo.size());
      std::vector<size_t> pending;
      for (size_t i = 0; i < points.size(); ++i)
        if (todo[i]) pending.push_back(i);
      if (comm.root()) {
        // A key this sweep scored is a duplicate (a copy or link of a checkpoint scored above);
        // the others were in the history when the sweep started.
        for (size_t i = 0; i < points.size(); ++i) {
          if (todo[i]) continue;
          bool mine = false;
          for (const HistoryRow& r : res.rows)
            mine = mine || r.key() == result_key(ckpt_dig, data_digests[di],
                                                 points[i].lm ? lm_dig : "", settings[i]);
          (mine ? duplicates : in_history) += 1;
        }
      }
      res.points += static_cast<int64_t>(points.size());
      res.in_history += in_history;
      res.duplicates += duplicates;
      if (pending.empty()) {
        ++res.forwards_skipped;
        if (comm.root())
          log()->info(
              "{} on {}: all {} point(s) skipped ({} already in the history, {} scored "
              "above under another name); no forward pass",
              ckpt, o.data[di], points.size(), in_history, duplicates);
        continue;
      }
      if (comm.root() && pending.size() < points.size())
        log()->info(
            "{} on {}: {} of {} point(s) skipped ({} already in the history, {} scored "
            "above under another name)",
            ckpt, o.data[di], points.size() - pending.size(), points.size(), in_history,
            duplicates);

      // Step 4: one streamed forward pass, every pending point decoded per batch.
      Timer wall;
      const AcousticModel::Dataset fit{plan.data, &plan.index, comm.root()};
      AcousticModel am(ckpt, o.device, o.threads, o.normalize, &fit);
      for (size_t i : pending)
        if (points[i].lm && !lm) lm = load_decoder_lm(o.lm, o.beam.lexicon);
      std::vector<DecodeSpec> specs(points.size());
      for (size_t i : pending) {
        const GridPoint& p = points[i];
        specs[i].decoder = p.decoder;
        specs[i].beam = o.beam;
        specs[i].beam.beam = p.beam;
        specs[i].beam.alpha = static_cast<float>(p.alpha);
        specs[i].beam.beta = static_cast<float>(p.beta);
        specs[i].lm = p.lm ? lm.get() : nullptr;
      }
      std::vector<PointTally> tally(points.size());
      int64_t seen = 0;
      BeamWorkspace ws;
      {
        Progress progress(comm, "sweep", "forward+decode", static_cast<double>(plan.utterances),
                          "utt");
        for_each_log_prob_batch(
            plan, comm.rank(), am, &progress, [&](std::vector<UttLogProbs>& batch) {
              seen += static_cast<int64_t>(batch.size());
              for (size_t i : pending) {
                Timer t;
                for (const UttLogProbs& u : batch) {
                  const UttResult r = decode_utterance(u, am.alphabet(), specs[i], &ws);
                  tally[i].words += r.words;
                  tally[i].chars += r.chars;
                }
                tally[i].decode_s += t.seconds();
              }
            });
        progress.finish();
      }
      double decode_total = 0;
      for (size_t i : pending) decode_total += tally[i].decode_s;
      const double forward_s =
          comm.allreduce_value(std::max(0.0, wall.seconds() - decode_total), MPI_MAX);
      const int64_t computed = comm.allreduce_value(seen);
      DS2_REQUIRE(computed == plan.utterances, CommError, "sweep: {} of {} utterances computed",
                  computed, plan.utterances);
      std::vector<int64_t> counts;
      std::vector<double> times;
      for (size_t i : pending) {
        const ErrorCounts& w = tally[i].words;
        const ErrorCounts& c = tally[i].chars;
        counts.insert(counts.end(), {w.sub, w.del, w.ins, w.correct, w.ref, c.sub, c.del, c.ins,
                                     c.correct, c.ref});
        times.push_back(tally[i].decode_s);
      }
      comm.allreduce(counts.data(), counts.size());
      comm.allreduce(times.data(), times.size(), MPI_MAX);

      std::optional<int64_t> step, epoch;
      if (am.extras().i64.count("step")) step = am.extras().get_int("step");
      if (am.extras().i64.count("epoch")) epoch = am.extras().get_int("epoch");
      std::vector<HistoryRow> rows;
      for (size_t k = 0; k < pending.size(); ++k) {
        const GridPoint& p = points[pending[k]];
        const int64_t* n = &counts[10 * k];
        const ErrorCounts w{n[0], n[1], n[2], n[3], n[4]}, c{n[5], n[6], n[7], n[8], n[9]};
        HistoryRow r;
        r.time = utc_now_iso8601();
        r.git_commit = git;
        r.host = host;
        r.checkpoint = abs_path(ckpt);
        r.step = step;
        r.epoch = epoch;
        r.dataset = abs_path(o.data[di]);
        r.utterances = plan.utterances;
        r.decoder = p.decoder;
        if (p.decoder == "beam") r.beam = p.beam;
        if (p.lm) {
          r.alpha = p.alpha;
          r.beta = p.beta;
          r.lm = abs_path(o.lm);
          r.lm_digest = lm_dig;
        }
        r.wer = w.rate();
        r.cer = c.rate();
        r.sub = w.sub;
        r.del = w.del;
        r.ins = w.ins;
        r.words = w.ref;
        r.chars = c.ref;
        r.rtf = plan.audio_seconds > 0 ? (forward_s + times[k]) / plan.audio_seconds : 0.0;
        r.ranks = comm.size();
        r.ckpt_digest = ckpt_dig;
        r.data_digest = data_digests[di];
        r.settings = settings[pending[k]];
        if (comm.root())
          log()->info("{} (step {}) on {}, {}: WER {:.2f}% CER {:.2f}%", ckpt,
                      step ? std::to_string(*step) : "-", o.data[di], point_label(p), 100 * r.wer,
                      100 * r.cer);
        rows.push_back(std::move(r));
      }
      // Step 5.
      if (history) {
        const std::vector<int64_t> ids = history->append(rows);
        for (size_t i = 0; i < rows.size(); ++i) {
          rows[i].id = ids[i];
          done.insert(rows[i].key());
        }
      }
      res.rows.insert(res.rows.end(), rows.begin(), rows.end());
    }
  }
  if (comm.root())
    log()->info(
        "scored {} of {} point(s); skipped {} already in the history and {} scored twice "
        "under another name (same checkpoint, dataset and LM digests and settings); {} "
        "forward pass(es) skipped; checkpoint digests: {} read, {} unchanged files from "
        "the cache{}",
        res.rows.size(), res.points, res.in_history, res.duplicates, res.forwards_skipped,
        res.digests_read, res.digests_cached,
        res.in_history && !o.rescore ? " (--rescore scores them again)" : "");
  return res;
}

}  // namespace ds2::eval
