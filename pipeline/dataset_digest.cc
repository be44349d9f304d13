// The dataset digest (see dataset_digest.h). Its value is stored in checkpoints (extra
// "dataset_digest") and in sweep histories, so the byte sequence hashed here must not change;
// a change needs a new tag string below ("ds2-dataset-digest-2").
#include "pipeline/dataset_digest.h"

#include <fmt/format.h>

#include "core/error.h"
#include "core/h5.h"
#include "core/rng.h"

namespace ds2::pipeline {

namespace {

// FNV-1a over the bytes of v (no string per value: an index has millions of utterances).
template <typename T>
void mix(uint64_t* h, const T& v) {
  *h = fnv1a64(&v, sizeof(T), *h);
}

}  // namespace

std::string dataset_digest(const std::string& data_dir, const DatasetIndex& index) {
  uint64_t h = fnv1a64("ds2-dataset-digest-1");
  // The feature settings as model::feature_fields prints them (fmt "{}": the shortest text that
  // reads back to the number), in that order.
  const FeatureMeta& m = index.meta;
  const std::pair<const char*, std::string> fields[] = {
      {"sample_rate", fmt::format("{}", m.sample_rate)},
      {"window_ms", fmt::format("{}", m.window_ms)},
      {"hop_ms", fmt::format("{}", m.hop_ms)},
      {"n_bins", fmt::format("{}", m.n_bins)},
      {"feature", m.feature}};
  for (const auto& [k, v] : fields) h = fnv1a64(std::string(k) + '=' + v + '\n', h);
  h = fnv1a64(m.alphabet + '\x1e', h);
  for (double x : index.mean) mix(&h, x);
  for (double x : index.std) mix(&h, x);
  mix(&h, index.stats_frames);
  for (const auto& name : index.shards) {
    h = fnv1a64(name + '\x1f', h);
    const std::string path = data_dir + "/" + name;
    const h5::File f = h5::File::open(path);
    DS2_REQUIRE(f.has_attr("plan_digest"), FormatError, "{}: no plan_digest attribute", path);
    h = fnv1a64(f.read_attr_str("plan_digest") + '\x1e', h);
  }
  for (const auto& u : index.utts) {
    mix(&h, u.shard);
    mix(&h, u.row);
    mix(&h, u.frames);
    mix(&h, u.label_length);
    mix(&h, u.duration);
  }
  return fmt::format("{:016x}", h);
}

}  // namespace ds2::pipeline
