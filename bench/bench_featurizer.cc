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

#include "core/options.h"
#include "core/timer.h"
#include "pipeline/featurizer.h"

namespace {

using ds2::pipeline::FeatureOptions;
using ds2::pipeline::Featurizer;

// Speech-like test signal: a few drifting harmonics plus noise, in [-1, 1].
std::vector<float> synth(double seconds, int rate) {
  std::vector<float> x(static_cast<size_t>(seconds * rate));
  std::mt19937 rng(42);
  std::normal_distribution<float> noise(0.0f, 0.02f);
  for (size_t i = 0; i < x.size(); ++i) {
    const double t = static_cast<double>(i) / rate;
    const double f0 = 120 + 40 * std::sin(2 * M_PI * 0.7 * t);
    double v = 0;
    for (int h = 1; h <= 5; ++h) v += 0.12 / h * std::sin(2 * M_PI * f0 * h * t);
    x[i] = static_cast<float>(v) + noise(rng);
  }
  return x;
}

// The baseline: per-frame FFTW execution and std::log.
class BareFftw {
 public:
  explicit BareFftw(const FeatureOptions& o) : n_(o.window()), hop_(o.hop()), bins_(o.n_bins()) {
    in_ = fftwf_alloc_real(n_);
    out_ = fftwf_alloc_complex(bins_);
    plan_ = fftwf_plan_dft_r2c_1d(n_, in_, out_, FFTW_ESTIMATE);
    w_.resize(n_);
    for (int i = 0; i < n_; ++i) {
      w_[i] = static_cast<float>(0.54 - 0.46 * std::cos(2 * M_PI * i / (n_ - 1)));
    }
  }
  ~BareFftw() {
    fftwf_destroy_plan(plan_);
    fftwf_free(in_);
    fftwf_free(out_);
  }
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
  ds2::po::variables_map vm;
  ds2::po::store(ds2::po::parse_command_line(argc, argv, desc), vm);
  ds2::po::notify(vm);
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return 0;
  }

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
