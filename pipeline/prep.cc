// run_prep() (prep.h): the five stages of `ds2 prep`, each a function below -- 1-2 manifest,
// transcripts and durations; 3 the shard plan (rank 0); 4 the shards, one round of ranks at a
// time; 5 index.h5, rejects.tsv and the check accepted + rejected == rows.
#include "pipeline/prep.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>

#include "augment/draw.h"
#include "augment/summary.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/timer.h"
#include "core/version.h"
#include "ds2/config.h"
#include "ds2/paths.h"
#include "pipeline/alphabet.h"
#include "pipeline/index.h"
#include "pipeline/manifest.h"
#include "pipeline/prep_item.h"
#include "pipeline/prep_plan.h"
#include "pipeline/prep_shards.h"
#include "pipeline/prep_work.h"
#include "pipeline/shard.h"

namespace ds2::pipeline {
namespace fs = std::filesystem;

void PrepOptions::add_to(po::options_description& d) {
  d.add_options()("manifest", po::value(&manifest)->required(),
                  "corpus: .tsv (path, duration, text), .jsonl (NeMo), .csv (DeepSpeech) or a "
                  "LibriSpeech tree")("format", po::value(&format)->default_value(format),
                                      "manifest format: auto|tsv|jsonl|csv|librispeech")(
      "out", po::value(&out)->required(), "output folder for shards, index.h5, rejects.tsv")(
      "alphabet", po::value(&alphabet)->default_value(alphabet), "alphabet file")(
      "shards", po::value(&shards)->default_value(shards),
      "number of shards (independent of ranks); 0: from --shard-mb")(
      "shard-mb", po::value(&shard_mb)->default_value(shard_mb),
      "with --shards 0: target MiB of features per shard (estimated from the durations)")(
      "max-duration", po::value(&max_duration)->default_value(max_duration),
      "reject utterances longer than this many seconds")(
      "resume", po::bool_switch(&resume),
      "reuse finished shards (the default; stated for scripts)")(
      "force", po::bool_switch(&force), "remake every shard, even finished ones")(
      "threads", po::value(&threads)->default_value(threads),
      "worker threads per rank that decode and featurize ahead of the shard writer (0: none)")(
      "raw-rate", po::value(&raw.sample_rate)->default_value(raw.sample_rate),
      "sample rate of .raw/.pcm files")(
      "raw-channels", po::value(&raw.channels)->default_value(raw.channels),
      "channels of .raw/.pcm files")("raw-bits", po::value(&raw.bits)->default_value(raw.bits),
                                     "bits per sample of .raw/.pcm files")(
      "raw-encoding", po::value(&raw.encoding)->default_value(raw.encoding),
      "encoding of .raw/.pcm files: signed-integer|unsigned-integer|floating-point|a-law|u-law")(
      "fault-kill-after", po::value(&fault_kill_after)->default_value(0),
      "testing: SIGKILL this process after writing N utterances (on --fault-rank)")(
      "fault-rank", po::value(&fault_rank)->default_value(0),
      "testing: the rank --fault-kill-after hits");
  features.add_to(d);
  augment.add_to(d);
}

std::string resolve_share_path(const std::string& path) {
  if (file_exists(path) || fs::path(path).is_absolute()) return path;
  std::string alt = std::string(DS2_SOURCE_DIR) + "/" + path;
  return file_exists(alt) ? alt : path;
}

namespace {

std::vector<Reject> parse_rejects(const std::string& text, const std::string& origin) {
  std::vector<Reject> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line.rfind("line\t", 0) == 0) continue;
    size_t a = line.find('\t'), b = line.find('\t', a + 1);
    DS2_REQUIRE(a != std::string::npos && b != std::string::npos, FormatError,
                "{}: malformed line '{}'", origin, line);
    out.push_back(
        {std::stoll(line.substr(0, a)), line.substr(a + 1, b - a - 1), line.substr(b + 1)});
  }
  return out;
}

// Stage 2: durations the manifest leaves empty, measured from headers over the ranks. Rank 0
// holds the jobs and scatters them in rounds of kProbeRound per rank, so the other ranks hold one
// round's paths at a time. Every rank calls this; only rank 0's `acc` is read, and only rank 0
// gets `dur` and `err` filled (dur -1 with err set: unreadable).
constexpr size_t kProbeRound = 2048;

