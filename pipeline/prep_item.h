// One utterance of `ds2 prep`: decode, augment (clean + K copies), featurize. Runs on worker
// threads (see prep.cc); everything here is thread-safe for concurrent calls.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "augment/augmenter.h"
#include "augment/policy.h"
#include "pipeline/featurizer.h"
#include "pipeline/manifest.h"
#include "pipeline/prep.h"
#include "pipeline/shard.h"

namespace ds2::pipeline {

class Alphabet;

// An entry that passed the manifest and transcript checks.
struct Accepted {
  const ManifestEntry* entry;
  std::string text;  // normalized
};

// One Featurizer per worker thread (FFTW plans are not shared between threads).
class FeaturizerPool {
 public:
  explicit FeaturizerPool(const FeatureOptions& o) : o_(o) {}
  std::unique_ptr<Featurizer> take();
  void give(std::unique_ptr<Featurizer> f);

 private:
  FeatureOptions o_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Featurizer>> free_;
};

// One copy of an utterance, featurized.
struct PreparedCopy {
  std::string utt_id;        // "<utt_id>" for the clean copy, "<utt_id>~aug<k>" for copy k
  std::string augment_json;  // "{}" for the clean copy
  std::vector<float> feats;  // [frames, n_bins]
  int64_t frames = 0;
  float seconds = 0;
};

// An utterance with all its copies ready to be written, or the reason it is rejected.
struct Prepared {
  std::string why;
  std::vector<PreparedCopy> copies;
  std::vector<int32_t> labels;
};

// What augmentation needs besides the policy: decoded noise files and corpus access (babble).
struct AugmentContext {
  augment::AugmentPolicy policy;
  augment::NoiseSource noise;
  size_t n_corpus = 0;
};

// The policy, and the noise files decoded once per rank (a bad one is a ConfigError naming it).
// Babble talkers are the n_corpus planned entries, decoded on demand from corpus_path(position)
// (called from worker threads, never while the caller changes what it looks up).
AugmentContext load_augment(const PrepOptions& o, size_t n_corpus,
                            std::function<std::string(size_t)> corpus_path, int rate);

// Decode, augment and featurize one accepted entry with all its copies. `index` is the entry's
// position in the planned list (babble excludes it). Bad audio gives Prepared::why, not a throw.
Prepared prepare(const Accepted& a, size_t index, const PrepOptions& o, const FeatureMeta& meta,
                 const Alphabet& alphabet, const AugmentContext& aug, FeaturizerPool& pool);

// Estimated seconds of all copies of an utterance of `seconds` (speed and tempo shorten it).
double planned_seconds(const AugmentContext& aug, const std::string& utt_id, size_t index,
                       double seconds);

}  // namespace ds2::pipeline
