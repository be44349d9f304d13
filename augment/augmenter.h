// One entry point for prep: make one augmented copy of one utterance.
//
// Typical use in prep (per rank; augment() may run on several threads at once):
//   AugmentPolicy policy = options.policy();
//   NoiseSource noise;
//   for (path : read_noise_list(options.noise_manifest))
//     noise.add_file(path, pipeline::decode_audio(path, 16000));   // errors name the path
//   noise.corpus_utterance = [&](size_t i) { return decode corpus utterance i (global order); };
//   policy.check_noise_sources(noise.files.size());
//   for each utterance u (global index g), copy c = 1..policy.copies:
//     AugmentParams p = draw_params(policy, u.id, c, noise.files.size(), n_corpus, g);
//     Augmented a = augment(clean, 16000, p, noise);   // a.samples -> features, a.json -> /augment
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "augment/draw.h"

namespace ds2::augment {

struct NoiseFile {
  std::string name;            // as shown in JSON and messages (the path from the manifest)
  std::vector<float> samples;  // mono, at the same rate as the utterances
};

// The noise available to augment(). Files are decoded by the caller (augment does not read
// files); babble talkers are fetched on demand through corpus_utterance.
struct NoiseSource {
  std::vector<NoiseFile> files;
  // Clean samples of corpus utterance i (the same global order as draw_params' n_corpus_utts),
  // at the utterances' rate. Must be callable from several threads at once when augment() is.
  // May be empty when babble is not used.
  std::function<std::vector<float>(size_t)> corpus_utterance;

  // Appends a decoded noise file. Throws FormatError "NAME: noise file is empty" or
  // "NAME: noise file is silent (all samples zero)": such a file cannot reach any SNR.
  void add_file(std::string name, std::vector<float> samples);
};

struct Augmented {
  std::vector<float> samples;  // mono, same rate as the input
  std::string json;            // to_json(params, stats)
  bool clipped = false;        // the result was scaled down to avoid clipping
  ApplyStats stats;
};

// Applies `p` to `clean` (mono, `rate` Hz): speed/tempo/pitch through libsox (effects.h), then
// noise (mix.h) from p.noise_kind: the file p.noise_index from p.noise_offset_frac of its length,
// or babble of p.babble_utts; the mix is scaled down as a whole if its peak would clip. Copy 0 /
// identity parameters return the input unchanged with clip_scale 1 (peak limit still applied).
// Throws ds2::Error when p names a noise file or corpus utterance that `noise` cannot supply.
Augmented augment(const std::vector<float>& clean, int rate, const AugmentParams& p,
                  const NoiseSource& noise);

}  // namespace ds2::augment
