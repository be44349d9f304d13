// Spectrogram computation; see featurizer.h for the definition of the features.
//
// Speed: this is prep's hot loop. Per frame: window into the plan's aligned input buffer,
// fftwf_execute (about 0.23 us for N = 320 with FFTW's AVX codelets), then power and log fused in
// one pass that GCC auto-vectorizes. The log is a branch-free float log (Cephes logf: exponent
// split + degree-9 polynomial, ~1 ulp) because a scalar libm call per bin costs more than the FFT
// itself. (Planning several frames per execution was measured too: FFTW just loops, no gain.)
#include "pipeline/featurizer.h"

#include <fftw3.h>

#include <cmath>
#include <cstring>
#include <mutex>

#include "core/error.h"

namespace ds2::pipeline {
namespace {

constexpr float kLogFloor = 1e-10f;

// FFTW's planner (plan creation and destruction) is not thread-safe; execution is.
std::mutex& fftw_planner_mutex() {
  static std::mutex mu;
  return mu;
}

// Natural log of a positive normal float, ~1 ulp (Cephes logf). Branch-free so loops over it
// vectorize; no errno, no special cases (callers guarantee x >= 1e-10 or x >= 1).
inline float log_pos(float x) {
  // x = 2^k * z with z in [sqrt(1/2), sqrt(2)), found by integer arithmetic on the bits (as in
  // musl's logf) so that loops over this function if-convert and vectorize.
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  const uint32_t tmp = bits - 0x3f3504f3u;  // bits of sqrt(1/2)
  const int32_t k = static_cast<int32_t>(tmp) >> 23;
  bits -= tmp & 0xff800000u;
  float zm;
  std::memcpy(&zm, &bits, sizeof zm);
  const float ef = static_cast<float>(k);
  const float t = zm - 1.0f;
  const float z = t * t;
  float y = 7.0376836292e-2f;
  y = y * t - 1.1514610310e-1f;
  y = y * t + 1.1676998740e-1f;
  y = y * t - 1.2420140846e-1f;
  y = y * t + 1.4249322787e-1f;
  y = y * t - 1.6668057665e-1f;
  y = y * t + 2.0000714765e-1f;
  y = y * t - 2.4999993993e-1f;
  y = y * t + 3.3333331174e-1f;
  y = y * t * z;
  y += -2.12194440e-4f * ef;  // ln 2 split into 0.693359375 - 2.12194440e-4 for accuracy
  y += -0.5f * z;
  return t + y + 0.693359375f * ef;
}

// out[k] = log(re^2 + im^2 + 1e-10) over n bins of interleaved complex input.
void log_power(const float* __restrict c, float* __restrict out, int n) {
  for (int k = 0; k < n; ++k) {
    const float re = c[2 * k], im = c[2 * k + 1];
    out[k] = log_pos(re * re + im * im + kLogFloor);
  }
}

// out[k] = log1p(p), p = re^2 + im^2, computed as log(u) - ((u - 1) - p) / u with u = fl(1 + p):
// the second term corrects the rounding of u to first order, so tiny p (u == 1) gives p.
void log1p_power(const float* __restrict c, float* __restrict out, int n) {
  for (int k = 0; k < n; ++k) {
    const float re = c[2 * k], im = c[2 * k + 1];
    const float p = re * re + im * im;
    const float u = 1.0f + p;
    out[k] = log_pos(u) - ((u - 1.0f) - p) / u;
  }
}

int round_samples(int rate, double ms) {
  return static_cast<int>(std::lround(static_cast<double>(rate) * ms / 1000.0));
}

}  // namespace

void FeatureOptions::add_to(po::options_description& d) {
  // clang-format off
  d.add_options()
      ("sample-rate", po::value(&sample_rate)->default_value(sample_rate),
       "audio is converted to this rate (Hz) before featurizing")
      ("window-ms", po::value(&window_ms)->default_value(window_ms),
       "spectrogram window (ms); the FFT size equals the window")
      ("hop-ms", po::value(&hop_ms)->default_value(hop_ms), "spectrogram frame step (ms)")
      ("feature", po::value(&feature)->default_value(feature),
       "log: log(|X|^2 + 1e-10); log1p: log1p(|X|^2)");
  // clang-format on
}

void FeatureOptions::validate() const {
  DS2_REQUIRE(sample_rate > 0, ConfigError, "--sample-rate must be positive, got {}", sample_rate);
  DS2_REQUIRE(window_ms > 0 && window() >= 2, ConfigError,
              "--window-ms {} gives a window of {} samples at {} Hz (need at least 2)", window_ms,
              window(), sample_rate);
  DS2_REQUIRE(hop_ms > 0 && hop() >= 1, ConfigError,
              "--hop-ms {} gives a hop of {} samples at {} Hz (need at least 1)", hop_ms, hop(),
              sample_rate);
  DS2_REQUIRE(feature == "log" || feature == "log1p", ConfigError,
              "--feature must be 'log' or 'log1p', got '{}'", feature);
}

int FeatureOptions::window() const { return round_samples(sample_rate, window_ms); }
int FeatureOptions::hop() const { return round_samples(sample_rate, hop_ms); }
int FeatureOptions::n_bins() const { return window() / 2 + 1; }

Featurizer::Featurizer(const FeatureOptions& o) : opt_(o) {
  opt_.validate();
  window_ = opt_.window();
  hop_ = opt_.hop();
  n_bins_ = opt_.n_bins();
  log1p_ = opt_.feature == "log1p";

  hamming_.resize(window_);
  const double two_pi = 2.0 * 3.14159265358979323846;
  for (int i = 0; i < window_; ++i) {
    hamming_[i] = static_cast<float>(0.54 - 0.46 * std::cos(two_pi * i / (window_ - 1)));
  }

  std::lock_guard<std::mutex> lock(fftw_planner_mutex());
  in_ = fftwf_alloc_real(window_);
  out_ = reinterpret_cast<float*>(fftwf_alloc_complex(n_bins_));
  if (!in_ || !out_) {
    fftwf_free(in_);
    fftwf_free(out_);
    DS2_THROW(Error, "featurizer: fftwf_malloc failed (window {})", window_);
  }
  std::memset(in_, 0, sizeof(float) * window_);
  fftwf_plan p =
      fftwf_plan_dft_r2c_1d(window_, in_, reinterpret_cast<fftwf_complex*>(out_), FFTW_ESTIMATE);
  if (!p) {
    fftwf_free(in_);
    fftwf_free(out_);
    DS2_THROW(Error, "featurizer: FFTW could not plan a {}-point r2c transform", window_);
  }
  plan_ = p;
}

Featurizer::~Featurizer() {
  std::lock_guard<std::mutex> lock(fftw_planner_mutex());
  fftwf_destroy_plan(static_cast<fftwf_plan>(plan_));
  fftwf_free(in_);
  fftwf_free(out_);
}

int64_t Featurizer::num_frames(int64_t n_samples) const {
  return n_samples < window_ ? 0 : 1 + (n_samples - window_) / hop_;
}

void Featurizer::compute(const float* samples, int64_t n, std::vector<float>& out) {
  const int64_t frames = num_frames(n);
  out.resize(static_cast<size_t>(frames * n_bins_));
  const float* w = hamming_.data();
  const auto plan = static_cast<fftwf_plan>(plan_);
  for (int64_t f = 0; f < frames; ++f) {
    const float* s = samples + f * hop_;
    float* __restrict in = in_;
    for (int i = 0; i < window_; ++i) in[i] = s[i] * w[i];
    fftwf_execute(plan);
    float* row = out.data() + f * n_bins_;
    if (log1p_) {
      log1p_power(out_, row, n_bins_);
    } else {
      log_power(out_, row, n_bins_);
    }
  }
}

}  // namespace ds2::pipeline
