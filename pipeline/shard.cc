#include "pipeline/shard.h"

#include <cstdio>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"

namespace ds2::pipeline {
namespace {
constexpr hsize_t kFeatureChunkRows = 1024;  // 1024 x 161 floats = 644 KiB per chunk
constexpr hsize_t kLabelChunk = 16384;
}  // namespace

void FeatureMeta::write_attrs(h5::File& f) const {
  f.write_attr<int32_t>("sample_rate", sample_rate);
  f.write_attr<double>("window_ms", window_ms);
  f.write_attr<double>("hop_ms", hop_ms);
  f.write_attr<int32_t>("n_bins", n_bins);
  f.write_attr_str("feature", feature);
  f.write_attr_str("alphabet", alphabet);
  f.write_attr_str("created_by", created_by);
}

FeatureMeta FeatureMeta::read_attrs(const h5::File& f) {
  FeatureMeta m;
  m.sample_rate = f.read_attr<int32_t>("sample_rate");
  m.window_ms = f.read_attr<double>("window_ms");
  m.hop_ms = f.read_attr<double>("hop_ms");
  m.n_bins = f.read_attr<int32_t>("n_bins");
  m.feature = f.read_attr_str("feature");
  m.alphabet = f.read_attr_str("alphabet");
  m.created_by = f.read_attr_str("created_by");
  return m;
}

void FeatureMeta::check_same(const FeatureMeta& o, const std::string& what) const {
  auto bad = [&](const char* field, const std::string& a, const std::string& b) {
    DS2_THROW(FormatError, "{}: field '{}' is {} but {} expected", what, field, b, a);
  };
  if (sample_rate != o.sample_rate) bad("sample_rate", std::to_string(sample_rate), std::to_string(o.sample_rate));
  if (window_ms != o.window_ms) bad("window_ms", fmt::format("{}", window_ms), fmt::format("{}", o.window_ms));
  if (hop_ms != o.hop_ms) bad("hop_ms", fmt::format("{}", hop_ms), fmt::format("{}", o.hop_ms));
  if (n_bins != o.n_bins) bad("n_bins", std::to_string(n_bins), std::to_string(o.n_bins));
  if (feature != o.feature) bad("feature", feature, o.feature);
  if (alphabet != o.alphabet) bad("alphabet", "the same alphabet", "a different alphabet");
}

ShardWriter::ShardWriter(const std::string& path, const FeatureMeta& meta,
                         const std::string& plan_digest)
    : path_(path), tmp_(temp_path_for(path)), n_bins_(meta.n_bins), sum_(meta.n_bins, 0.0),
      sumsq_(meta.n_bins, 0.0) {
  file_ = std::make_unique<h5::File>(h5::File::create(tmp_));
  file_->write_attr_str("format", kShardFormat);
  file_->write_attr<int32_t>("version", kShardVersion);
  meta.write_attrs(*file_);
  file_->write_attr_str("plan_digest", plan_digest);
  features_ = std::make_unique<h5::Appender<float>>(*file_, "/features", n_bins_, kFeatureChunkRows);
  labels_ = std::make_unique<h5::Appender<int32_t>>(*file_, "/labels", 0, kLabelChunk);
}

ShardWriter::~ShardWriter() {
  if (committed_) return;
  labels_.reset();
  features_.reset();
  file_.reset();
  std::remove(tmp_.c_str());
}

void ShardWriter::add(const ShardUtt& u, const float* features, int64_t frames,
                      const std::vector<int32_t>& labels) {
  features_->append(features, static_cast<hsize_t>(frames));
  labels_->append(labels.data(), labels.size());
  for (int64_t t = 0; t < frames; ++t) {
    const float* row = features + t * n_bins_;
    for (int b = 0; b < n_bins_; ++b) {
      double v = row[b];
      sum_[b] += v;
      sumsq_[b] += v * v;
    }
  }
  frame_offset_.push_back(frame_offset_.back() + frames);
  label_offset_.push_back(label_offset_.back() + static_cast<int64_t>(labels.size()));
  utts_.push_back(u);
}

void ShardWriter::commit() {
  size_t n = utts_.size();
  std::vector<std::string> ids(n), texts(n), sources(n), aug(n);
  std::vector<float> dur(n);
  for (size_t i = 0; i < n; ++i) {
    ids[i] = utts_[i].utt_id;
    texts[i] = utts_[i].transcript;
    sources[i] = utts_[i].source;
    aug[i] = utts_[i].augment;
    dur[i] = utts_[i].duration;
  }
  features_->flush();
  labels_->flush();
  file_->write<int64_t>("/frame_offset", frame_offset_);
  file_->write<int64_t>("/label_offset", label_offset_);
  file_->write_strings("/utt_id", ids);
  file_->write_strings("/transcript", texts);
  file_->write_strings("/source", sources);
  file_->write_strings("/augment", aug);
  file_->write<float>("/duration", dur);
  file_->write_attr<int64_t>("stats_frames", frame_offset_.back());
  file_->write_attr_vec<double>("stats_sum", sum_);
  file_->write_attr_vec<double>("stats_sumsq", sumsq_);
  labels_.reset();
  features_.reset();
  DS2_REQUIRE(H5Fflush(file_->id(), H5F_SCOPE_GLOBAL) >= 0, IoError, "{}: flush failed{}", tmp_,
              disk_full_note(tmp_));
  file_.reset();
  commit_file(tmp_, path_);
  committed_ = true;
}

ShardReader::ShardReader(const std::string& path) : file_(h5::File::open(path)) {
  DS2_REQUIRE(file_.has_attr("format") && file_.read_attr_str("format") == kShardFormat,
              FormatError, "{}: attribute 'format': not a {} file", path, kShardFormat);
  int v = file_.read_attr<int32_t>("version");
  DS2_REQUIRE(v == kShardVersion, FormatError, "{}: attribute 'version': {} (this ds2 reads {})",
              path, v, kShardVersion);
  meta_ = FeatureMeta::read_attrs(file_);
  frame_offset_ = file_.read<int64_t>("/frame_offset");
  label_offset_ = file_.read<int64_t>("/label_offset");
  DS2_REQUIRE(!frame_offset_.empty() && frame_offset_.size() == label_offset_.size(), FormatError,
              "{}: datasets '/frame_offset' and '/label_offset' disagree in length", path);
  auto fd = file_.dims("/features");
  DS2_REQUIRE(fd.size() == 2 && static_cast<int64_t>(fd[0]) == frame_offset_.back() &&
                  static_cast<int>(fd[1]) == meta_.n_bins,
              FormatError, "{}: dataset '/features' shape does not match '/frame_offset'", path);
}

std::string ShardReader::plan_digest() const { return file_.read_attr_str("plan_digest"); }

std::vector<float> ShardReader::features(int64_t row) const {
  DS2_REQUIRE(row >= 0 && row < size(), FormatError, "{}: row {} out of range", path(), row);
  try {
    return file_.read_rows<float>("/features", frame_offset_[row], frames(row));
  } catch (const FormatError& e) {
    std::string id = file_.read_strings("/utt_id").at(row);
    DS2_THROW(FormatError, "{}: utterance '{}' (row {}): features unreadable: {}", path(), id, row,
              e.what());
  }
}

std::vector<int32_t> ShardReader::labels(int64_t row) const {
  return file_.read_rows<int32_t>("/labels", label_offset_[row], label_length(row));
}

void ShardReader::stats(std::vector<double>* sum, std::vector<double>* sumsq, int64_t* frames) const {
  *sum = file_.read_attr_vec<double>("stats_sum");
  *sumsq = file_.read_attr_vec<double>("stats_sumsq");
  *frames = file_.read_attr<int64_t>("stats_frames");
}

}  // namespace ds2::pipeline
