// `ds2 sweep` (see sweep.h for the grid syntax, history.h for what is stored).
//
// Algorithm:
//   1. Every rank expands --models into the checkpoint list and --grid into decoder settings
//      (the same on every rank). Rank 0 opens the history first, so an unwritable database
//      fails before any work.
//   2. The dataset is planned once, as `ds2 eval` does (plan_eval: the clean utterances in
//      fixed batches, balanced over the ranks by padded frames).
//   3. Per checkpoint, the acoustic model runs ONCE: each rank computes the log-probabilities of
//      its share (compute_log_probs) and keeps them in memory -- about T'/stride x C floats per
//      utterance, e.g. 100 MB for 5 hours of audio with C = 29, spread over the ranks.
//   4. Every grid point is then decoded from that cache: each rank decodes and scores its own
//      utterances (decode_utterance, the code `ds2 eval` runs, so a point's WER is what
//      `ds2 eval` with the same settings reports), and the error counts are summed over the ranks
//      with one all-reduce of 10 integers per point. Decoding time is the slowest rank's.
//   5. Rank 0 appends the checkpoint's rows to the history in one transaction, so a sweep that
//      is killed keeps the checkpoints it finished. RTF of a row = (the checkpoint's forward
//      time + the point's decoding time) / audio seconds, as `ds2 eval` would measure it.
#include "eval/sweep.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <sstream>

#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/timer.h"
#include "decode/arpa_lm.h"
#include "eval/evaluate.h"

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

}  // namespace

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
      "data", po::value(&data), "prepared dataset folder (index.h5 + shards)")(
      "grid", po::value(&grid)->composing(),
      "decoder grid, comma-separated NAME=v or NAME=lo:hi:n (n evenly spaced, ends included) "
      "for NAME alpha, beta, beam; repeat a name to add values (beam=16,beam=64); beam=1 is "
      "greedy; names left out take --alpha/--beta/--beam; repeatable")(
      "db", po::value(&db)->required(), "SQLite history the results are appended to")(
      "report", po::value(&report), "HTML report to (re)write from the whole history")(
      "lm", po::value(&lm),
      "ARPA word language model (beam points); without it alpha/beta "
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
      "title", po::value(&title)->default_value(title), "title of the report");
  beam.add_to(d);
}

std::vector<HistoryRow> run_sweep(const Comm& comm, const SweepOptions& o) {
  DS2_REQUIRE(!o.data.empty(), ConfigError, "option 'data' is required with --models");
  std::vector<std::string> ckpts;
  for (const std::string& m : o.models) {
    const auto c = list_checkpoints(m, o.checkpoints);
    ckpts.insert(ckpts.end(), c.begin(), c.end());
  }
  const std::vector<GridPoint> points = grid_points(parse_grid(o.grid, o.beam), !o.lm.empty());
  std::unique_ptr<History> history;
  if (comm.root())
    history = std::make_unique<History>(o.db, true, static_cast<int>(o.busy_timeout_s * 1000));
  const EvalPlan plan = plan_eval(o.data, o.batch_size, comm.size());
  std::unique_ptr<ArpaLm> lm;
  if (!o.lm.empty()) lm = std::make_unique<ArpaLm>(load_decoder_lm(o.lm, o.beam.lexicon));
  if (comm.root())
    log()->info("{} checkpoint(s) x {} grid point(s) on {} utterances ({:.1f} s audio), {} rank(s)",
                ckpts.size(), points.size(), plan.utterances, plan.audio_seconds, comm.size());

  const std::string git = build_git_commit(), host = host_name();
  std::vector<HistoryRow> all;
  for (const std::string& ckpt : ckpts) {
    Timer forward_timer;
    AcousticModel am(ckpt, plan, o.device, o.threads, o.normalize, comm.root());
    std::vector<UttLogProbs> cache;
    {
      Progress progress(comm, "sweep", "forward", static_cast<double>(plan.utterances), "utt");
      cache = compute_log_probs(plan, comm.rank(), am, &progress);
      progress.finish();
    }
    const double forward_s = comm.allreduce_value(forward_timer.seconds(), MPI_MAX);
    const int64_t cached = comm.allreduce_value(static_cast<int64_t>(cache.size()));
    DS2_REQUIRE(cached == plan.utterances, CommError, "sweep: {} of {} utterances computed", cached,
                plan.utterances);
    std::optional<int64_t> step, epoch;
    if (am.extras().i64.count("step")) step = am.extras().get_int("step");
    if (am.extras().i64.count("epoch")) epoch = am.extras().get_int("epoch");

    std::vector<HistoryRow> rows;
    BeamWorkspace ws;
    for (const GridPoint& p : points) {
      Timer decode_timer;
      DecodeSpec spec;
      spec.decoder = p.decoder;
      spec.beam = o.beam;
      spec.beam.beam = p.beam;
      spec.beam.alpha = static_cast<float>(p.alpha);
      spec.beam.beta = static_cast<float>(p.beta);
      spec.lm = p.lm ? lm.get() : nullptr;
      ErrorCounts w, c;
      for (const UttLogProbs& u : cache) {
        const UttResult r = decode_utterance(u, am.alphabet(), spec, &ws);
        w += r.words;
        c += r.chars;
      }
      int64_t counts[10] = {w.sub, w.del, w.ins, w.correct, w.ref,
                            c.sub, c.del, c.ins, c.correct, c.ref};
      comm.allreduce(counts, 10);
      const double decode_s = comm.allreduce_value(decode_timer.seconds(), MPI_MAX);
      w = {counts[0], counts[1], counts[2], counts[3], counts[4]};
      c = {counts[5], counts[6], counts[7], counts[8], counts[9]};
      HistoryRow r;
      r.time = utc_now_iso8601();
      r.git_commit = git;
      r.host = host;
      r.checkpoint = abs_path(ckpt);
      r.step = step;
      r.epoch = epoch;
      r.dataset = abs_path(o.data);
      r.utterances = plan.utterances;
      r.decoder = p.decoder;
      if (p.decoder == "beam") r.beam = p.beam;
      if (p.lm) {
        r.alpha = p.alpha;
        r.beta = p.beta;
        r.lm = abs_path(o.lm);
      }
      r.wer = w.rate();
      r.cer = c.rate();
      r.sub = w.sub;
      r.del = w.del;
      r.ins = w.ins;
      r.words = w.ref;
      r.chars = c.ref;
      r.rtf = plan.audio_seconds > 0 ? (forward_s + decode_s) / plan.audio_seconds : 0.0;
      r.ranks = comm.size();
      if (comm.root())
        log()->info("{} (step {}), {}: WER {:.2f}% CER {:.2f}%", ckpt,
                    step ? std::to_string(*step) : "-",
                    p.decoder == "greedy" ? std::string("greedy")
                    : p.lm ? fmt::format("beam {} alpha {} beta {}", p.beam, p.alpha, p.beta)
                           : fmt::format("beam {} without LM", p.beam),
                    100 * r.wer, 100 * r.cer);
      rows.push_back(std::move(r));
    }
    if (history) {
      const std::vector<int64_t> ids = history->append(rows);
      for (size_t i = 0; i < rows.size(); ++i) rows[i].id = ids[i];
    }
    all.insert(all.end(), rows.begin(), rows.end());
  }
  return all;
}

}  // namespace ds2::eval
