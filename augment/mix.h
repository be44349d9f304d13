// Additive noise at a target signal-to-noise ratio, babble noise, and peak limiting.
#pragma once

#include <cstddef>
#include <vector>

namespace ds2::augment {

// Peak limit of every mix, as a fraction of full scale: a mix whose largest |sample| exceeds it is
// scaled down as a whole (never clipped sample by sample).
constexpr float kPeakLimit = 0.999f;

struct MixStats {
  bool noise_added = false;    // false when speech or the noise segment is all zeros
  double snr_db_measured = 0;  // 10 log10(P_speech / P_noise_scaled), from the mixed result
  double noise_gain = 0;       // factor applied to the noise before adding
  float clip_scale = 1.0f;     // factor applied to the whole mix to keep the peak in range
  bool clipped = false;        // clip_scale < 1 (the mix would have clipped)
};

// Adds `noise` to `speech` (in place) so that
//   10 log10(P_speech / P_noise_scaled) = snr_db,  P = mean of squares over the utterance.
// The noise segment starts at sample `noise_offset` (taken modulo noise.size()) and is looped
// (wrapping to the start) or cropped to speech.size(). Powers are computed in double precision
// over exactly the samples that are added. Afterwards, if the peak exceeds kPeakLimit the whole
// mix is scaled down to kPeakLimit (clip_scale, clipped). When the speech or the noise segment has
// zero power nothing is added (noise_added = false) and only the peak limit applies.
// Throws ds2::Error when noise is empty or snr_db is not finite.
MixStats mix_at_snr(std::vector<float>& speech, const std::vector<float>& noise, double snr_db,
                    size_t noise_offset);

// Babble noise of `length` samples: the sum of the given utterances, each looped or cropped to
// `length` starting at offsets[i] (modulo its size; 0 when offsets is empty) and normalized to
// unit power first, so that every talker is equally loud. Empty or all-zero utterances are
// skipped. Returns all zeros when none is usable.
std::vector<float> make_babble(const std::vector<const std::vector<float>*>& utts, size_t length,
                               const std::vector<size_t>& offsets = {});

// Scales `x` down so that max |x| <= kPeakLimit; returns the factor applied (1 when none).
float limit_peak(std::vector<float>& x);

// Mean of squares, in double precision (0 for an empty vector).
double mean_power(const std::vector<float>& x);

}  // namespace ds2::augment
