// The one checkpoint -> inference loader: a checkpoint written by `ds2 train` as the network
// (inference only: batch norm on running statistics), the feature normalization, the alphabet
// and the feature settings it was trained on. `ds2 eval`, `ds2 sweep` and `ds2 transcribe` load
// their models through it, so each refusal below has one text. (Dev evaluation during training
// runs on the trainer's network in memory and loads no checkpoint.)
//
// Resolution, in this order:
//   1. the ModelConfig stored in the checkpoint, with the caller's device and threads;
//   2. against a dataset (DATA/index.h5, when given): the model's bins must be the index's, and
//      the checkpoint's feature settings (model/checkpoint.h; none in checkpoints from before they
//      were stored: not checked beyond the bins, with a debug log) must equal the index's;
//   3. the normalization mode: `normalize` when not empty, else the `normalize` line of the
//      checkpoint's training options (train_ini), else global; global needs the checkpoint's
//      /norm statistics, or (against a dataset, with a warning) the index's;
//   4. the alphabet: the checkpoint's /extra/alphabet, or (against a dataset) the index's; its size
//      must be the model's output count.
#pragma once

#include <memory>
#include <string>

#include "model/checkpoint.h"
#include "pipeline/alphabet.h"
#include "pipeline/index.h"
#include "pipeline/normalize.h"

namespace ds2::model {
class Network;
}

namespace ds2::eval {

class AcousticModel {
 public:
  // The dataset an AcousticModel is checked against (step 2) and falls back on (steps 3-4).
  struct Dataset {
    std::string dir;                      // DATA (for messages: DATA/index.h5)
    const pipeline::DatasetIndex* index;  // DATA/index.h5 (its metadata and statistics)
    bool warn = false;                    // log the fallback to the index's statistics (root)
  };

  // normalize: "" = as the model was trained, or global | utterance | none. `data` may be null
  // (no dataset: transcribe). ConfigError / FormatError naming the checkpoint (and the field)
  // when it cannot be used: see the file comment.
  AcousticModel(const std::string& checkpoint, const std::string& device, int threads,
                const std::string& normalize, const Dataset* data = nullptr);
  ~AcousticModel();
  AcousticModel(const AcousticModel&) = delete;
  AcousticModel& operator=(const AcousticModel&) = delete;

  const std::string& path() const { return path_; }
  const pipeline::Alphabet& alphabet() const { return alphabet_; }
  int classes() const { return alphabet_.size(); }
  const std::string& normalize_mode() const { return normalizer_.mode(); }
  // The trainer's extras (step, epoch, ... when present).
  const model::CheckpointExtras& extras() const { return extras_; }
  model::Network& net() { return *net_; }
  const model::NormStats& norm() const { return norm_; }
  // The features' normalization (normalize_mode() with norm()).
  const pipeline::FeatureNormalizer& normalizer() const { return normalizer_; }
  // The feature settings the checkpoint was trained on, into *m (its other fields untouched);
  // false when it has none stored (model::get_feature_meta).
  bool trained_features(pipeline::FeatureMeta* m) const;

 private:
  std::string path_;
  std::unique_ptr<model::Network> net_;
  model::NormStats norm_;
  model::CheckpointExtras extras_;
  pipeline::FeatureNormalizer normalizer_;
  pipeline::Alphabet alphabet_;
};

// The alphabet text stored in a checkpoint's extras (/extra/alphabet); FormatError naming the
// checkpoint when there is none.
const std::string& checkpoint_alphabet(const model::CheckpointExtras& extras,
                                       const std::string& checkpoint);

}  // namespace ds2::eval
