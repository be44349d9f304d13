// Per-bin feature normalization (see normalize.h for the modes and the arithmetic).
#include "pipeline/normalize.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace ds2::pipeline {

bool is_normalize_mode(const std::string& mode) {
  return mode == "global" || mode == "utterance" || mode == "none";
}

void require_normalize_mode(const std::string& mode) {
  DS2_REQUIRE(is_normalize_mode(mode), ConfigError,
              "option 'normalize': '{}' (expected global, utterance or none)", mode);
}

FeatureNormalizer::FeatureNormalizer(const std::string& mode, const std::vector<double>& mean,
                                     const std::vector<double>& std)
    : mode_(mode) {
  require_normalize_mode(mode);
  if (mode != "global") return;
  DS2_REQUIRE(!mean.empty() && mean.size() == std.size(), FormatError,
              "global normalization: {} means and {} standard deviations", mean.size(), std.size());
  for (size_t b = 0; b < mean.size(); ++b) {
    DS2_REQUIRE(std[b] > 0, FormatError, "global normalization: bin {} has std {}", b, std[b]);
    mean_.push_back(static_cast<float>(mean[b]));
    inv_std_.push_back(static_cast<float>(1.0 / std[b]));
  }
}

void FeatureNormalizer::apply(const float* x, size_t frames, size_t f, float* out) const {
  if (mode_ == "none") {
    if (out != x) std::copy(x, x + frames * f, out);
    return;
  }
  std::vector<float> utt_m, utt_inv;  // utterance mode
  const float* m = mean_.data();
  const float* inv = inv_std_.data();
  if (mode_ == "global") {
    DS2_REQUIRE(f == mean_.size(), ConfigError,
                "global normalization: {} bins per frame but statistics for {}", f, mean_.size());
  } else {
    // utterance: two passes in double (mean, then squared deviations), std floored at 1e-5.
    if (frames == 0) return;
    std::vector<double> sum(f, 0.0), var(f, 0.0);
    utt_m.resize(f);
    utt_inv.resize(f);
    for (size_t r = 0; r < frames; ++r)
      for (size_t c = 0; c < f; ++c) sum[c] += x[r * f + c];
    for (size_t c = 0; c < f; ++c) sum[c] /= static_cast<double>(frames);
    for (size_t r = 0; r < frames; ++r)
      for (size_t c = 0; c < f; ++c) {
        const double d = x[r * f + c] - sum[c];
        var[c] += d * d;
      }
    for (size_t c = 0; c < f; ++c) {
      utt_m[c] = static_cast<float>(sum[c]);
      const double sd = std::sqrt(var[c] / static_cast<double>(frames));
      utt_inv[c] = static_cast<float>(1.0 / std::max(sd, 1e-5));
    }
    m = utt_m.data();
    inv = utt_inv.data();
  }
  for (size_t r = 0; r < frames; ++r)
    for (size_t c = 0; c < f; ++c) out[r * f + c] = (x[r * f + c] - m[c]) * inv[c];
}

}  // namespace ds2::pipeline
