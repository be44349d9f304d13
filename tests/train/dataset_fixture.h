// A prepared dataset written directly with ShardWriter and DatasetIndex::write (real HDF5 files,
// no prep run), for the train tests that need shards and an index: loader_test, dev_eval_mpi_test.
#pragma once

#include <string>
#include <vector>

#include "pipeline/index.h"
#include "pipeline/shard.h"

namespace ds2::train::fixture {

constexpr int kFixtureBins = 5;

struct Utt {
  std::string id, text;
  std::vector<float> x;  // [frames, n_bins] (kFixtureBins unless a test asks for more)
  std::vector<int32_t> labels;
};

// Writes the utterances into shards (shard_of[i] names the shard of utterance i, shards in
// increasing order) and index.h5 with the given stats and alphabet; returns the index as read
// back. Durations are 10 ms per frame; n_bins = mean.size() (the features' width).
inline pipeline::DatasetIndex write_dataset(const std::string& dir, const std::vector<Utt>& utts,
                                            const std::vector<int>& shard_of,
                                            const std::vector<double>& mean,
                                            const std::vector<double>& sd,
                                            const std::string& alphabet = "<blank>\n<space>\na\n") {
  pipeline::FeatureMeta meta;
  meta.n_bins = static_cast<int>(mean.size());
  meta.alphabet = alphabet;
  meta.created_by = "test";
  pipeline::DatasetIndex idx;
  idx.meta = meta;
  const int n_shards = shard_of.empty() ? 0 : shard_of.back() + 1;
  for (int s = 0; s < n_shards; ++s) {
    const std::string name = "shard-" + std::to_string(s) + ".h5";
    idx.shards.push_back(name);
    pipeline::ShardWriter w(dir + "/" + name, meta, "digest");
    int64_t row = 0;
    for (size_t i = 0; i < utts.size(); ++i) {
      if (shard_of[i] != s) continue;
      const Utt& u = utts[i];
      const int32_t frames = static_cast<int32_t>(u.x.size() / meta.n_bins);
      w.add({u.id, u.text, "", "{}", frames * 0.01f}, u.x.data(), frames, u.labels);
      idx.utts.push_back({s, static_cast<int32_t>(row++), frames,
                          static_cast<int32_t>(u.labels.size()), frames * 0.01f});
      idx.utt_ids.push_back(u.id);
    }
    w.commit();
  }
  idx.n_rows = static_cast<int64_t>(utts.size());
  idx.mean = mean;
  idx.std = sd;
  idx.stats_frames = idx.total_frames();
  idx.write(dir + "/index.h5");
  return pipeline::DatasetIndex::read(dir + "/index.h5");
}

}  // namespace ds2::train::fixture
