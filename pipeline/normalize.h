// Per-bin feature normalization, the one implementation used by training (train/loader.cc),
// `ds2 eval` / `ds2 sweep` (eval/evaluate.cc) and `ds2 transcribe` (eval/transcribe.cc), so the
// network sees bit-identical features whichever of them feeds it.
//
// Modes, for features x (frames, n_bins) row-major, bin b:
//   global:    x' = (x - mean[b]) / std[b], the training set's statistics (DATA/index.h5
//              /stats_mean, /stats_std, copied into a checkpoint's /norm).
//   utterance: x' = (x - m[b]) / max(s[b], 1e-5), m and s the mean and the standard deviation
//              (biased: divided by frames) of bin b over the utterance's own frames, computed in
//              double in two passes (mean, then squared deviations).
//   none:      x' = x.
// Arithmetic: the per-bin mean and 1 / std are rounded to float once, then every element is
// x' = (x - float(mean)) * float(1 / std) in float.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace ds2::pipeline {

// The modes above: "global", "utterance", "none".
bool is_normalize_mode(const std::string& mode);
// ConfigError "option 'normalize': 'MODE' (expected global, utterance or none)" unless it is one.
void require_normalize_mode(const std::string& mode);

class FeatureNormalizer {
 public:
  // Mode "none".
  FeatureNormalizer() = default;
  // ConfigError for an unknown mode (naming option 'normalize'). For "global", `mean` and `std`
  // are the per-bin statistics (same non-zero size, every std > 0: FormatError otherwise; the
  // callers check first with a message naming their file); other modes ignore them.
  FeatureNormalizer(const std::string& mode, const std::vector<double>& mean,
                    const std::vector<double>& std);

  const std::string& mode() const { return mode_; }
  // True for global and none: each frame is normalized on its own, so chunks of a stream can be
  // normalized as they arrive. Utterance mode needs all the frames at once.
  bool per_frame() const { return mode_ != "utterance"; }

  // Normalizes x (frames, f) row-major, host memory, into out (same shape; may alias x). In
  // global mode f must equal the statistics' size (ConfigError otherwise).
  void apply(const float* x, size_t frames, size_t f, float* out) const;
  void apply(float* x, size_t frames, size_t f) const { apply(x, frames, f, x); }

 private:
  std::string mode_ = "none";
  std::vector<float> mean_, inv_std_;  // global mode: float(mean[b]), float(1 / std[b])
};

}  // namespace ds2::pipeline
