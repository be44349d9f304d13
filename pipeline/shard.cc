// ShardWriter and ShardReader (shard.h): features appended in unfiltered chunks of 1024 rows,
// labels and offsets, per-utterance checksums (XXH3 of the stored bytes in version 3) and the
// statistics sums, all written under a temporary name and renamed by commit(); the reader reads
// by row or by frame offset and gives each row's stored checksums to the callers that verify.
#include "pipeline/shard.h"

#include <xxhash.h>

#include <cstdio>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/rng.h"

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
  if (sample_rate != o.sample_rate)
    bad("sample_rate", std::to_string(sample_rate), std::to_string(o.sample_rate));
  if (window_ms != o.window_ms)
    bad("window_ms", fmt::format("{}", window_ms), fmt::format("{}", o.window_ms));
  if (hop_ms != o.hop_ms) bad("hop_ms", fmt::format("{}", hop_ms), fmt::format("{}", o.hop_ms));
  if (n_bins != o.n_bins) bad("n_bins", std::to_string(n_bins), std::to_string(o.n_bins));
  if (feature != o.feature) bad("feature", feature, o.feature);
  if (alphabet != o.alphabet) bad("alphabet", "the same alphabet", "a different alphabet");
}

ShardWriter::ShardWriter(const std::string& path, const FeatureMeta& meta,
                         const std::string& plan_digest)
    : path_(path),
      tmp_(temp_path_for(path)),
      n_bins_(meta.n_bins),
      sum_(meta.n_bins, 0.0),
      sumsq_(meta.n_bins, 0.0) {
  file_ = std::make_unique<h5::File>(h5::File::create(tmp_, true));
  try {  // the destructor does not run for a constructor that throws: remove the file here
    file_->write_attr_str("format", kShardFormat);
    file_->write_attr<int32_t>("version", kShardVersion);
    meta.write_attrs(*file_);
    file_->write_attr_str("plan_digest", plan_digest);
    // Unfiltered chunks, read byte-exactly; integrity by the per-utterance checksums (shard.h).
    features_ = std::make_unique<h5::Appender<float>>(*file_, "/features", n_bins_,
                                                      kFeatureChunkRows, false);
    labels_ = std::make_unique<h5::Appender<int32_t>>(*file_, "/labels", 0, kLabelChunk, false);
  } catch (...) {
    labels_.reset();
    features_.reset();
    file_.reset();
    std::remove(tmp_.c_str());
    throw;
  }
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
  feature_ck_.push_back(
      ShardReader::checksum_of(kShardVersion, features, static_cast<size_t>(frames) * n_bins_));
  label_ck_.push_back(ShardReader::checksum_of(kShardVersion, labels.data(), labels.size()));
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
  file_->write<uint64_t>("/feature_checksum", feature_ck_);
  file_->write<uint64_t>("/label_checksum", label_ck_);
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

ShardReader::ShardReader(const std::string& path, bool with_offsets, bool check_format)
    : file_(h5::File::open(path)) {
  if (check_format)  // a string attribute: reading it reads the file's global heap (4 KiB)
    DS2_REQUIRE(file_.has_attr("format") && file_.read_attr_str("format") == kShardFormat,
                FormatError, "{}: attribute 'format': not a {} file", path, kShardFormat);
  version_ = file_.read_attr<int32_t>("version");
  DS2_REQUIRE(version_ >= 1 && version_ <= 3, FormatError,
              "{}: attribute 'version': {} (this ds2 reads 1, 2 and 3)", path, version_);
  // The lean (loader) open reads no more than it needs: every re-open of a shard costs its
  // metadata again (bench_loader prints the KiB per open).
  if (with_offsets) meta_ = FeatureMeta::read_attrs(file_);
  features_ = h5::RowReader<float>(file_, "/features");
  if (!with_offsets) meta_.n_bins = static_cast<int>(features_.cols());
  labels_ = h5::RowReader<int32_t>(file_, "/labels");
  DS2_REQUIRE(features_.cols() == static_cast<hsize_t>(meta_.n_bins), FormatError,  // full open
              "{}: dataset '/features' has {} columns but attribute 'n_bins' is {}", path,
              features_.cols(), meta_.n_bins);
  if (version_ >= 2) {
    feature_ck_ = h5::RowReader<uint64_t>(file_, "/feature_checksum");
    label_ck_ = h5::RowReader<uint64_t>(file_, "/label_checksum");
    DS2_REQUIRE(feature_ck_.rows() == label_ck_.rows(), FormatError,
                "{}: datasets '/feature_checksum' and '/label_checksum' disagree in length", path);
    n_utts_ = static_cast<int64_t>(feature_ck_.rows());
  } else {
    n_utts_ = static_cast<int64_t>(file_.dims("/frame_offset").at(0)) - 1;
  }
  if (!with_offsets) return;
  frame_offset_ = file_.read<int64_t>("/frame_offset");
  label_offset_ = file_.read<int64_t>("/label_offset");
  DS2_REQUIRE(static_cast<int64_t>(frame_offset_.size()) == n_utts_ + 1 &&
                  frame_offset_.size() == label_offset_.size(),
              FormatError, "{}: datasets '/frame_offset' and '/label_offset' disagree in length",
              path);
  DS2_REQUIRE(frame_offset_.back() == total_frames() && label_offset_.back() == total_labels(),
              FormatError, "{}: dataset '/features' or '/labels' does not match its offsets", path);
}

std::string ShardReader::plan_digest() const { return file_.read_attr_str("plan_digest"); }

uint64_t ShardReader::checksum_of(int version, const void* values, size_t n) {
  return version >= 3 ? XXH3_64bits(values, 4 * n) : bytes_digest(values, 4 * n);
}

std::string ShardReader::utt_id(int64_t row) const {
  try {
    return file_.read_strings("/utt_id", static_cast<hsize_t>(row), 1)[0];
  } catch (const std::exception&) {
    return "?";
  }
}

uint64_t ShardReader::feature_checksum(int64_t row) const {
  uint64_t v = 0;
  feature_ck_.read(static_cast<hsize_t>(row), 1, &v);
  return v;
}

uint64_t ShardReader::label_checksum(int64_t row) const {
  uint64_t v = 0;
  label_ck_.read(static_cast<hsize_t>(row), 1, &v);
  return v;
}

void ShardReader::features_at(int64_t frame0, int64_t frames, float* out) const {
  features_.read(static_cast<hsize_t>(frame0), static_cast<hsize_t>(frames), out);
}

std::vector<int32_t> ShardReader::labels_at(int64_t label0, int64_t n) const {
  std::vector<int32_t> v(static_cast<size_t>(n));
  labels_.read(static_cast<hsize_t>(label0), static_cast<hsize_t>(n), v.data());
  return v;
}

std::vector<float> ShardReader::features(int64_t row) const {
  DS2_REQUIRE(row >= 0 && row < size() && !frame_offset_.empty(), FormatError,
              "{}: row {} out of range", path(), row);
  std::vector<float> v(static_cast<size_t>(frames(row)) * meta_.n_bins);
  try {
    features_at(frame_offset_[row], frames(row), v.data());
  } catch (const FormatError& e) {
    DS2_THROW(FormatError, "{}: utterance '{}' (row {}): features unreadable: {}", path(),
              utt_id(row), row, e.what());
  }
  if (has_checksums())
    DS2_REQUIRE(checksum_of(version_, v.data(), v.size()) == feature_checksum(row), FormatError,
                "{}: utterance '{}' (row {}): features fail their checksum (corrupt shard)", path(),
                utt_id(row), row);
  return v;
}

std::vector<int32_t> ShardReader::labels(int64_t row) const {
  DS2_REQUIRE(row >= 0 && row < size() && !label_offset_.empty(), FormatError,
              "{}: row {} out of range", path(), row);
  std::vector<int32_t> v = labels_at(label_offset_[row], label_length(row));
  if (has_checksums())
    DS2_REQUIRE(checksum_of(version_, v.data(), v.size()) == label_checksum(row), FormatError,
                "{}: utterance '{}' (row {}): labels fail their checksum (corrupt shard)", path(),
                utt_id(row), row);
  return v;
}

void ShardReader::stats(std::vector<double>* sum, std::vector<double>* sumsq,
                        int64_t* frames) const {
  *sum = file_.read_attr_vec<double>("stats_sum");
  *sumsq = file_.read_attr_vec<double>("stats_sumsq");
  *frames = file_.read_attr<int64_t>("stats_frames");
}

}  // namespace ds2::pipeline
