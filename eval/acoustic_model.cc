// Checkpoint -> inference model (see acoustic_model.h for the resolution steps).
#include "eval/acoustic_model.h"

#include "core/error.h"
#include "core/log.h"
#include "model/network.h"

namespace ds2::eval {
namespace {
auto log() { return logger("eval"); }
}  // namespace

const std::string& checkpoint_alphabet(const model::CheckpointExtras& extras,
                                       const std::string& checkpoint) {
  const auto it = extras.str.find("alphabet");
  DS2_REQUIRE(it != extras.str.end(), FormatError,
              "{}: no alphabet (/extra/alphabet); a checkpoint written by ds2 train has one",
              checkpoint);
  return it->second;
}

AcousticModel::AcousticModel(const std::string& checkpoint, const std::string& device, int threads,
                             const std::string& normalize, const Dataset* data)
    : path_(checkpoint) {
  // 1. The network.
  model::ModelConfig cfg = model::read_checkpoint_config(checkpoint);
  cfg.device = device;
  cfg.num_threads = threads;
  net_ = std::make_unique<model::Network>(cfg, /*with_grads=*/false);
  model::load_checkpoint(checkpoint, *net_, &norm_, &extras_);
  const size_t f = static_cast<size_t>(cfg.n_bins);
  // 2. Against the dataset.
  if (data) {
    const pipeline::DatasetIndex& index = *data->index;
    DS2_REQUIRE(cfg.n_bins == index.meta.n_bins, ConfigError,
                "{}: the model takes {} bins but {}/index.h5 has {}", checkpoint, cfg.n_bins,
                data->dir, index.meta.n_bins);
    pipeline::FeatureMeta trained;
    if (model::get_feature_meta(extras_, checkpoint, &trained))
      model::require_same_features(checkpoint, trained, data->dir + "/index.h5", index.meta);
    else
      log()->debug(
          "{}: no feature settings (written before they were stored): not checked "
          "against {}/index.h5 beyond the bins",
          checkpoint, data->dir);
  }
  // 3. The normalization.
  std::string mode = normalize.empty() ? model::trained_normalize(extras_) : normalize;
  if (mode.empty()) mode = "global";
  pipeline::require_normalize_mode(mode);
  if (mode == "global" && (norm_.mean.size() != f || norm_.std.size() != f)) {
    if (data) {
      const pipeline::DatasetIndex& index = *data->index;
      DS2_REQUIRE(index.mean.size() == f && index.std.size() == f, FormatError,
                  "{}: no normalization statistics, nor in {}/index.h5", checkpoint, data->dir);
      if (data->warn)
        log()->warn("{} holds no normalization statistics: using {}/index.h5's", checkpoint,
                    data->dir);
      norm_ = {index.mean, index.std};
    } else {
      DS2_THROW(FormatError,
                "{}: no normalization statistics (/norm) for global normalization; pass "
                "--normalize none or utterance if the model was trained so",
                checkpoint);
    }
  }
  for (size_t b = 0; mode == "global" && b < f; ++b)
    DS2_REQUIRE(norm_.std[b] > 0, FormatError, "{}: /norm/std: bin {} is {}", checkpoint, b,
                norm_.std[b]);
  normalizer_ = pipeline::FeatureNormalizer(mode, norm_.mean, norm_.std);
  // 4. The alphabet.
  const bool own = extras_.str.count("alphabet") > 0;
  if (own || !data)
    alphabet_ = pipeline::Alphabet::parse(checkpoint_alphabet(extras_, checkpoint),
                                          checkpoint + ":/extra/alphabet");
  else
    alphabet_ =
        pipeline::Alphabet::parse(data->index->meta.alphabet, data->dir + "/index.h5:alphabet");
  DS2_REQUIRE(alphabet_.size() == cfg.alphabet_size, ConfigError,
              "{}: the model has {} outputs but its alphabet {} symbols", checkpoint,
              cfg.alphabet_size, alphabet_.size());
}

AcousticModel::~AcousticModel() = default;

bool AcousticModel::trained_features(pipeline::FeatureMeta* m) const {
  return model::get_feature_meta(extras_, path_, m);
}

}  // namespace ds2::eval
