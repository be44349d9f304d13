// Stage 4 of `ds2 prep` (prep.h): one rank's part in making a shard from the ShardWork rank 0
// scattered to it, and the per-shard normalization sums that stage 5 reduces.
//
// A shard whose file exists with the same plan digest (and its rejects file) is reused: the
// leader (member 0 of the shard's team, prep_work.h) decides and tells the team. Otherwise the
// members prepare their share of the utterances (k % team == member) on worker threads and send
// them in order to the leader; the leader prepares its own share, writes every utterance in plan
// order to SHARD.tmp, commits shard-XXXXX.rejects.tsv and then the shard (a whole shard implies
// its rejects), and takes the shard's sums from the committed file.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/mpi.h"
#include "core/progress.h"
#include "pipeline/manifest.h"
#include "pipeline/prep.h"
#include "pipeline/prep_item.h"
#include "pipeline/prep_work.h"
#include "pipeline/shard.h"

namespace ds2::pipeline {

class Alphabet;

// "shard-00003.rejects.tsv" for shard 3.
std::string rejects_name(int shard);
// One rejects.tsv row "line<TAB>path<TAB>reason\n" (tabs and newlines in the fields -> spaces).
std::string reject_line(const Reject& r);

// Per-shard float64 sums of the features: [shard][sum | sumsq][bin], plus frames per shard. Every
// slot is filled by exactly one rank (others hold 0, and x + 0 == x exactly), so the all-reduce
// is exact and the final sum over shards runs in shard order: the statistics are bit-identical
// for any rank count.
class ShardSums {
 public:
  ShardSums(int n_shards, int n_bins);
  // Shard s's sums, read from its committed file.
  void take(int s, const ShardReader& r);
  // Collective: reduces over ranks and sums the shards in order into sum/sumsq [n_bins] and the
  // frame count.
  void reduce(const Comm& comm, std::vector<double>* sum, std::vector<double>* sumsq,
              int64_t* frames);

 private:
  size_t nb_;
  std::vector<double> sums_;
  std::vector<int64_t> frames_;
};

class ShardMaker {
 public:
  // Collective over `comm` (duplicates it for the teams' point-to-point traffic). `talkers` is
  // the babble source load_augment() reads (filled per shard from ShardWork::babble); `per_round`
  // = min(shards, ranks), so member m of shard s is rank s + m * per_round. The pointers must
  // outlive the maker.
  ShardMaker(const Comm& comm, const PrepOptions& o, const FeatureMeta& meta,
             const Alphabet& alphabet, const AugmentContext& aug,
             std::map<uint64_t, std::string>* talkers, int per_round, Progress* progress,
             ShardSums* sums, PrepResult* res);

  // This rank's part of shard w.shard (nothing when w.shard < 0). Counts shards made / reused and
  // utterances written in the PrepResult (this rank's own; the caller reduces).
  void make(const ShardWork& w);

  // Seconds this rank's writer thread spent writing.
  double write_seconds() const { return t_write_; }

 private:
  bool leader_reuses(const ShardWork& w, const std::string& path, const std::string& rej_path);
  void send_share(const ShardWork& w, const std::vector<Accepted>& utts);
  void write_shard(const ShardWork& w, const std::vector<Accepted>& utts, const std::string& path,
                   const std::string& rej_path);
  int member_rank(int shard, int m) const { return shard + m * per_round_; }

  const Comm& comm_;
  const Comm team_comm_;
  const PrepOptions& o_;
  const FeatureMeta& meta_;
  const Alphabet& alphabet_;
  const AugmentContext& aug_;
  std::map<uint64_t, std::string>* talkers_;
  const int per_round_;
  Progress* progress_;
  ShardSums* sums_;
  PrepResult* res_;
  FeaturizerPool pool_;
  double t_write_ = 0;
};

}  // namespace ds2::pipeline
