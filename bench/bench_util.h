// Shared by the benchmarks: a speech-like test signal and the bare FFTW spectrogram loop that
// prep and featurizer benchmarks use as their baseline.
#pragma once

#include <fftw3.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "pipeline/featurizer.h"

namespace ds2::bench {

// A few drifting harmonics plus noise, in [-1, 1], deterministic from `seed`.
inline std::vector<float> synth_speech(double seconds, int rate, uint32_t seed = 42) {
  std::vector<float> x(static_cast<size_t>(seconds * rate));
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, 0.02f);
  const double f_base = 100 + seed % 60;
  for (size_t i = 0; i < x.size(); ++i) {
    const double t = static_cast<double>(i) / rate;
    const double f0 = f_base + 40 * std::sin(2 * M_PI * 0.7 * t);
    double v = 0;
    for (int h = 1; h <= 5; ++h) v += 0.12 / h * std::sin(2 * M_PI * f0 * h * t);
    x[i] = static_cast<float>(v) + noise(rng);
  }
  return x;
}

// The baseline: the textbook loop -- one r2c plan (FFTW_ESTIMATE) and, per frame, window,
// fftwf_execute, |X|^2, std::log(p + 1e-10).
class BareFftw {
 public:
  explicit BareFftw(const pipeline::FeatureOptions& o)
      : n_(o.window()), hop_(o.hop()), bins_(o.n_bins()) {
    in_ = fftwf_alloc_real(n_);
    out_ = fftwf_alloc_complex(bins_);
    plan_ = fftwf_plan_dft_r2c_1d(n_, in_, out_, FFTW_ESTIMATE);
    w_.resize(n_);
    for (int i = 0; i < n_; ++i)
      w_[i] = static_cast<float>(0.54 - 0.46 * std::cos(2 * M_PI * i / (n_ - 1)));
  }
  ~BareFftw() {
    fftwf_destroy_plan(plan_);
    fftwf_free(in_);
    fftwf_free(out_);
  }
  BareFftw(const BareFftw&) = delete;
  BareFftw& operator=(const BareFftw&) = delete;

  void compute(const std::vector<float>& x, std::vector<float>& out) {
    const int64_t n = static_cast<int64_t>(x.size());
    const int64_t frames = n < n_ ? 0 : 1 + (n - n_) / hop_;
    out.resize(frames * bins_);
    for (int64_t f = 0; f < frames; ++f) {
      const float* s = x.data() + f * hop_;
      for (int i = 0; i < n_; ++i) in_[i] = s[i] * w_[i];
      fftwf_execute(plan_);
      float* row = out.data() + f * bins_;
      for (int k = 0; k < bins_; ++k) {
        const float p = out_[k][0] * out_[k][0] + out_[k][1] * out_[k][1];
        row[k] = std::log(p + 1e-10f);
      }
    }
  }

 private:
  int n_, hop_, bins_;
  float* in_;
  fftwf_complex* out_;
  fftwf_plan plan_;
  std::vector<float> w_;
};

}  // namespace ds2::bench
