// Featurizer throughput against a bare FFTW loop measured in the same run.
//
// Baseline (a): the textbook loop -- one 320-point r2c plan (FFTW_ESTIMATE), and per frame:
// window, fftwf_execute, |X|^2, std::log(p + 1e-10). (b): pipeline::Featurizer::compute.
// Both run single-threaded over the same synthetic audio; the figure is seconds of audio per
// second of one core ("x real time"), the best of --iters runs (the two variants
// alternate, so both see the same machine load) after --warmup runs.
// Correctness check (on by default): the largest |(b) - (a)| over all features.
//
//   bench_featurizer [--seconds 60] [--iters 20] [--warmup 2] [--check 1] [--csv FILE]
#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
#include <vector>

#include "bench/bench_options.h"
#include "bench/bench_util.h"
#include "core/options.h"
#include "core/timer.h"
#include "pipeline/featurizer.h"

namespace {

using ds2::pipeline::FeatureOptions;
using ds2::pipeline::Featurizer;

using ds2::bench::BareFftw;

std::vector<float> synth(double seconds, int rate) {
  return ds2::bench::synth_speech(seconds, rate);
}

// Best-of-`iters` seconds of two runs, alternated so both see the same machine load.
template <typename A, typename B>
std::pair<double, double> best_seconds(int warmup, int iters, A&& run_a, B&& run_b) {
  for (int i = 0; i < warmup; ++i) {
    run_a();
    run_b();
  }
  double best_a = 1e30, best_b = 1e30;
  for (int i = 0; i < iters; ++i) {
    ds2::Timer t;
    run_a();
    best_a = std::min(best_a, t.seconds());
    t.reset();
    run_b();
    best_b = std::min(best_b, t.seconds());
  }
  return {best_a, best_b};
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 60;
  int iters = 20, warmup = 2, check = 1;
  std::string csv;
  ds2::po::options_description desc("bench_featurizer");
  // clang-format off
  desc.add_options()
      ("help,h", "usage")
      ("seconds", ds2::po::value(&seconds)->default_value(seconds), "audio length (s)")
      ("iters", ds2::po::value(&iters)->default_value(iters), "timed runs (best is reported)")
      ("warmup", ds2::po::value(&warmup)->default_value(warmup), "untimed runs first")
      ("check", ds2::po::value(&check)->default_value(check), "compare (b) with (a)")
      ("csv", ds2::po::value(&csv), "also write the table as CSV to this file");
  // clang-format on
  if (!ds2::bench::parse_options(argc, argv, desc)) return 0;

  FeatureOptions opt;
  const std::vector<float> x = synth(seconds, opt.sample_rate);
  BareFftw bare(opt);
  Featurizer feat(opt);
  std::vector<float> a, b;
  const auto [ta, tb] = best_seconds(
      warmup, iters, [&] { bare.compute(x, a); }, [&] { feat.compute(x, b); });

  const double xa = seconds / ta, xb = seconds / tb;
  std::printf(
      "featurizer: %.0f s of 16 kHz audio, %zu frames x %d bins, best of %d runs, "
      "1 thread\n",
      seconds, b.size() / opt.n_bins(), opt.n_bins(), iters);
  std::printf("%-28s %10s %16s %8s\n", "variant", "seconds", "x-realtime/core", "ratio");
  std::printf("%-28s %10.4f %16.0f %8.2f\n", "(a) bare FFTW + std::log", ta, xa, 1.0);
  std::printf("%-28s %10.4f %16.0f %8.2f\n", "(b) Featurizer::compute", tb, xb, xb / xa);
  if (check) {
    double worst = 0;
    for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
      worst = std::max(worst, static_cast<double>(std::abs(a[i] - b[i])));
    }
    std::printf("check: %zu vs %zu values, max |(b)-(a)| = %.3g (log domain)%s\n", a.size(),
                b.size(), worst, a.size() == b.size() && worst < 1e-3 ? "" : "  MISMATCH");
    if (a.size() != b.size() || worst >= 1e-3) return 1;
  }
  std::printf("peak RSS: %.1f MiB\n", ds2::peak_rss_mib());
  if (!csv.empty()) {
    std::ofstream out(csv);
    out << "variant,seconds,x_realtime_per_core,ratio\n"
        << "bare_fftw," << ta << "," << xa << ",1\n"
        << "featurizer," << tb << "," << xb << "," << xb / xa << "\n";
  }
  return 0;
}
