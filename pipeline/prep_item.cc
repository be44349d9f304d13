// One utterance of prep (prep_item.h): decode, the clean copy and K augmented ones, featurize;
// featurizers come from a pool so worker threads do not share one FFTW plan.
#include "pipeline/prep_item.h"

#include "augment/draw.h"
#include "augment/noise_list.h"
#include "core/error.h"
#include "core/log.h"
#include "pipeline/alphabet.h"
#include "pipeline/audio.h"

namespace ds2::pipeline {

std::unique_ptr<Featurizer> FeaturizerPool::take() {
  std::lock_guard<std::mutex> lock(mu_);
  if (free_.empty()) return std::make_unique<Featurizer>(o_);
  auto f = std::move(free_.back());
  free_.pop_back();
  return f;
}

void FeaturizerPool::give(std::unique_ptr<Featurizer> f) {
  std::lock_guard<std::mutex> lock(mu_);
  free_.push_back(std::move(f));
}

namespace {

void featurize(const std::vector<float>& audio, int rate, FeaturizerPool& pool, PreparedCopy* c) {
  auto f = pool.take();
  f->compute(audio.data(), static_cast<int64_t>(audio.size()), c->feats);
  c->frames = f->num_frames(static_cast<int64_t>(audio.size()));
  pool.give(std::move(f));
  c->seconds = static_cast<float>(static_cast<double>(audio.size()) / rate);
}

}  // namespace

// Decode, augment and featurize one accepted entry with all its copies (thread-safe; runs on
// worker threads). `index` is the entry's position in the planned list (babble excludes it).
Prepared prepare(const Accepted& a, size_t index, const PrepOptions& o, const FeatureMeta& meta,
                 const Alphabet& alphabet, const AugmentContext& aug, FeaturizerPool& pool) {
  Prepared p;
  const ManifestEntry& e = *a.entry;
  const int rate = meta.sample_rate;
  std::vector<float> audio;
  try {
    audio = decode_audio(e.path, rate, &o.raw);
  } catch (const Error& ex) {
    p.why = ex.what();
    return p;
  }
  double seconds = static_cast<double>(audio.size()) / rate;
  if (audio.empty()) {
    p.why = fmt::format("{}: empty audio (0 samples)", e.path);
    return p;
  }
  if (seconds > o.max_duration) {
    p.why = fmt::format("too long: {:.2f} s > --max-duration {}", seconds, o.max_duration);
    return p;
  }
  p.copies.resize(1 + aug.policy.copies);
  p.copies[0].utt_id = e.utt_id;
  p.copies[0].augment_json = "{}";
  featurize(audio, rate, pool, &p.copies[0]);
  if (p.copies[0].frames == 0) {
    p.why = fmt::format("{}: {:.3f} s is shorter than one analysis window", e.path, seconds);
    return p;
  }
  for (int k = 1; k <= aug.policy.copies; ++k) {
    PreparedCopy& c = p.copies[k];
    c.utt_id = fmt::format("{}~aug{}", e.utt_id, k);
    try {
      auto params = augment::draw_params(aug.policy, e.utt_id, k, aug.noise.files.size(),
                                         aug.n_corpus, index);
      augment::Augmented out = augment::augment(audio, rate, params, aug.noise);
      c.augment_json = out.json;
      featurize(out.samples, rate, pool, &c);
    } catch (const Error& ex) {
      p.why = fmt::format("{}: augmented copy {}: {}", e.path, k, ex.what());
      return p;
    }
    if (c.frames == 0) {
      p.why = fmt::format("{}: augmented copy {} is shorter than one analysis window", e.path, k);
      return p;
    }
  }
  p.labels = alphabet.encode(a.text);
  return p;
}

// Estimated seconds of all copies of an utterance of `seconds` (speed and tempo shorten it).
double planned_seconds(const AugmentContext& aug, const std::string& utt_id, size_t index,
                       double seconds) {
  double total = seconds;
  for (int k = 1; k <= aug.policy.copies; ++k) {
    auto p =
        augment::draw_params(aug.policy, utt_id, k, aug.noise.files.size(), aug.n_corpus, index);
    total += seconds / (p.speed * p.tempo);
  }
  return total;
}

// The policy, and the noise files decoded once per rank (a bad one is a ConfigError naming it).
AugmentContext load_augment(const PrepOptions& o, size_t n_corpus,
                            std::function<std::string(size_t)> corpus_path, int rate) {
  AugmentContext aug;
  aug.policy = o.augment.policy();
  aug.n_corpus = n_corpus;
  if (aug.policy.copies == 0) return aug;
  if (!o.augment.noise_manifest.empty()) {
    for (const auto& path : augment::read_noise_list(o.augment.noise_manifest)) {
      try {
        aug.noise.add_file(path, decode_audio(path, rate, &o.raw));
      } catch (const Error& e) {
        DS2_THROW(ConfigError, "--noise-manifest {}: noise file {}: {}", o.augment.noise_manifest,
                  path, e.what());
      }
      DS2_REQUIRE(!aug.noise.files.back().samples.empty(), ConfigError,
                  "--noise-manifest {}: noise file {} is empty", o.augment.noise_manifest, path);
    }
  }
  aug.policy.check_noise_sources(aug.noise.files.size());
  // Babble talkers are other utterances of this corpus, decoded on demand.
  const RawFormat raw = o.raw;
  aug.noise.corpus_utterance = [corpus_path = std::move(corpus_path), raw, rate](size_t i) {
    return decode_audio(corpus_path(i), rate, &raw);
  };
  DS2_LOG_ROOT("prep", info, "augmentation: {} ({} noise files)", aug.policy.to_string(),
               aug.noise.files.size());
  return aug;
}

}  // namespace ds2::pipeline
