// Planning for `ds2 prep`: which utterance copies go to which shard.
//
// Items (an accepted utterance with all its copies: clean + K augmented) are assigned to S shards
// by longest-processing-time-first: sorted by estimated duration (longest first, ties by item
// order), each goes to the shard with the least total duration so far (ties: lowest shard
// index). The greedy LPT makespan is within 4/3 of optimal and, with thousands of utterances
// per shard, shards differ by well under one utterance's duration. Within a shard, items keep
// manifest order. The plan depends only on the manifest and the options, never on the rank
// count, and each shard carries a digest of its plan so a rerun reuses a finished shard only
// when it was made from the same plan.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/rng.h"

namespace ds2::pipeline {

struct PrepItem {
  int32_t entry = 0;    // index into the accepted entries
  double duration = 0;  // estimated seconds of all its copies
};

struct ShardPlan {
  std::vector<PrepItem> items;
  double duration = 0;
  std::string digest;  // hex FNV-1a 64 of the plan (filled by the caller)
};

std::vector<ShardPlan> assign_shards(const std::vector<PrepItem>& items, int n_shards);

using ds2::fnv1a64;  // core/rng.h
std::string hex64(uint64_t v);

// "shard-00003.h5"
std::string shard_name(int shard);

}  // namespace ds2::pipeline
