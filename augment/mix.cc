// Noise at a target SNR, babble and peak limiting (mix.h).
// mix_at_snr: gain g = sqrt(P_speech / (P_noise * 10^(SNR/10))), with P_noise the mean power of
// the very segment added (the noise looped from its offset over the speech's length); the SNR
// actually reached is measured from the float samples added. make_babble: each talker scaled to
// unit mean power, looped from its offset, summed. limit_peak scales the whole utterance down
// when its peak passes kPeakLimit (no hard clipping).
#include "augment/mix.h"

#include <cmath>

#include "core/error.h"

namespace ds2::augment {

double mean_power(const std::vector<float>& x) {
  if (x.empty()) return 0;
  double s = 0;
  for (float v : x) s += static_cast<double>(v) * v;
  return s / static_cast<double>(x.size());
}

float limit_peak(std::vector<float>& x) {
  float peak = 0;
  for (float v : x) peak = std::max(peak, std::fabs(v));
  if (peak <= kPeakLimit) return 1.0f;
  const float scale = kPeakLimit / peak;
  for (float& v : x) v *= scale;
  return scale;
}

MixStats mix_at_snr(std::vector<float>& speech, const std::vector<float>& noise, double snr_db,
                    size_t noise_offset) {
  DS2_REQUIRE(!noise.empty(), Error, "mix_at_snr: the noise is empty");
  DS2_REQUIRE(std::isfinite(snr_db), Error, "mix_at_snr: snr_db {} is not finite", snr_db);
  MixStats st;
  const size_t n = speech.size(), m = noise.size();
  const size_t start = noise_offset % m;
  // Power of the noise segment that will be added: [start, start + n) wrapped modulo m.
  double pn = 0;
  for (size_t i = 0, j = start; i < n; ++i) {
    pn += static_cast<double>(noise[j]) * noise[j];
    if (++j == m) j = 0;
  }
  pn = n ? pn / static_cast<double>(n) : 0;
  const double ps = mean_power(speech);
  if (ps > 0 && pn > 0) {
    const double gain = std::sqrt(ps / (pn * std::pow(10.0, snr_db / 10.0)));
    double added = 0;  // power of what was actually added, after float rounding
    for (size_t i = 0, j = start; i < n; ++i) {
      const float a = static_cast<float>(gain * noise[j]);
      added += static_cast<double>(a) * a;
      speech[i] += a;
      if (++j == m) j = 0;
    }
    st.noise_added = true;
    st.noise_gain = gain;
    st.snr_db_measured = 10.0 * std::log10(ps / (added / static_cast<double>(n)));
  }
  st.clip_scale = limit_peak(speech);
  st.clipped = st.clip_scale < 1.0f;
  return st;
}

std::vector<float> make_babble(const std::vector<const std::vector<float>*>& utts, size_t length,
                               const std::vector<size_t>& offsets) {
  std::vector<float> out(length, 0.0f);
  for (size_t k = 0; k < utts.size(); ++k) {
    const std::vector<float>& u = *utts[k];
    const double p = mean_power(u);
    if (u.empty() || p <= 0) continue;
    // Unit power over the full utterance: looping keeps that power on average.
    const float g = static_cast<float>(1.0 / std::sqrt(p));
    size_t j = (k < offsets.size() ? offsets[k] : 0) % u.size();
    for (size_t i = 0; i < length; ++i) {
      out[i] += g * u[j];
      if (++j == u.size()) j = 0;
    }
  }
  return out;
}

}  // namespace ds2::augment
