#include "pipeline/prep.h"

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>

#include "augment/summary.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/ordered_map.h"
#include "core/progress.h"
#include "core/timer.h"
#include "ds2/config.h"
#include "ds2/paths.h"
#include "pipeline/alphabet.h"
#include "pipeline/index.h"
#include "pipeline/manifest.h"
#include "pipeline/prep_item.h"
#include "pipeline/prep_plan.h"
#include "pipeline/shard.h"

namespace ds2::pipeline {
namespace fs = std::filesystem;

void PrepOptions::add_to(po::options_description& d) {
  d.add_options()
      ("manifest", po::value(&manifest)->required(),
       "corpus: .tsv (path, duration, text), .jsonl (NeMo), .csv (DeepSpeech) or a LibriSpeech tree")
      ("format", po::value(&format)->default_value(format), "manifest format: auto|tsv|jsonl|csv|librispeech")
      ("out", po::value(&out)->required(), "output folder for shards, index.h5, rejects.tsv")
      ("alphabet", po::value(&alphabet)->default_value(alphabet), "alphabet file")
      ("shards", po::value(&shards)->default_value(shards),
       "number of shards (independent of ranks); 0: from --shard-mb")
      ("shard-mb", po::value(&shard_mb)->default_value(shard_mb),
       "with --shards 0: target MiB of features per shard (estimated from the durations)")
      ("max-duration", po::value(&max_duration)->default_value(max_duration),
       "reject utterances longer than this many seconds")
      ("resume", po::bool_switch(&resume), "reuse finished shards (the default; stated for scripts)")
      ("force", po::bool_switch(&force), "remake every shard, even finished ones")
      ("threads", po::value(&threads)->default_value(threads),
       "worker threads per rank that decode and featurize ahead of the shard writer (0: none)")
      ("raw-rate", po::value(&raw.sample_rate)->default_value(raw.sample_rate), "sample rate of .raw/.pcm files")
      ("raw-channels", po::value(&raw.channels)->default_value(raw.channels), "channels of .raw/.pcm files")
      ("raw-bits", po::value(&raw.bits)->default_value(raw.bits), "bits per sample of .raw/.pcm files")
      ("raw-encoding", po::value(&raw.encoding)->default_value(raw.encoding),
       "encoding of .raw/.pcm files: signed-integer|unsigned-integer|floating-point|a-law|u-law")
      ("fault-kill-after", po::value(&fault_kill_after)->default_value(0),
       "testing: SIGKILL this process after writing N utterances (on --fault-rank)")
      ("fault-rank", po::value(&fault_rank)->default_value(0), "testing: the rank --fault-kill-after hits");
  features.add_to(d);
  augment.add_to(d);
}

std::string resolve_share_path(const std::string& path) {
  if (file_exists(path) || fs::path(path).is_absolute()) return path;
  std::string alt = std::string(DS2_SOURCE_DIR) + "/" + path;
  return file_exists(alt) ? alt : path;
}

namespace {


std::string rejects_name(int shard) {
  std::string s = shard_name(shard);
  return s.substr(0, s.size() - 3) + ".rejects.tsv";
}

std::string reject_line(const Reject& r) {
  auto clean = [](std::string s) {
    std::replace(s.begin(), s.end(), '\t', ' ');
    std::replace(s.begin(), s.end(), '\n', ' ');
    return s;
  };
  return fmt::format("{}\t{}\t{}\n", r.line, clean(r.path), clean(r.reason));
}

std::vector<Reject> parse_rejects(const std::string& text, const std::string& origin) {
  std::vector<Reject> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line.rfind("line\t", 0) == 0) continue;
    size_t a = line.find('\t'), b = line.find('\t', a + 1);
    DS2_REQUIRE(a != std::string::npos && b != std::string::npos, FormatError,
                "{}: malformed line '{}'", origin, line);
    out.push_back({std::stoll(line.substr(0, a)), line.substr(a + 1, b - a - 1), line.substr(b + 1)});
  }
  return out;
}

