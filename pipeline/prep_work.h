// What one rank of `ds2 prep` needs to make one shard, and its wire form.
//
// Rank 0 alone reads the manifest and plans (pipeline/prep.h); the other ranks never hold the
// corpus. Before each round of shards rank 0 scatters one ShardWork to each rank: the shard's
// plan digest and, per utterance, only what decoding and writing need (manifest line, path,
// utterance id, normalized text, source for messages, the planned position that seeds
// augmentation) plus the paths of the babble talkers its copies draw. A rank's memory is thus one
// shard's utterances (thousands, whatever the corpus size), not the manifest.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/manifest.h"
#include "pipeline/prep_item.h"

namespace ds2::pipeline {

struct ShardWork {
  int shard = -1;  // -1: no shard for this rank in this round
  std::string digest;
  double duration = 0;                 // planned seconds of all copies (progress)
  std::vector<ManifestEntry> entries;  // transcript holds the NORMALIZED text
  std::vector<int32_t> index;          // each entry's position in the planned list
  std::vector<double> seconds;         // each entry's planned seconds of all copies
  std::vector<std::pair<uint64_t, std::string>> babble;  // planned position -> audio path, sorted
  // More ranks than shards: ranks q = shard + m * n_shards (m = 0..team-1) make the shard
  // together; member m prepares utterances k with k % team == m, member 0 (the leader) writes.
  int32_t team = 1, member = 0;
};

// Length-prefixed little-endian bytes; unpack checks every length against the buffer and
// throws CommError naming `origin` on a short or trailing buffer.
std::string pack(const ShardWork& w);
ShardWork unpack_shard_work(const std::string& bytes, const std::string& origin);

// One prepared utterance (pipeline/prep_item.h) as a team member sends it to its leader.
std::string pack(const Prepared& p);
Prepared unpack_prepared(const std::string& bytes, const std::string& origin);

// Measuring durations over the ranks: rank 0 sends (planned position, path) pairs, each rank
// answers (position, seconds or -1, error text).
struct ProbeJob {
  int64_t pos = 0;
  std::string path;
};
struct ProbeResult {
  int64_t pos = 0;
  double seconds = -1;
  std::string error;  // empty when seconds >= 0
};
std::string pack(const std::vector<ProbeJob>& v);
std::vector<ProbeJob> unpack_probe_jobs(const std::string& bytes, const std::string& origin);
std::string pack(const std::vector<ProbeResult>& v);
std::vector<ProbeResult> unpack_probe_results(const std::string& bytes, const std::string& origin);

}  // namespace ds2::pipeline
