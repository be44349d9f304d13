// The dataset index, DATA/index.h5, written by rank 0 at the end of `ds2 prep`:
//
//   /               attrs: format="ds2-index", version=1, the FeatureMeta fields, command,
//                          n_utts, n_shards, n_rows (manifest rows), n_rejected, total_frames,
//                          total_duration (s), augment (policy text), augment_summary (JSON)
//   /shards         vlen UTF-8 [n_shards]   shard file names, relative to the index's folder
//   /utt_shard      int32   [n_utts]        which shard
//   /utt_row        int64   [n_utts]        row within the shard
//   /utt_frames     int32   [n_utts]
//   /utt_label_length int32 [n_utts]
//   /utt_duration   float32 [n_utts]        seconds, after augmentation
//   /utt_id         vlen UTF-8 [n_utts]
//   /stats_mean /stats_std  float64 [n_bins] per-bin normalization over every training frame
//   attr stats_frames on the root: frames the stats were computed over
//
// Utterances are listed shard by shard, row by row.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/shard.h"

namespace ds2::pipeline {

inline constexpr const char* kIndexFormat = "ds2-index";
inline constexpr int kIndexVersion = 1;

// One utterance of the index: 20 bytes (a corpus of 8 M utterances is 160 MB of these per
// rank); its id is in DatasetIndex::utt_ids, which training does not load.
struct IndexUtt {
  int32_t shard = 0;
  int32_t row = 0;  // rows of one shard: < 2^31 (checked on read)
  int32_t frames = 0;
  int32_t label_length = 0;
  float duration = 0;
};

struct DatasetIndex {
  FeatureMeta meta;
  std::string command;
  std::string augment, augment_summary = "{}";
  int64_t n_rows = 0, n_rejected = 0;
  std::vector<std::string> shards;
  std::vector<IndexUtt> utts;
  std::vector<std::string> utt_ids;  // [utts.size()], or empty when read without ids
  std::vector<double> mean, std;
  int64_t stats_frames = 0;

  int64_t total_frames() const;
  double total_duration() const;
  // The id of utterance u; FormatError when the index was read without ids.
  const std::string& utt_id(size_t u) const;
  // Writes to a temporary name and renames (utt_ids must hold every id).
  void write(const std::string& path) const;
  // Throws IoError/FormatError naming the file and the field. with_ids = false leaves utt_ids
  // empty: what training reads (ids are for output files and error messages, which take them
  // from the shard when needed).
  static DatasetIndex read(const std::string& path, bool with_ids = true);
};

// Mean and standard deviation from float64 sums (std floored at 1e-5 so a silent bin cannot
// divide by zero).
void stats_from_sums(const std::vector<double>& sum, const std::vector<double>& sumsq,
                     int64_t frames, std::vector<double>* mean, std::vector<double>* std);

}  // namespace ds2::pipeline