// Stage 2: durations the manifest leaves empty, measured from headers, split over ranks.
void measure_durations(const Comm& comm, std::vector<Accepted>& acc, const RawFormat& raw,
                       std::vector<double>* dur, std::vector<std::string>* err) {
  dur->assign(acc.size(), -1);
  err->assign(acc.size(), "");
  std::string mine;
  for (size_t i = 0; i < acc.size(); ++i) {
    if (acc[i].entry->duration >= 0) {
      (*dur)[i] = acc[i].entry->duration;
      continue;
    }
    if (static_cast<int>(i % comm.size()) != comm.rank()) continue;
    try {
      mine += fmt::format("{}\t{:.17g}\t\n", i, probe_audio(acc[i].entry->path, &raw).duration_s);
    } catch (const Error& e) {
      std::string m = e.what();
      std::replace(m.begin(), m.end(), '\n', ' ');
      mine += fmt::format("{}\t-1\t{}\n", i, m);
    }
  }
  for (const auto& part : comm.allgather_strings(mine)) {
    std::istringstream in(part);
    std::string line;
    while (std::getline(in, line)) {
      size_t a = line.find('\t'), b = line.find('\t', a + 1);
      size_t i = std::stoull(line.substr(0, a));
      (*dur)[i] = std::stod(line.substr(a + 1, b - a - 1));
      (*err)[i] = line.substr(b + 1);
    }
  }
}

// Temporary files left by a killed run ("shard-00003.h5.tmp.<pid>") for this rank's shards.
void remove_stale_temps(const std::string& out, const Comm& comm) {
  for (const auto& de : fs::directory_iterator(out)) {
    std::string name = de.path().filename().string();
    size_t t = name.find(".tmp.");
    if (name.rfind("shard-", 0) != 0 || t == std::string::npos) continue;
    int shard = std::atoi(name.c_str() + 6);
    if (shard % comm.size() != comm.rank()) continue;
    logger("prep")->info("{}: removing the temporary file of an interrupted run", de.path().string());
    fs::remove(de.path());
  }
}

}  // namespace

