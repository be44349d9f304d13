// Stage 4 of ds2 prep: making one shard (see prep_shards.h).
#include "pipeline/prep_shards.h"

#include <algorithm>
#include <csignal>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/ordered_map.h"
#include "core/timer.h"
#include "pipeline/prep_plan.h"

namespace ds2::pipeline {

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

ShardSums::ShardSums(int n_shards, int n_bins)
    : nb_(static_cast<size_t>(n_bins)),
      sums_(static_cast<size_t>(n_shards) * 2 * nb_, 0.0),
      frames_(static_cast<size_t>(n_shards), 0) {}

void ShardSums::take(int s, const ShardReader& r) {
  std::vector<double> s1, s2;
  r.stats(&s1, &s2, &frames_[static_cast<size_t>(s)]);
  std::copy(s1.begin(), s1.end(), sums_.begin() + s * 2 * nb_);
  std::copy(s2.begin(), s2.end(), sums_.begin() + s * 2 * nb_ + nb_);
}

void ShardSums::reduce(const Comm& comm, std::vector<double>* sum, std::vector<double>* sumsq,
                       int64_t* frames) {
  comm.allreduce(sums_.data(), sums_.size());
  comm.allreduce(frames_.data(), frames_.size());
  sum->assign(nb_, 0.0);
  sumsq->assign(nb_, 0.0);
  *frames = 0;
  for (size_t s = 0; s < frames_.size(); ++s) {
    for (size_t b = 0; b < nb_; ++b) {
      (*sum)[b] += sums_[s * 2 * nb_ + b];
      (*sumsq)[b] += sums_[s * 2 * nb_ + nb_ + b];
    }
    *frames += frames_[s];
  }
}

ShardMaker::ShardMaker(const Comm& comm, const PrepOptions& o, const FeatureMeta& meta,
                       const Alphabet& alphabet, const AugmentContext& aug,
                       std::map<uint64_t, std::string>* talkers, int per_round, Progress* progress,
                       ShardSums* sums, PrepResult* res)
    : comm_(comm),
      team_comm_(comm.dup()),
      o_(o),
      meta_(meta),
      alphabet_(alphabet),
      aug_(aug),
      talkers_(talkers),
      per_round_(per_round),
      progress_(progress),
      sums_(sums),
      res_(res),
      pool_(o.features) {}

void ShardMaker::make(const ShardWork& w) {
  if (w.shard < 0) return;
  const int s = w.shard;
  const std::string path = o_.out + "/" + shard_name(s);
  const std::string rej_path = o_.out + "/" + rejects_name(s);
  // The leader decides whether the shard is reused and tells its team.
  bool reuse = w.member == 0 && leader_reuses(w, path, rej_path);
  if (w.member == 0)
    for (int m = 1; m < w.team; ++m)
      team_comm_.send_string(reuse ? "reuse" : "make", member_rank(s, m));
  else
    reuse = team_comm_.recv_string(member_rank(s, 0)) == "reuse";
  if (reuse) {
    if (w.member == 0) progress_->add(w.duration);
    return;
  }
  talkers_->clear();
  talkers_->insert(w.babble.begin(), w.babble.end());
  std::vector<Accepted> utts;
  for (const ManifestEntry& e : w.entries) utts.push_back({&e, e.transcript});
  if (w.member > 0)
    send_share(w, utts);
  else
    write_shard(w, utts, path, rej_path);
}

bool ShardMaker::leader_reuses(const ShardWork& w, const std::string& path,
                               const std::string& rej_path) {
  if (o_.force || !file_exists(path) || !file_exists(rej_path)) return false;
  auto log = logger("prep");
  try {
    ShardReader r(path);
    if (r.plan_digest() == w.digest) {
      r.meta().check_same(meta_, path);
      sums_->take(w.shard, r);
      ++res_->shards_reused;
      log->info("{}: finished by an earlier run with the same plan; reused", path);
      return true;
    }
    log->warn("{}: made from a different plan; remaking it", path);
  } catch (const Error& e) {
    log->warn("{}: unreadable ({}); remaking it", path, e.what());
  }
  return false;
}

// A member: prepare its share (k = member, member + team, ...) and send it in that order.
void ShardMaker::send_share(const ShardWork& w, const std::vector<Accepted>& utts) {
  const size_t team = static_cast<size_t>(w.team);
  const size_t member = static_cast<size_t>(w.member);
  const size_t mine = (utts.size() + team - 1 - member) / team;
  ordered_map<Prepared>(
      mine, o_.threads, 4 * std::max(o_.threads, 1),
      [&](size_t j) {
        const size_t k = member + j * team;
        return prepare(utts[k], static_cast<size_t>(w.index[k]), o_, meta_, alphabet_, aug_, pool_);
      },
      [&](size_t j, Prepared pr) {
        team_comm_.send_string(pack(pr), member_rank(w.shard, 0));
        progress_->add(w.seconds[member + j * team]);
      });
}

// The leader: workers decode and featurize ahead (the team's members their share); this thread
// writes, in plan order, receiving the members' utterances as their turn comes.
void ShardMaker::write_shard(const ShardWork& w, const std::vector<Accepted>& utts,
                             const std::string& path, const std::string& rej_path) {
  auto log = logger("prep");
  const size_t team = static_cast<size_t>(w.team);
  ShardWriter writer(path, meta_, w.digest);
  std::string rej_text = "line\tpath\treason\n";
  ordered_map<Prepared>(
      utts.size(), o_.threads, 4 * std::max(o_.threads, 1),
      [&](size_t k) {
        if (k % team != 0) return Prepared{};  // a member's: received below
        return prepare(utts[k], static_cast<size_t>(w.index[k]), o_, meta_, alphabet_, aug_, pool_);
      },
      [&](size_t k, Prepared pr) {
        const Accepted& a = utts[k];
        const ManifestEntry& e = *a.entry;
        if (k % team != 0) {
          const int from = member_rank(w.shard, static_cast<int>(k % team));
          pr = unpack_prepared(team_comm_.recv_string(from), fmt::format("prep: rank {}", from));
        }
        Timer t_item;
        if (pr.why.empty()) {
          for (const auto& c : pr.copies) {
            ShardUtt u{c.utt_id, a.text, e.source, c.augment_json, c.seconds};
            writer.add(u, c.feats.data(), c.frames, pr.labels);
          }
          ++res_->utterances_written;
          if (o_.fault_kill_after > 0 && comm_.rank() == o_.fault_rank &&
              res_->utterances_written >= o_.fault_kill_after)
            std::raise(SIGKILL);
        } else {
          log->warn("reject {}: {}", e.source, pr.why);
          rej_text += reject_line({e.line, e.path, pr.why});
        }
        t_write_ += t_item.seconds();
        if (k % team == 0) progress_->add(w.seconds[k]);
      });
  write_file_atomic(rej_path, rej_text);  // before the shard: a whole shard implies its rejects
  writer.commit();
  sums_->take(w.shard, ShardReader(path));
  ++res_->shards_made;
}

}  // namespace ds2::pipeline
