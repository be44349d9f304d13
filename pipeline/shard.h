// HDF5 spectrogram shards, format "ds2-shard" version 3 (DESIGN.md "Shard file"):
//
//   /                attrs: format, version, sample_rate, window_ms, hop_ms, n_bins, feature,
//                           alphabet, created_by, plan_digest, stats_frames, stats_sum[n_bins],
//                           stats_sumsq[n_bins] (float64 sums over every frame, for the index)
//   /features        float32 [total_frames, n_bins], chunked (1024 rows), no filter
//   /frame_offset    int64   [n_utts + 1]
//   /labels          int32   [total_labels]  (alphabet indices; 0 is the CTC blank), no filter
//   /label_offset    int64   [n_utts + 1]
//   /feature_checksum /label_checksum   uint64 [n_utts]  XXH3-64 (xxHash, seed 0) of each
//                    utterance's feature rows / labels as stored (little-endian float32/int32)
//   /utt_id /transcript /source   vlen UTF-8 [n_utts]
//   /duration        float32 [n_utts]  seconds, after augmentation
//   /augment         vlen UTF-8 [n_utts]  JSON of what was applied, "{}" for clean
//
// Versions:
//   1  fletcher32 per HDF5 chunk, no per-utterance checksums. A filtered chunk is always read
//      and verified whole, so reading one utterance of ~100 frames out of a 1024-frame chunk
//      read the whole 644 KiB chunk, and an epoch in random batch order read each chunk about
//      once per utterance in it (measured: 21x the shard bytes).
//   2  unfiltered chunks, read byte-exactly (h5::RowReader), and per-utterance checksums
//      (bytes_digest, core/rng.h) that catch any corrupt byte, naming the utterance.
//   3  the same layout with XXH3-64 as the checksum: 8% of ds2 prep's CPU time went into
//      bytes_digest (about 3 GB/s), XXH3 runs at memory speed.
// All three are read; version 1 is verified by fletcher32, 2 and 3 by their checksum.
//
// The writer streams features (memory is one chunk plus per-utterance metadata) into
// "<path>.tmp.<pid>" and renames it to <path> in commit(); a writer destroyed without commit()
// removes its temporary file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/h5.h"

namespace ds2::pipeline {

inline constexpr const char* kShardFormat = "ds2-shard";
inline constexpr int kShardVersion = 3;  // written; 1, 2 and 3 are read

// Feature parameters and provenance shared by shards and the index.
struct FeatureMeta {
  int sample_rate = 16000;
  double window_ms = 20;
  double hop_ms = 10;
  int n_bins = 161;
  std::string feature = "log";
  std::string alphabet;    // the alphabet file text
  std::string created_by;  // "ds2 <version> (<git describe>)"
  void write_attrs(h5::File& f) const;
  static FeatureMeta read_attrs(const h5::File& f);
  // Throws FormatError naming `what` and the first differing field.
  void check_same(const FeatureMeta& o, const std::string& what) const;
};

struct ShardUtt {
  std::string utt_id, transcript, source, augment = "{}";
  float duration = 0;  // seconds
};

class ShardWriter {
 public:
  ShardWriter(const std::string& path, const FeatureMeta& meta, const std::string& plan_digest);
  ~ShardWriter();
  ShardWriter(const ShardWriter&) = delete;
  ShardWriter& operator=(const ShardWriter&) = delete;

  // features: [frames, n_bins] row-major. labels: alphabet indices.
  void add(const ShardUtt& u, const float* features, int64_t frames,
           const std::vector<int32_t>& labels);
  // Writes offsets, strings and stats, closes and renames into place.
  void commit();
  int64_t size() const { return static_cast<int64_t>(utts_.size()); }

 private:
  std::string path_, tmp_;
  int n_bins_;
  std::unique_ptr<h5::File> file_;
  std::unique_ptr<h5::Appender<float>> features_;
  std::unique_ptr<h5::Appender<int32_t>> labels_;
  std::vector<ShardUtt> utts_;
  std::vector<int64_t> frame_offset_{0}, label_offset_{0};
  std::vector<uint64_t> feature_ck_, label_ck_;
  std::vector<double> sum_, sumsq_;
  bool committed_ = false;
};

// Read access to one shard; validates format and version on open.
class ShardReader {
 public:
  // with_offsets: read /frame_offset and /label_offset now (what features(row) and labels(row)
  // need). The batch loader takes the offsets from the index instead (no per-open reads that
  // grow with the shard) and passes false; then only the *_at() reads below are available, and
  // meta() holds n_bins alone (taken from /features; the other attributes are not read).
  // check_format = false skips the 'format' attribute check (a string attribute: it reads the
  // file's global heap), for a re-open of a shard this process has checked before: a re-open
  // then reads 5.6 KiB of metadata instead of 9.6 (bench_loader prints both).
  explicit ShardReader(const std::string& path, bool with_offsets = true, bool check_format = true);
  const std::string& path() const { return file_.path(); }
  int version() const { return version_; }
  int64_t size() const { return n_utts_; }
  int64_t total_frames() const { return static_cast<int64_t>(features_.rows()); }
  int64_t total_labels() const { return static_cast<int64_t>(labels_.rows()); }
  const FeatureMeta& meta() const { return meta_; }
  std::string plan_digest() const;
  int64_t frames(int64_t row) const { return frame_offset_[row + 1] - frame_offset_[row]; }
  int64_t label_length(int64_t row) const { return label_offset_[row + 1] - label_offset_[row]; }
  // [frames(row), n_bins] row-major. Throws FormatError naming the shard and utterance when the
  // data fails its checksum (fletcher32 in version 1, the utterance's checksum in 2 and 3).
  std::vector<float> features(int64_t row) const;
  std::vector<int32_t> labels(int64_t row) const;

  // Without offsets: rows [frame0, frame0 + frames) of /features into out, labels
  // [label0, label0 + n) of /labels. Version 2/3 data is NOT verified here: compare with
  // feature_checksum(row) / label_checksum(row) (checksum_of(version(), ...)).
  void features_at(int64_t frame0, int64_t frames, float* out) const;
  std::vector<int32_t> labels_at(int64_t label0, int64_t n) const;
  bool has_checksums() const { return version_ >= 2; }
  uint64_t feature_checksum(int64_t row) const;
  uint64_t label_checksum(int64_t row) const;
  // The checksum a shard of `version` (2 or 3) stores for n values of 4 bytes.
  static uint64_t checksum_of(int version, const void* values, size_t n);
  // The utterance id of a row (one element read; "?" when unreadable).
  std::string utt_id(int64_t row) const;

  std::vector<std::string> utt_ids() const { return file_.read_strings("/utt_id"); }
  std::vector<std::string> transcripts() const { return file_.read_strings("/transcript"); }
  // One row's transcript, read alone (no per-shard string table held).
  std::string transcript(int64_t row) const { return file_.read_strings("/transcript", row, 1)[0]; }
  std::vector<std::string> augment() const { return file_.read_strings("/augment"); }
  std::vector<float> durations() const { return file_.read<float>("/duration"); }
  // Per-bin float64 sums over every frame, and the frame count.
  void stats(std::vector<double>* sum, std::vector<double>* sumsq, int64_t* frames) const;

 private:
  h5::File file_;
  FeatureMeta meta_;
  int version_ = 0;
  int64_t n_utts_ = 0;
  std::vector<int64_t> frame_offset_, label_offset_;
  h5::RowReader<float> features_;
  h5::RowReader<int32_t> labels_;
  h5::RowReader<uint64_t> feature_ck_, label_ck_;
};

}  // namespace ds2::pipeline
