// HDF5 spectrogram shards, format "ds2-shard" version 1 (DESIGN.md "Shard file"):
//
//   /                attrs: format, version, sample_rate, window_ms, hop_ms, n_bins, feature,
//                           alphabet, created_by, plan_digest, stats_frames, stats_sum[n_bins],
//                           stats_sumsq[n_bins] (float64 sums over every frame, for the index)
//   /features        float32 [total_frames, n_bins], chunked, fletcher32
//   /frame_offset    int64   [n_utts + 1]
//   /labels          int32   [total_labels]  (alphabet indices; 0 is the CTC blank)
//   /label_offset    int64   [n_utts + 1]
//   /utt_id /transcript /source   vlen UTF-8 [n_utts]
//   /duration        float32 [n_utts]  seconds, after augmentation
//   /augment         vlen UTF-8 [n_utts]  JSON of what was applied, "{}" for clean
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
inline constexpr int kShardVersion = 1;

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
  std::vector<double> sum_, sumsq_;
  bool committed_ = false;
};

// Read access to one shard; validates format and version on open.
class ShardReader {
 public:
  explicit ShardReader(const std::string& path);
  const std::string& path() const { return file_.path(); }
  int64_t size() const { return static_cast<int64_t>(frame_offset_.size()) - 1; }
  const FeatureMeta& meta() const { return meta_; }
  std::string plan_digest() const;
  int64_t frames(int64_t row) const { return frame_offset_[row + 1] - frame_offset_[row]; }
  int64_t label_length(int64_t row) const { return label_offset_[row + 1] - label_offset_[row]; }
  // [frames(row), n_bins] row-major. Throws FormatError naming the shard and utterance when a
  // chunk fails its checksum.
  std::vector<float> features(int64_t row) const;
  std::vector<int32_t> labels(int64_t row) const;
  std::vector<std::string> utt_ids() const { return file_.read_strings("/utt_id"); }
  std::vector<std::string> transcripts() const { return file_.read_strings("/transcript"); }
  std::vector<std::string> augment() const { return file_.read_strings("/augment"); }
  std::vector<float> durations() const { return file_.read<float>("/duration"); }
  // Per-bin float64 sums over every frame, and the frame count.
  void stats(std::vector<double>* sum, std::vector<double>* sumsq, int64_t* frames) const;

 private:
  h5::File file_;
  FeatureMeta meta_;
  std::vector<int64_t> frame_offset_, label_offset_;
};

}  // namespace ds2::pipeline