PrepResult run_prep(const Comm& comm, const PrepOptions& o, const std::string& command) {
  auto log = logger("prep");
  Timer wall;
  make_dirs(o.out);
  const Alphabet alphabet = Alphabet::load(resolve_share_path(o.alphabet));
  FeatureMeta meta;
  meta.sample_rate = o.features.sample_rate;
  meta.window_ms = o.features.window_ms;
  meta.hop_ms = o.features.hop_ms;
  meta.n_bins = o.features.n_bins();
  meta.feature = o.features.feature;
  meta.alphabet = alphabet.to_string();
  meta.created_by = fmt::format("ds2 {} ({})", DS2_VERSION, DS2_GIT_DESCRIBE);

  // Stage 1: manifest and transcripts (identical on every rank).
  const Manifest m = read_manifest(o.manifest, o.format);
  std::vector<Reject> rejects = m.rejects;
  std::vector<Accepted> acc;
  for (const auto& e : m.entries) {
    std::string text, why;
    if (!alphabet.normalize(e.transcript, &text, &why))
      rejects.push_back({e.line, e.path, fmt::format("{}: field 'transcript': {}", e.source, why)});
    else if (text.empty())
      rejects.push_back({e.line, e.path, fmt::format("{}: field 'transcript': empty", e.source)});
    else
      acc.push_back({&e, text});
  }
  DS2_LOG_ROOT("prep", info, "{}: {} rows ({}; utterance ids: {}), {} with usable transcripts",
               o.manifest, m.rows, m.format, m.id_rule, acc.size());

  // Stage 2: durations.
  std::vector<double> dur;
  std::vector<std::string> err;
  measure_durations(comm, acc, o.raw, &dur, &err);
  std::vector<Accepted> planned;
  std::vector<double> planned_dur;
  for (size_t i = 0; i < acc.size(); ++i) {
    const auto& e = *acc[i].entry;
    if (!err[i].empty()) {
      rejects.push_back({e.line, e.path, err[i]});
    } else if (dur[i] > o.max_duration) {
      rejects.push_back({e.line, e.path, fmt::format("too long: {:.2f} s > --max-duration {}", dur[i],
                                                     o.max_duration)});
    } else {
      planned_dur.push_back(dur[i]);
      planned.push_back(acc[i]);
    }
  }
  AugmentContext aug = load_augment(o, planned, meta.sample_rate);
  std::vector<PrepItem> items;
  for (size_t i = 0; i < planned.size(); ++i)
    items.push_back({static_cast<int32_t>(i),
                     planned_seconds(aug, planned[i].entry->utt_id, i, planned_dur[i])});

  // Stage 3: plan. The shard count depends on the manifest and the options only (never on the
  // rank count), so the same command makes the same shards on any number of ranks.
  DS2_REQUIRE(o.shards >= 0, ConfigError, "option 'shards': {} (must be >= 0)", o.shards);
  DS2_REQUIRE(o.shard_mb > 0, ConfigError, "option 'shard-mb': {} (must be > 0)", o.shard_mb);
  int n_shards = o.shards;
  if (n_shards == 0) {
    double seconds = 0;
    for (const auto& it : items) seconds += it.duration;
    const double bytes = seconds * (1000.0 / meta.hop_ms) * meta.n_bins * sizeof(float);
    n_shards = static_cast<int>(std::max(1.0, std::ceil(bytes / (o.shard_mb * 1048576.0))));
    if (comm.root())
      logger("prep")->info("{} shards of ~{:.0f} MiB ({:.1f} GB of features estimated; --shard-mb {})",
                  n_shards, bytes / n_shards / 1048576.0, bytes / 1e9, o.shard_mb);
  }
  if (comm.root() && n_shards < comm.size())
    logger("prep")->warn("{} shards for {} ranks: ranks {}..{} have no shard to make (--shards {} or a "
                "smaller --shard-mb uses them all)",
                n_shards, comm.size(), n_shards, comm.size() - 1, comm.size());
  std::vector<ShardPlan> plans = assign_shards(items, n_shards);
  uint64_t base = fnv1a64(meta.alphabet + fmt::format("|{}|{}|{}|{}|{}|{}", meta.sample_rate,
                                                      meta.window_ms, meta.hop_ms, meta.feature,
                                                      o.max_duration, kShardVersion));
  base = fnv1a64(aug.policy.copies > 0 ? aug.policy.to_string() : std::string("clean"), base);
  for (const auto& nf : aug.noise.files) base = fnv1a64(nf.name + '\x1f', base);
  double total_audio = 0;
  for (auto& p : plans) {
    uint64_t h = base;
    for (const auto& it : p.items) {
      const auto& a = planned[it.entry];
      h = fnv1a64(a.entry->utt_id + '\x1f' + a.entry->path + '\x1f' + a.text + '\x1e', h);
    }
    p.digest = hex64(h);
    total_audio += p.duration;
  }

  // Stage 4: this rank's shards.
  Featurizer featurizer(o.features);
  Progress progress(comm, "prep", "audio", total_audio, "s", 10.0);
  PrepResult res;
  // Per-shard float64 sums: [shard][sum | sumsq][bin], plus frames per shard. Every slot is
  // filled by exactly one rank (others hold 0, and x + 0 == x exactly), so the all-reduce below is
  // exact and the final sum over shards runs in shard order: the statistics are bit-identical
  // for any rank count.
  const size_t nb = static_cast<size_t>(meta.n_bins);
  std::vector<double> shard_sums(static_cast<size_t>(n_shards) * 2 * nb, 0.0);
  std::vector<int64_t> shard_frames(n_shards, 0);
  auto take_stats = [&](int s, const ShardReader& r) {
    std::vector<double> s1, s2;
    r.stats(&s1, &s2, &shard_frames[s]);
    std::copy(s1.begin(), s1.end(), shard_sums.begin() + s * 2 * nb);
    std::copy(s2.begin(), s2.end(), shard_sums.begin() + s * 2 * nb + nb);
  };
  double t_write = 0;  // seconds, this rank's writer thread
  FeaturizerPool pool(o.features);
  remove_stale_temps(o.out, comm);
  for (int s = comm.rank(); s < n_shards; s += comm.size()) {
    const ShardPlan& plan = plans[s];
    const std::string path = o.out + "/" + shard_name(s);
    const std::string rej_path = o.out + "/" + rejects_name(s);
    if (!o.force && file_exists(path) && file_exists(rej_path)) {
      try {
        ShardReader r(path);
        if (r.plan_digest() == plan.digest) {
          r.meta().check_same(meta, path);
          take_stats(s, r);
          ++res.shards_reused;
          progress.add(plan.duration);
          log->info("{}: finished by an earlier run with the same plan; reused", path);
          continue;
        }
        log->warn("{}: made from a different plan; remaking it", path);
      } catch (const Error& e) {
        log->warn("{}: unreadable ({}); remaking it", path, e.what());
      }
    }
    ShardWriter w(path, meta, plan.digest);
    std::string rej_text = "line\tpath\treason\n";
    // Workers decode and featurize ahead; this thread writes, in plan order.
    ordered_map<Prepared>(
        plan.items.size(), o.threads, 4 * std::max(o.threads, 1),
        [&](size_t k) {
          const int32_t i = plan.items[k].entry;
          return prepare(planned[i], static_cast<size_t>(i), o, meta, alphabet, aug, pool);
        },
        [&](size_t k, Prepared p) {
          const Accepted& a = planned[plan.items[k].entry];
          const ManifestEntry& e = *a.entry;
          Timer t_item;
          if (p.why.empty()) {
            for (const auto& c : p.copies) {
              ShardUtt u{c.utt_id, a.text, e.source, c.augment_json, c.seconds};
              w.add(u, c.feats.data(), c.frames, p.labels);
            }
            ++res.utterances_written;
            if (o.fault_kill_after > 0 && comm.rank() == o.fault_rank &&
                res.utterances_written >= o.fault_kill_after)
              std::raise(SIGKILL);
          } else {
            log->warn("reject {}: {}", e.source, p.why);
            rej_text += reject_line({e.line, e.path, p.why});
          }
          t_write += t_item.seconds();
          progress.add(plan.items[k].duration);
        });
    write_file_atomic(rej_path, rej_text);  // before the shard: a whole shard implies its rejects
    w.commit();
    take_stats(s, ShardReader(path));
    ++res.shards_made;
  }
  log->debug("writer thread busy {:.2f} s; {} worker thread(s) decode and featurize", t_write,
             o.threads);
  progress.finish();

  // Stage 5: stats in float64 over all ranks, then rank 0 writes the index.
  comm.allreduce(shard_sums.data(), shard_sums.size());
  comm.allreduce(shard_frames.data(), shard_frames.size());
  std::vector<double> sum(nb, 0.0), sumsq(nb, 0.0);
  int64_t frames_total = 0;
  for (int s = 0; s < n_shards; ++s) {
    for (size_t b = 0; b < nb; ++b) {
      sum[b] += shard_sums[s * 2 * nb + b];
      sumsq[b] += shard_sums[s * 2 * nb + nb + b];
    }
    frames_total += shard_frames[s];
  }
  res.shards_made = comm.allreduce_value<int32_t>(res.shards_made);
  res.shards_reused = comm.allreduce_value<int32_t>(res.shards_reused);
  res.rows = m.rows;
  if (comm.root()) {
    DatasetIndex idx;
    idx.meta = meta;
    idx.command = command;
    idx.n_rows = m.rows;
    idx.stats_frames = frames_total;
    idx.augment = aug.policy.copies > 0 ? aug.policy.to_string() : "";
    stats_from_sums(sum, sumsq, frames_total, &idx.mean, &idx.std);
    std::map<int64_t, Reject> by_line;  // one reason per input row, first wins
    augment::AugmentSummary summary;
    for (const auto& r : rejects) by_line.emplace(r.line, r);
    for (int s = 0; s < n_shards; ++s) {
      idx.shards.push_back(shard_name(s));
      std::string rp = o.out + "/" + rejects_name(s);
      for (const auto& r : parse_rejects(read_file(rp), rp)) by_line.emplace(r.line, r);
      ShardReader r(o.out + "/" + shard_name(s));
      auto ids = r.utt_ids();
      auto durs = r.durations();
      summary.add(r.augment());
      for (int64_t row = 0; row < r.size(); ++row) {
        idx.utts.push_back({s, static_cast<int32_t>(row), static_cast<int32_t>(r.frames(row)),
                            static_cast<int32_t>(r.label_length(row)), durs[row]});
        idx.utt_ids.push_back(std::move(ids[row]));
      }
    }
    idx.augment_summary = summary.json();
    std::string rej = "line\tpath\treason\n";
    for (const auto& [line, r] : by_line) rej += reject_line(r);
    write_file_atomic(o.out + "/rejects.tsv", rej);
    idx.n_rejected = static_cast<int64_t>(by_line.size());
    // Every accepted input row has exactly 1 + copies entries (clean first).
    const int64_t per_row = 1 + aug.policy.copies;
    DS2_REQUIRE(static_cast<int64_t>(idx.utts.size()) % per_row == 0, FormatError,
                "{}: {} shard entries is not a multiple of {} copies", o.out, idx.utts.size(),
                per_row);
    res.accepted = static_cast<int64_t>(idx.utts.size()) / per_row;
    res.rejected = idx.n_rejected;
    res.hours = idx.total_duration() / 3600.0;
    DS2_REQUIRE(res.accepted + res.rejected == m.rows, FormatError,
                "{}: accounting error: {} accepted + {} rejected != {} rows", o.manifest,
                res.accepted, res.rejected, m.rows);
    idx.write(o.out + "/index.h5");
    log->info("done: {} of {} utterances accepted, {} rejected (see {}/rejects.tsv); {} shard "
              "entries (clean + augmented copies); {} shards ({} made, {} reused), {:.2f} h of audio, {} frames; "
              "{:.1f} s wall, {:.0f}x real time",
              res.accepted, m.rows, res.rejected, o.out, idx.utts.size(), n_shards, res.shards_made,
              res.shards_reused, res.hours, frames_total, wall.seconds(),
              res.hours * 3600.0 / std::max(wall.seconds(), 1e-9));
  }
  comm.barrier();
  return res;
}

}  // namespace ds2::pipeline
