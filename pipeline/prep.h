// The `ds2 prep` job: manifest -> HDF5 shards + index.h5 + rejects.tsv, over MPI ranks.
//
// Stages (rank 0 plans; the other ranks hold only the shard they are making, so their memory
// does not grow with the corpus):
//   1. rank 0 reads the manifest and normalizes transcripts (rejects: malformed rows,
//      duplicates, text);
//   2. durations the manifest leaves empty are measured from headers by all ranks (rank 0
//      scatters the paths in bounded rounds and gathers the answers); unreadable audio and
//      utterances longer than --max-duration are rejected;
//   3. rank 0 plans S shards balanced by duration (prep_plan.h), independent of the rank count;
//      S is --shards, or (by default) the estimated feature bytes over --shard-mb (~1 GiB
//      shards: a corpus of 2.8 TB gets ~2,700), so shard size does not grow with the corpus;
//   4. in rounds, rank 0 scatters to rank r the work of shard round*N + r (prep_work.h: its
//      utterances and babble talkers only); the rank decodes, augments, featurizes and writes it;
//      a shard whose file exists with the same plan digest is reused (resume); decode-time
//      rejects go to shard-XXXXX.rejects.tsv, committed before the shard itself;
//   5. normalization sums reduced across ranks in float64; rank 0 writes index.h5, rejects.tsv
//      and prep.ini, and checks accepted + rejected = input rows.
// prep.cc runs the stages, one function each (read_corpus, plan_shards, make_shards,
// write_index); making one shard (stage 4 on a rank: reuse, team members, the writer) is
// prep_shards.h.
#pragma once

#include <string>

#include "augment/policy.h"
#include "core/mpi.h"
#include "core/options.h"
#include "pipeline/audio.h"
#include "pipeline/featurizer.h"

namespace ds2::pipeline {

struct PrepOptions {
  std::string manifest;
  std::string format = "auto";
  std::string out;
  std::string alphabet = "share/alphabets/en.txt";
  int shards = 0;              // 0: as many as --shard-mb asks for
  double shard_mb = 1024;      // target shard size in MiB of features, when --shards is 0
  double max_duration = 30.0;  // seconds
  bool resume = false;         // reusing finished shards is the default; this only says so
  int threads = 1;             // decode/featurize workers per rank besides the writer thread
  bool force = false;          // remake every shard
  RawFormat raw;
  // Fault injection for the resume tests: rank `fault_rank` sends itself SIGKILL after writing
  // `fault_kill_after` utterances (0 = off), exactly as `kill -9` would.
  int fault_kill_after = 0;
  int fault_rank = 0;
  FeatureOptions features;
  augment::AugmentOptions augment;
  void add_to(po::options_description& d);
};

struct PrepResult {
  int64_t rows = 0, accepted = 0, rejected = 0, utterances_written = 0;
  int shards_made = 0, shards_reused = 0;
  double hours = 0;
};

// Collective over `comm`.
PrepResult run_prep(const Comm& comm, const PrepOptions& o, const std::string& command);

// A path under share/ given relative to the working directory, falling back to the source tree
// this binary was built from.
std::string resolve_share_path(const std::string& path);

}  // namespace ds2::pipeline
