// The DS2 log-power linear spectrogram (FFTW3, single precision).
//
// Frame f covers samples [f * hop, f * hop + window); only whole frames are produced. Each frame
// is multiplied by a Hamming window w[i] = 0.54 - 0.46 cos(2 pi i / (N - 1)), transformed with a
// real FFT of size N = window (no zero padding, no pre-emphasis, no dither) and reduced to the
// power |X[k]|^2 of bins k = 0 .. N/2, then compressed:
//   feature "log":   log(|X|^2 + 1e-10)
//   feature "log1p": log1p(|X|^2)
// Samples are in [-1, 1] (float32, as decode_audio returns them). Output is float32, row-major
// [frame][bin]. Defaults (16 kHz, 20 ms, 10 ms) give 320-sample windows, 160-sample hops, 161 bins.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/options.h"

namespace ds2::pipeline {

struct FeatureOptions {
  int sample_rate = 16000;      // Hz; audio is converted to this rate before featurizing
  double window_ms = 20;        // analysis window, milliseconds
  double hop_ms = 10;           // frame step, milliseconds
  std::string feature = "log";  // "log": log(|X|^2 + 1e-10); "log1p": log1p(|X|^2)

  // Registers --sample-rate, --window-ms, --hop-ms, --feature.
  void add_to(po::options_description& d);
  // Throws ConfigError (naming the option) unless the values make a usable featurizer.
  void validate() const;

  int window() const;  // samples per window: round(sample_rate * window_ms / 1000), 320
  int hop() const;     // samples per hop: round(sample_rate * hop_ms / 1000), 160
  int n_bins() const;  // window / 2 + 1 = 161 (the FFT size is the window)
};

// One per thread: holds an FFTW plan and its buffers. Construction and destruction take a
// process-wide lock (FFTW's planner is not thread-safe); compute() takes none.
// The plan is made with FFTW_ESTIMATE, so the output is bit-identical across runs, processes and
// objects of the same build on the same machine type.
class Featurizer {
 public:
  // Validates `o` (ConfigError) and plans the FFT.
  explicit Featurizer(const FeatureOptions& o);
  ~Featurizer();
  Featurizer(const Featurizer&) = delete;
  Featurizer& operator=(const Featurizer&) = delete;

  const FeatureOptions& options() const { return opt_; }
  int n_bins() const { return n_bins_; }
  // Frames for n samples: n < window ? 0 : 1 + (n - window) / hop.
  int64_t num_frames(int64_t n_samples) const;
  // Spectrogram of samples[0, n). `out` is resized to num_frames(n) * n_bins() floats, row-major
  // [frame][bin]. Samples must be finite. No allocation once `out` has the capacity.
  void compute(const float* samples, int64_t n, std::vector<float>& out);
  void compute(const std::vector<float>& samples, std::vector<float>& out) {
    compute(samples.data(), static_cast<int64_t>(samples.size()), out);
  }

 private:
  FeatureOptions opt_;
  int window_ = 0, hop_ = 0, n_bins_ = 0;
  bool log1p_ = false;
  float* in_ = nullptr;         // fftwf_malloc'd [window_]: the windowed frame
  float* out_ = nullptr;        // fftwf_malloc'd [n_bins_] complex as (re, im) pairs
  std::vector<float> hamming_;  // [window_]
  void* plan_ = nullptr;        // fftwf_plan (kept opaque so fftw3.h stays out of this header)
};

}  // namespace ds2::pipeline
