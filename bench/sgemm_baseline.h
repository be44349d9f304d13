// The one sgemm baseline of the CPU benchmarks (bench_model, bench_decode): what this machine's
// OpenBLAS reaches now, at a peak-ish shape, on a given number of threads.
//
// Shape: kSgemmBaselineShape, square 1536 x 1536 x 1536, row-major NN (7.2 GFLOP a call): large
// enough that OpenBLAS runs at its peak on 1-2 cores (on the 2-core development machine 1024^3,
// 2048^3 and the network's own largest GEMM, 176 x 12464 x 672, all came within a few percent of
// it), small enough to repeat a few times in half a second. A network's figure divided by this
// one is its "fraction of sgemm": the share of the machine's GEMM rate that the whole step,
// copies and elementwise work included, turns into the FLOPs it counts.
#pragma once

#include <cblas.h>

#include <algorithm>
#include <array>
#include <ctime>
#include <random>
#include <vector>

#include "core/timer.h"

namespace ds2::bench {

inline constexpr std::array<int, 3> kSgemmBaselineShape = {1536, 1536, 1536};

// Process CPU seconds (all threads).
inline double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

// GFLOP/s of cblas_sgemm at kSgemmBaselineShape on `threads` OpenBLAS threads, best of groups
// of 2 calls over about `seconds`. per_core = false: wall-clock rate of all threads together;
// true: per process CPU second (a per-core rate that a loaded machine does not lower as much).
// OpenBLAS is left at 1 thread afterwards (the CPU backend's setting).
inline double sgemm_baseline_gflops(int threads, bool per_core = false, double seconds = 0.5) {
  const int m = kSgemmBaselineShape[0], n = kSgemmBaselineShape[1], k = kSgemmBaselineShape[2];
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> a(static_cast<size_t>(m) * k), b(static_cast<size_t>(k) * n),
      c(static_cast<size_t>(m) * n);
  for (float& v : a) v = u(rng);
  for (float& v : b) v = u(rng);
  openblas_set_num_threads(threads);
  auto once = [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a.data(), k, b.data(), n,
                0.0f, c.data(), n);
  };
  once();
  double best = 0;
  Timer total;
  while (best == 0 || total.seconds() < seconds) {
    Timer t;
    const double c0 = process_cpu_seconds();
    for (int i = 0; i < 2; ++i) once();
    const double s = per_core ? process_cpu_seconds() - c0 : t.seconds();
    best = std::max(best, 2 * 2.0 * m * n * k / s / 1e9);
  }
  openblas_set_num_threads(1);
  return best;
}

}  // namespace ds2::bench