void measure_durations(const Comm& comm, const std::vector<const ManifestEntry*>& acc,
                       const RawFormat& raw, std::vector<double>* dur,
                       std::vector<std::string>* err) {
  std::vector<ProbeJob> jobs;
  if (comm.root()) {
    dur->assign(acc.size(), -1);
    err->assign(acc.size(), "");
    for (size_t i = 0; i < acc.size(); ++i) {
      if (acc[i]->duration >= 0)
        (*dur)[i] = acc[i]->duration;
      else
        jobs.push_back({static_cast<int64_t>(i), acc[i]->path});
    }
  }
  int64_t n_jobs = static_cast<int64_t>(jobs.size());
  comm.bcast(&n_jobs, 1);
  const size_t per_round = kProbeRound * static_cast<size_t>(comm.size());
  for (size_t first = 0; first < static_cast<size_t>(n_jobs); first += per_round) {
    std::vector<std::string> parts;
    if (comm.root()) {
      for (int q = 0; q < comm.size(); ++q) {
        std::vector<ProbeJob> mine;
        for (size_t k = first + q; k < std::min(first + per_round, jobs.size());
             k += static_cast<size_t>(comm.size()))
          mine.push_back(jobs[k]);
        parts.push_back(pack(mine));
      }
    }
    std::vector<ProbeResult> out;
    for (const ProbeJob& j : unpack_probe_jobs(comm.scatter_strings(parts), "prep: probe jobs")) {
      try {
        out.push_back({j.pos, probe_audio(j.path, &raw).duration_s, ""});
      } catch (const Error& e) {
        std::string m = e.what();
        std::replace(m.begin(), m.end(), '\n', ' ');
        out.push_back({j.pos, -1, m});
      }
    }
    for (const std::string& part : comm.gather_strings(pack(out)))
      for (const ProbeResult& r : unpack_probe_results(part, "prep: probe results")) {
        (*dur)[static_cast<size_t>(r.pos)] = r.seconds;
        (*err)[static_cast<size_t>(r.pos)] = r.error;
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
    logger("prep")->info("{}: removing the temporary file of an interrupted run",
                         de.path().string());
    fs::remove(de.path());
  }
}

// Rank 0's picture of the job (stages 1-3); the other ranks get only what they make.
struct Planned {
  Manifest m;
  std::vector<Reject> rejects;
  // Accepted with a usable duration, in manifest order; their transcript holds the NORMALIZED
  // text (the manifest's own is not kept).
  std::vector<const ManifestEntry*> utts;
  std::vector<ShardPlan> plans;
};

// Stages 1-2: the manifest, transcripts and durations (collective: ranks measure durations;
// the manifest is read on rank 0 only).
void read_corpus(const Comm& comm, const PrepOptions& o, const Alphabet& alphabet, Planned* p,
                 std::vector<double>* planned_dur) {
  std::vector<const ManifestEntry*> acc;
  if (comm.root()) {
    p->m = read_manifest(o.manifest, o.format);
    p->rejects = std::move(p->m.rejects);
    for (auto& e : p->m.entries) {
      std::string text, why;
      if (!alphabet.normalize(e.transcript, &text, &why))
        p->rejects.push_back(
            {e.line, e.path, fmt::format("{}: field 'transcript': {}", e.source, why)});
      else if (text.empty())
        p->rejects.push_back(
            {e.line, e.path, fmt::format("{}: field 'transcript': empty", e.source)});
      else {
        e.transcript = std::move(text);
        acc.push_back(&e);
      }
    }
    logger("prep")->info("{}: {} rows ({}; utterance ids: {}), {} with usable transcripts",
                         o.manifest, p->m.rows, p->m.format, p->m.id_rule, acc.size());
  }
  std::vector<double> dur;
  std::vector<std::string> err;
  measure_durations(comm, acc, o.raw, &dur, &err);
  for (size_t i = 0; i < acc.size(); ++i) {
    const auto& e = *acc[i];
    if (!err[i].empty()) {
      p->rejects.push_back({e.line, e.path, err[i]});
    } else if (dur[i] > o.max_duration) {
      p->rejects.push_back(
          {e.line, e.path,
           fmt::format("too long: {:.2f} s > --max-duration {}", dur[i], o.max_duration)});
    } else {
      planned_dur->push_back(dur[i]);
      p->utts.push_back(acc[i]);
    }
  }
}

// Stage 3 (rank 0): the shard count, the LPT plan and each shard's plan digest. The count
// depends on the manifest and the options only (never on the rank count), so the same command
// makes the same shards on any number of ranks.
void plan_shards(const Comm& comm, const PrepOptions& o, const FeatureMeta& meta,
                 const AugmentContext& aug, const std::vector<double>& planned_dur, Planned* p) {
  std::vector<PrepItem> items;
  for (size_t i = 0; i < p->utts.size(); ++i)
    items.push_back(
        {static_cast<int32_t>(i), planned_seconds(aug, p->utts[i]->utt_id, i, planned_dur[i])});
  int n_shards = o.shards;
  if (n_shards == 0) {
    double seconds = 0;
    for (const auto& it : items) seconds += it.duration;
    const double bytes = seconds * (1000.0 / meta.hop_ms) * meta.n_bins * sizeof(float);
    n_shards = static_cast<int>(std::max(1.0, std::ceil(bytes / (o.shard_mb * 1048576.0))));
    logger("prep")->info(
        "{} shards of ~{:.0f} MiB ({:.1f} GB of features estimated; --shard-mb {})", n_shards,
        bytes / n_shards / 1048576.0, bytes / 1e9, o.shard_mb);
  }
  if (n_shards < comm.size())
    logger("prep")->info(
        "{} shards for {} ranks: ranks make each shard in teams of {}-{}, the "
        "lowest rank of a team writing it",
        n_shards, comm.size(), comm.size() / n_shards, (comm.size() + n_shards - 1) / n_shards);
  p->plans = assign_shards(items, n_shards);
  uint64_t base = fnv1a64(meta.alphabet + fmt::format("|{}|{}|{}|{}|{}|{}", meta.sample_rate,
                                                      meta.window_ms, meta.hop_ms, meta.feature,
                                                      o.max_duration, kShardVersion));
  base = fnv1a64(aug.policy.copies > 0 ? aug.policy.to_string() : std::string("clean"), base);
  for (const auto& nf : aug.noise.files) base = fnv1a64(nf.name + '\x1f', base);
  for (auto& plan : p->plans) {
    uint64_t h = base;
    for (const auto& it : plan.items) {
      const ManifestEntry& a = *p->utts[it.entry];
      h = fnv1a64(a.utt_id + '\x1f' + a.path + '\x1f' + a.transcript + '\x1e', h);
    }
    plan.digest = hex64(h);
  }
}

// Stage 4 input (rank 0): what the rank that makes shard s needs, and no more.
ShardWork shard_work(const Planned& p, const AugmentContext& aug, int s) {
  const ShardPlan& plan = p.plans[static_cast<size_t>(s)];
  ShardWork w;
  w.shard = s;
  w.digest = plan.digest;
  w.duration = plan.duration;
  std::map<uint64_t, std::string> talkers;
  for (const auto& it : plan.items) {
    const ManifestEntry& a = *p.utts[static_cast<size_t>(it.entry)];
    w.entries.push_back(a);
    w.index.push_back(it.entry);
    w.seconds.push_back(it.duration);
    for (int k = 1; k <= aug.policy.copies; ++k)
      for (size_t b : augment::draw_params(aug.policy, a.utt_id, k, aug.noise.files.size(),
                                           aug.n_corpus, static_cast<size_t>(it.entry))
                          .babble_utts)
        talkers.emplace(b, p.utts[b]->path);
  }
  w.babble.assign(talkers.begin(), talkers.end());
  return w;
}

// The feature settings and alphabet every shard and the index record.
FeatureMeta feature_meta(const PrepOptions& o, const Alphabet& alphabet) {
  FeatureMeta meta;
  meta.sample_rate = o.features.sample_rate;
  meta.window_ms = o.features.window_ms;
  meta.hop_ms = o.features.hop_ms;
  meta.n_bins = o.features.n_bins();
  meta.feature = o.features.feature;
  meta.alphabet = alphabet.to_string();
  meta.created_by = fmt::format("ds2 {} ({})", DS2_VERSION, git_describe());
  return meta;
}

// Stage 4 (collective): this rank's shards, one round of ranks at a time (rank r makes r, r+N,
// ...; with more ranks than shards, a team of ranks per shard, prep_work.h). Rank 0 scatters each
// round's work from its plan `p`.
void make_shards(const Comm& comm, const PrepOptions& o, ShardMaker& maker, const Planned& p,
                 const AugmentContext& aug, int n_shards) {
  const int rounds = n_shards == 0 ? 0 : (n_shards + comm.size() - 1) / comm.size();
  for (int round = 0; round < rounds; ++round) {
    std::vector<std::string> parts;
    for (int q = 0; comm.root() && q < comm.size(); ++q) {
      ShardWork w;
      if (n_shards >= comm.size()) {
        const int s = round * comm.size() + q;
        if (s < n_shards) w = shard_work(p, aug, s);
      } else {
        w = shard_work(p, aug, q % n_shards);
        w.team = (comm.size() - q % n_shards + n_shards - 1) / n_shards;
        w.member = q / n_shards;
      }
      parts.push_back(pack(w));
    }
    maker.make(unpack_shard_work(comm.scatter_strings(parts), "prep: shard work"));
  }
  logger("prep")->debug("writer thread busy {:.2f} s; {} worker thread(s) decode and featurize",
                        maker.write_seconds(), o.threads);
}

// Stage 5 (rank 0): index.h5 from the shards and the statistics, rejects.tsv from stage 1-3's
// `rejects` and the shards' rejects files (one reason per input row, the first), and the
// accounting check accepted + rejected == rows. Fills res's accepted, rejected and hours.
DatasetIndex write_index(const PrepOptions& o, const FeatureMeta& meta, const AugmentContext& aug,
                         const std::string& command, int64_t rows,
                         const std::vector<Reject>& rejects, int n_shards,
                         const std::vector<double>& sum, const std::vector<double>& sumsq,
                         int64_t frames_total, PrepResult* res) {
  DatasetIndex idx;
  idx.meta = meta;
  idx.command = command;
  idx.n_rows = rows;
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
  res->accepted = static_cast<int64_t>(idx.utts.size()) / per_row;
  res->rejected = idx.n_rejected;
  res->hours = idx.total_duration() / 3600.0;
  DS2_REQUIRE(res->accepted + res->rejected == rows, FormatError,
              "{}: accounting error: {} accepted + {} rejected != {} rows", o.manifest,
              res->accepted, res->rejected, rows);
  idx.write(o.out + "/index.h5");
  return idx;
}

}  // namespace

