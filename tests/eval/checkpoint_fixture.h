// A random-init checkpoint for the eval tests (evaluate_test, transcribe_test): the network of
// `config` (161 bins), global normalization statistics mean[b] = mean0 + mean_step * b and
// std[b] = std0 + std_step * b, the en alphabet, a `train_ini` text (what ds2 train stores), and
// `meta` (when given) as its training data's feature settings. Returns the file's path.
#pragma once

#include <string>

#include "model/checkpoint.h"
#include "model/network.h"
#include "pipeline/alphabet.h"
#include "pipeline/prep.h"
#include "tests/testutil.h"

namespace ds2::test {

struct FixtureStats {
  double mean0, mean_step, std0, std_step;
};

inline std::string save_fixture_checkpoint(const TempDir& dir, const std::string& name,
                                           const model::ModelConfig& config,
                                           const FixtureStats& stats, const std::string& train_ini,
                                           const pipeline::FeatureMeta* meta) {
  model::Network net(config, false);
  model::NormStats norm;
  for (int b = 0; b < 161; ++b) {
    norm.mean.push_back(stats.mean0 + stats.mean_step * b);
    norm.std.push_back(stats.std0 + stats.std_step * b);
  }
  model::CheckpointExtras ex;
  ex.str["alphabet"] =
      pipeline::Alphabet::load(pipeline::resolve_share_path("share/alphabets/en.txt")).to_string();
  ex.str["train_ini"] = train_ini;
  if (meta) model::set_feature_meta(&ex, *meta);
  const std::string path = dir / name;
  model::save_checkpoint(path, net, norm, ex);
  return path;
}

}  // namespace ds2::test
