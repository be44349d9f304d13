// DatasetIndex::write / read (index.h): DATA/index.h5 written under a temporary name and
// renamed; the per-utterance utt_id strings are read only when asked for (with_ids), so a rank
// that does not need them holds no per-utterance strings (DESIGN.md "Scale").
#include "pipeline/index.h"

#include <cmath>
#include <cstdint>

#include "core/error.h"
#include "core/fs.h"

namespace ds2::pipeline {

int64_t DatasetIndex::total_frames() const {
  int64_t t = 0;
  for (const auto& u : utts) t += u.frames;
  return t;
}

double DatasetIndex::total_duration() const {
  double t = 0;
  for (const auto& u : utts) t += u.duration;
  return t;
}

const std::string& DatasetIndex::utt_id(size_t u) const {
  DS2_REQUIRE(u < utt_ids.size(), FormatError,
              "utterance {}: the index was read without utterance ids ({} of {})", u,
              utt_ids.size(), utts.size());
  return utt_ids[u];
}

void DatasetIndex::write(const std::string& path) const {
  DS2_REQUIRE(utt_ids.size() == utts.size(), ConfigError, "{}: {} utterance ids for {} utterances",
              path, utt_ids.size(), utts.size());
  std::string tmp = temp_path_for(path);
  {
    auto f = h5::File::create(tmp);
    f.write_attr_str("format", kIndexFormat);
    f.write_attr<int32_t>("version", kIndexVersion);
    meta.write_attrs(f);
    f.write_attr_str("command", command);
    f.write_attr_str("augment", augment);
    f.write_attr_str("augment_summary", augment_summary);
    f.write_attr<int64_t>("n_utts", static_cast<int64_t>(utts.size()));
    f.write_attr<int64_t>("n_shards", static_cast<int64_t>(shards.size()));
    f.write_attr<int64_t>("n_rows", n_rows);
    f.write_attr<int64_t>("n_rejected", n_rejected);
    f.write_attr<int64_t>("total_frames", total_frames());
    f.write_attr<double>("total_duration", total_duration());
    f.write_attr<int64_t>("stats_frames", stats_frames);
    f.write_strings("/shards", shards);
    size_t n = utts.size();
    std::vector<int32_t> shard(n), frames(n), llen(n);
    std::vector<int64_t> row(n);
    std::vector<float> dur(n);
    for (size_t i = 0; i < n; ++i) {
      shard[i] = utts[i].shard;
      row[i] = utts[i].row;
      frames[i] = utts[i].frames;
      llen[i] = utts[i].label_length;
      dur[i] = utts[i].duration;
    }
    f.write<int32_t>("/utt_shard", shard);
    f.write<int64_t>("/utt_row", row);
    f.write<int32_t>("/utt_frames", frames);
    f.write<int32_t>("/utt_label_length", llen);
    f.write<float>("/utt_duration", dur);
    f.write_strings("/utt_id", utt_ids);
    f.write<double>("/stats_mean", mean);
    f.write<double>("/stats_std", std);
  }
  commit_file(tmp, path);
}

DatasetIndex DatasetIndex::read(const std::string& path, bool with_ids) {
  auto f = h5::File::open(path);
  DS2_REQUIRE(f.has_attr("format") && f.read_attr_str("format") == kIndexFormat, FormatError,
              "{}: attribute 'format': not a {} file", path, kIndexFormat);
  int v = f.read_attr<int32_t>("version");
  DS2_REQUIRE(v == kIndexVersion, FormatError, "{}: attribute 'version': {} (this ds2 reads {})",
              path, v, kIndexVersion);
  DatasetIndex d;
  d.meta = FeatureMeta::read_attrs(f);
  d.command = f.read_attr_str("command");
  d.augment = f.read_attr_str("augment");
  d.augment_summary = f.read_attr_str("augment_summary");
  d.n_rows = f.read_attr<int64_t>("n_rows");
  d.n_rejected = f.read_attr<int64_t>("n_rejected");
  d.stats_frames = f.read_attr<int64_t>("stats_frames");
  d.shards = f.read_strings("/shards");
  // Column by column into the rows, each column freed before the next is read: the peak is
  // the 20-byte rows plus one column (an index of 8 M utterances: 160 + 64 MB, not 352).
  const size_t n = static_cast<size_t>(f.dims("/utt_shard").at(0));
  d.utts.resize(n);
  auto column = [&](const std::string& name, auto tag, auto&& put) {
    using T = decltype(tag);
    const std::vector<T> c = f.read<T>(name);
    DS2_REQUIRE(c.size() == n, FormatError,
                "{}: the /utt_* datasets differ in length ('{}': {} of {})", path, name, c.size(),
                n);
    for (size_t i = 0; i < n; ++i) put(d.utts[i], c[i], i);
  };
  const int32_t n_shards = static_cast<int32_t>(d.shards.size());
  column("/utt_shard", int32_t{}, [&](IndexUtt& u, int32_t v, size_t i) {
    DS2_REQUIRE(v >= 0 && v < n_shards, FormatError,
                "{}: dataset '/utt_shard'[{}] = {} out of range", path, i, v);
    u.shard = v;
  });
  column("/utt_row", int64_t{}, [&](IndexUtt& u, int64_t v, size_t i) {
    DS2_REQUIRE(v >= 0 && v <= INT32_MAX, FormatError,
                "{}: dataset '/utt_row'[{}] = {} out of range", path, i, v);
    u.row = static_cast<int32_t>(v);
  });
  column("/utt_frames", int32_t{}, [](IndexUtt& u, int32_t v, size_t) { u.frames = v; });
  column("/utt_label_length", int32_t{},
         [](IndexUtt& u, int32_t v, size_t) { u.label_length = v; });
  column("/utt_duration", float{}, [](IndexUtt& u, float v, size_t) { u.duration = v; });
  if (with_ids) {
    d.utt_ids = f.read_strings("/utt_id");
    DS2_REQUIRE(d.utt_ids.size() == n, FormatError, "{}: the /utt_* datasets differ in length",
                path);
  }
  d.mean = f.read<double>("/stats_mean");
  d.std = f.read<double>("/stats_std");
  DS2_REQUIRE(static_cast<int>(d.mean.size()) == d.meta.n_bins &&
                  static_cast<int>(d.std.size()) == d.meta.n_bins,
              FormatError, "{}: dataset '/stats_mean' or '/stats_std' is not n_bins long", path);
  return d;
}

void stats_from_sums(const std::vector<double>& sum, const std::vector<double>& sumsq,
                     int64_t frames, std::vector<double>* mean, std::vector<double>* std) {
  size_t n = sum.size();
  mean->assign(n, 0.0);
  std->assign(n, 1.0);
  if (frames <= 0) return;
  for (size_t b = 0; b < n; ++b) {
    double m = sum[b] / static_cast<double>(frames);
    double var = sumsq[b] / static_cast<double>(frames) - m * m;
    (*mean)[b] = m;
    (*std)[b] = std::sqrt(std::max(var, 1e-10));
  }
}

}  // namespace ds2::pipeline
