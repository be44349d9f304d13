// Small test signals and an independent frequency estimate, shared by the augment tests.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

namespace ds2::augment::test {

inline std::vector<float> sine(double freq_hz, double seconds, int rate, float amp = 0.5f) {
  const size_t n = static_cast<size_t>(seconds * rate);
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i)
    x[i] = amp * static_cast<float>(std::sin(2 * M_PI * freq_hz * static_cast<double>(i) / rate));
  return x;
}

// Deterministic white-ish noise in [-amp, amp] (an LCG; independent of the code under test).
inline std::vector<float> lcg_noise(size_t n, uint32_t seed, float amp = 0.3f) {
  std::vector<float> x(n);
  uint32_t s = seed;
  for (auto& v : x) {
    s = s * 1664525u + 1013904223u;
    v = amp * (static_cast<float>(s >> 8) / 8388608.0f - 1.0f);
  }
  return x;
}

// Frequency (Hz) of the strongest component between lo and hi, by a direct DFT (Goertzel power)
// of the middle half of `x`, scanned in `step` Hz.
inline double peak_frequency(const std::vector<float>& x, int rate, double lo, double hi,
                             double step = 2.0) {
  const size_t b = x.size() / 4, e = x.size() - x.size() / 4;
  double best_f = lo, best_p = -1;
  for (double f = lo; f <= hi; f += step) {
    const double w = 2 * M_PI * f / rate, c = 2 * std::cos(w);
    double s1 = 0, s2 = 0;
    for (size_t i = b; i < e; ++i) {
      const double s0 = x[i] + c * s1 - s2;
      s2 = s1;
      s1 = s0;
    }
    const double p = s1 * s1 + s2 * s2 - c * s1 * s2;
    if (p > best_p) best_p = p, best_f = f;
  }
  return best_f;
}

}  // namespace ds2::augment::test