PrepResult run_prep(const Comm& comm, const PrepOptions& o, const std::string& command) {
  Timer wall;
  make_dirs(o.out);
  DS2_REQUIRE(o.shards >= 0, ConfigError, "option 'shards': {} (must be >= 0)", o.shards);
  DS2_REQUIRE(o.shard_mb > 0, ConfigError, "option 'shard-mb': {} (must be > 0)", o.shard_mb);
  const Alphabet alphabet = Alphabet::load(resolve_share_path(o.alphabet));
  const FeatureMeta meta = feature_meta(o, alphabet);

  // Stages 1-3 on rank 0 (durations measured by all); the others learn the sizes.
  Planned p;
  std::vector<double> planned_dur;
  read_corpus(comm, o, alphabet, &p, &planned_dur);
  uint64_t n_corpus = p.utts.size();
  comm.bcast(&n_corpus, 1);
  // Babble talkers come from the shard's own list (ShardWork::babble) on every rank alike.
  auto talkers = std::make_shared<std::map<uint64_t, std::string>>();
  AugmentContext aug = load_augment(
      o, static_cast<size_t>(n_corpus),
      [talkers](size_t i) {
        auto it = talkers->find(i);
        DS2_REQUIRE(it != talkers->end(), Error,
                    "prep: babble talker {} is not in the shard's plan", i);
        return it->second;
      },
      meta.sample_rate);
  if (comm.root()) plan_shards(comm, o, meta, aug, planned_dur, &p);
  int32_t n_shards = static_cast<int32_t>(p.plans.size());
  double total_audio = 0;
  for (const auto& plan : p.plans) total_audio += plan.duration;
  comm.bcast(&n_shards, 1);
  comm.bcast(&total_audio, 1);

  // Stage 4.
  const Featurizer featurizer(o.features);  // validates the feature options (throws ConfigError)
  Progress progress(comm, "prep", "audio", total_audio, "s", 10.0);
  PrepResult res;
  ShardSums sums(n_shards, meta.n_bins);
  remove_stale_temps(o.out, comm);
  {
    ShardMaker maker(comm, o, meta, alphabet, aug, talkers.get(),
                     std::min<int>(n_shards, comm.size()), &progress, &sums, &res);
    make_shards(comm, o, maker, p, aug, n_shards);
  }
  progress.finish();

  // Rank 0's plan is done with: free it before the index is built (its peak is the larger of
  // the two, not their sum).
  const int64_t rows = p.m.rows;
  std::vector<Reject> rejects = std::move(p.rejects);
  p = Planned{};

  // Stage 5: stats in float64 over all ranks, then rank 0 writes the index.
  std::vector<double> sum, sumsq;
  int64_t frames_total = 0;
  sums.reduce(comm, &sum, &sumsq, &frames_total);
  res.shards_made = comm.allreduce_value<int32_t>(res.shards_made);
  res.shards_reused = comm.allreduce_value<int32_t>(res.shards_reused);
  res.rows = rows;
  comm.bcast(&res.rows, 1);
  if (comm.root()) {
    const DatasetIndex idx =
        write_index(o, meta, aug, command, rows, rejects, n_shards, sum, sumsq, frames_total, &res);
    logger("prep")->info(
        "done: {} of {} utterances accepted, {} rejected (see {}/rejects.tsv); {} shard "
        "entries (clean + augmented copies); {} shards ({} made, {} reused), {:.2f} h of audio, "
        "{} frames; {:.1f} s wall, {:.0f}x real time",
        res.accepted, rows, res.rejected, o.out, idx.utts.size(), n_shards, res.shards_made,
        res.shards_reused, res.hours, frames_total, wall.seconds(),
        res.hours * 3600.0 / std::max(wall.seconds(), 1e-9));
  }
  comm.barrier();
  return res;
}

}  // namespace ds2::pipeline
