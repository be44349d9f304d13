// Drawing the parameters of one augmented copy, and the JSON record of what was applied.
//
// draw_params() is a pure function of (policy, utt_id, copy, source counts): its generator is
// seeded by seed_for(policy.seed, utt_id, copy) (rng.h), so the same copy gets the same
// parameters on any rank count, thread or processing order. The draws are made in a fixed order
// and every one is always made (even when its range is a single value or the copy gets no
// noise), so changing one range never shifts the values drawn for another:
//   speed, tempo, pitch_cents, noise?, babble-or-file?, file index, file offset, snr_db,
//   then per babble talker: corpus index (redrawn on a repeat or self), offset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "augment/mix.h"
#include "augment/policy.h"

namespace ds2::augment {

constexpr size_t kNoIndex = std::numeric_limits<size_t>::max();

struct AugmentParams {
  int copy = 0;                  // 1..copies for augmented copies; 0 is the clean copy (identity)
  double speed = 1;              // factor (see effects.h)
  double tempo = 1;              // factor
  double pitch_cents = 0;        // cents
  bool noise = false;            // whether noise is added
  std::string noise_kind;        // "file", "babble", or "" when noise is false
  size_t noise_index = 0;        // kind "file": index into NoiseSource::files
  double noise_offset_frac = 0;  // kind "file": segment start, as a fraction of the file length
  std::vector<size_t> babble_utts;         // kind "babble": corpus indices of the talkers
  std::vector<double> babble_offset_frac;  // kind "babble": start in each, fraction of length
  double snr_db = 0;                       // requested SNR (when noise)
  bool tempo_quick = false;                // policy.tempo_quick (not drawn)

  bool is_identity() const { return speed == 1 && tempo == 1 && pitch_cents == 0 && !noise; }
};

// The parameters of augmented copy `copy` (>= 1; copy 0 gives the identity) of utterance
// `utt_id`. n_noise_files: number of noise files available; n_corpus_utts: number of corpus
// utterances babble may be drawn from, in a global order that does not depend on the rank count;
// self_index: this utterance's position in that order (never chosen as its own babble talker), or
// kNoIndex. Noise is drawn with probability noise_prob; it is babble with probability
// babble_prob when both kinds are available, else the available kind; with neither available
// the copy gets no noise. Babble uses min(policy.babble, available) distinct talkers.
AugmentParams draw_params(const AugmentPolicy& policy, const std::string& utt_id, int copy,
                          size_t n_noise_files, size_t n_corpus_utts, size_t self_index = kNoIndex);

// What augment() did, beyond the drawn parameters.
struct ApplyStats {
  double duration_in_s = 0;   // clean duration
  double duration_out_s = 0;  // after speed/tempo
  std::string noise_name;     // kind "file": the noise file's name as given to NoiseSource
  double noise_offset_s = 0;  // kind "file": start of the segment in the noise file, seconds
  std::vector<double> babble_offset_s;  // kind "babble": start in each talker, seconds
  MixStats mix;                         // requested vs measured SNR (when noise)
  uint64_t sox_clipped_samples = 0;     // samples libsox clipped inside the effects
  float clip_scale = 1.0f;              // whole-utterance scale applied to avoid clipping
  bool clipped = false;                 // clip_scale < 1
};

// One-line JSON record for the shard's /augment dataset, e.g.
//   {"copy":1,"speed":1.04,"tempo":0.98,"pitch_cents":-120.5,"noise":{"kind":"file","index":2,
//    "file":"noise/cafe.wav","offset_s":12.3,"snr_db":7.2,"snr_db_measured":7.2,"added":true},
//    "duration_s":3.1,"clip_scale":1.0,"clipped":false,"sox_clipped_samples":0}
// "noise" is null without noise; babble has "utts" (corpus indices) and "offsets_s" instead of
// "index", "file" and "offset_s". Deterministic: the same inputs give the same bytes.
std::string to_json(const AugmentParams& p, const ApplyStats& s);

}  // namespace ds2::augment
