// CTC loss + gradient on the CPU: ds2::model::ctc_loss_cpu against a textbook reference
// measured in the same run (full T x S alpha and beta tables in log space, std::exp/std::log,
// no band, one utterance at a time on one thread -- the shape of warp-ctc's CPU path).
//
//   bench_ctc [--iters N] [--warmup N] [--csv] [--no-check] [--threads 1,2] [--batch 32,64]
//             [--time 150,300,700] [--alphabet 29] [--isa auto|baseline|avx2|avx512]
//
// Activations are N(0, 1), labels uniform over 1..C-1 of length T/4, every utterance T frames.
// Columns: ms = wall milliseconds per minibatch (loss + gradient), cpu_ms = CPU milliseconds of
// all threads, the same for the reference (always serial), speedup = ref_ms / ms (wall),
// cpu_x = ref_cpu / cpu_ms (work ratio, robust when other jobs share the machine), ns/cell =
// CPU nanoseconds per lattice cell (T * (2L + 1) cells per utterance), peak RSS in MiB. The
// check compares costs (relative 1e-6) and gradients (absolute 1e-5) with the reference.
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_options.h"
#include "core/timer.h"
#include "model/ctc.h"
#include "tests/testutil.h"

namespace {

// CPU seconds of this process (all threads): with other jobs on the machine, wall time
// overstates the work; CPU time does not (for one thread it is the work itself).
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double log_add(double a, double b) {
  const double ninf = -std::numeric_limits<double>::infinity();
  if (a == ninf) return b;
  if (b == ninf) return a;
  return std::max(a, b) + std::log1p(std::exp(-std::fabs(a - b)));
}

// Textbook CTC for one utterance (T frames of act with row stride `stride`), blank 0.
// Tables and buffers are owned by the caller so the timing excludes allocation.
struct Reference {
  std::vector<double> lsm, alpha, beta, acc;

  double run(const float* act, size_t stride, int T, int C, const int32_t* lab, int L,
             float* grad) {
    const double ninf = -std::numeric_limits<double>::infinity();
    const int S = 2 * L + 1;
    lsm.assign(static_cast<size_t>(T) * C, 0);
    alpha.assign(static_cast<size_t>(T) * S, ninf);
    beta.assign(static_cast<size_t>(T) * S, ninf);
    acc.assign(C, ninf);
    for (int t = 0; t < T; ++t) {
      const float* a = act + t * stride;
      double m = a[0], sum = 0;
      for (int c = 1; c < C; ++c) m = std::max(m, static_cast<double>(a[c]));
      for (int c = 0; c < C; ++c) sum += std::exp(a[c] - m);
      for (int c = 0; c < C; ++c) lsm[t * C + c] = a[c] - m - std::log(sum);
    }
    auto lab_at = [&](int s) { return (s & 1) ? lab[s / 2] : 0; };
    auto skip = [&](int s) { return (s & 1) && s >= 2 && lab_at(s) != lab_at(s - 2); };
    alpha[0] = lsm[lab_at(0)];
    if (S > 1) alpha[1] = lsm[lab_at(1)];
    for (int t = 1; t < T; ++t)
      for (int s = 0; s < S; ++s) {
        double v = alpha[(t - 1) * S + s];
        if (s >= 1) v = log_add(v, alpha[(t - 1) * S + s - 1]);
        if (skip(s)) v = log_add(v, alpha[(t - 1) * S + s - 2]);
        alpha[t * S + s] = v + lsm[t * C + lab_at(s)];
      }
    const double log_p =
        log_add(alpha[(T - 1) * S + S - 1], S > 1 ? alpha[(T - 1) * S + S - 2] : ninf);
    beta[(T - 1) * S + S - 1] = lsm[(T - 1) * C + lab_at(S - 1)];
    if (S > 1) beta[(T - 1) * S + S - 2] = lsm[(T - 1) * C + lab_at(S - 2)];
    for (int t = T - 2; t >= 0; --t)
      for (int s = 0; s < S; ++s) {
        double v = beta[(t + 1) * S + s];
        if (s + 1 < S) v = log_add(v, beta[(t + 1) * S + s + 1]);
        if (s + 2 < S && skip(s + 2)) v = log_add(v, beta[(t + 1) * S + s + 2]);
        beta[t * S + s] = v + lsm[t * C + lab_at(s)];
      }
    for (int t = 0; t < T; ++t) {
      std::fill(acc.begin(), acc.end(), ninf);
      for (int s = 0; s < S; ++s) {
        const int c = lab_at(s);
        acc[c] = log_add(acc[c], alpha[t * S + s] + beta[t * S + s] - lsm[t * C + c]);
      }
      for (int c = 0; c < C; ++c)
        grad[t * stride + c] =
            static_cast<float>(std::exp(lsm[t * C + c]) - std::exp(acc[c] - log_p));
    }
    return -log_p;
  }
};

}  // namespace

int main(int argc, char** argv) {
  int iters = 3, warmup = 1, alphabet = 29;
  bool csv = false, no_check = false;
  std::string isa_name = "auto", threads_list = "1,2", batch_list = "32,64",
              time_list = "150,300,700";
  ds2::po::options_description desc("bench_ctc");
  // clang-format off
  desc.add_options()("help,h", "usage")
      ("iters", ds2::po::value(&iters)->default_value(iters), "timed minibatches (at least 1)")
      ("warmup", ds2::po::value(&warmup)->default_value(warmup), "untimed minibatches first")
      ("csv", ds2::po::bool_switch(&csv), "print the table as CSV")
      ("no-check", ds2::po::bool_switch(&no_check), "skip the comparison with the reference")
      ("threads", ds2::po::value(&threads_list)->default_value(threads_list),
       "thread counts, comma-separated")
      ("batch", ds2::po::value(&batch_list)->default_value(batch_list),
       "minibatch sizes N, comma-separated")
      ("time", ds2::po::value(&time_list)->default_value(time_list),
       "frames per utterance T, comma-separated")
      ("alphabet", ds2::po::value(&alphabet)->default_value(alphabet), "classes C (blank included)")
      ("isa", ds2::po::value(&isa_name)->default_value(isa_name),
       "CTC kernel: auto, baseline, avx2 or avx512");
  // clang-format on
  if (!ds2::bench::parse_options(argc, argv, desc)) return 0;
  iters = std::max(1, iters);
  warmup = std::max(0, warmup);
  const bool check = !no_check;
  const std::vector<int> threads = ds2::test::parse_int_list(threads_list),
                         batches = ds2::test::parse_int_list(batch_list),
                         times = ds2::test::parse_int_list(time_list);
  const char* names[] = {"auto", "baseline", "avx2", "avx512"};
  const auto* it = std::find(std::begin(names), std::end(names), isa_name);
  if (it == std::end(names)) {
    std::fprintf(stderr, "bench_ctc: --isa must be auto, baseline, avx2 or avx512\n");
    return 2;
  }
  const auto isa = static_cast<ds2::model::CtcCpuIsa>(it - std::begin(names));
  if (!ds2::model::ctc_cpu_isa_available(isa)) {
    std::fprintf(stderr, "bench_ctc: --isa %s is not available on this CPU\n", isa_name.c_str());
    return 2;
  }
  const int C = alphabet;
  if (!csv)
    std::printf(
        "# bench_ctc: alphabet %d, label length T/4, %d iterations after %d warm-up, "
        "kernel %s\n",
        C, iters, warmup, isa_name.c_str());
  if (csv)
    std::printf(
        "T,N,L,threads,ms,cpu_ms,ref_ms,ref_cpu_ms,speedup,cpu_ratio,ns_per_cell,"
        "ref_ns_per_cell,rss_mib,check\n");
  else
    std::printf("%5s %4s %4s %3s %9s %9s %9s %9s %7s %7s %7s %7s %7s %s\n", "T", "N", "L", "thr",
                "ms", "cpu_ms", "ref_ms", "ref_cpu", "speedup", "cpu_x", "ns/cell", "ref_ns",
                "rss_MiB", "check");
  bool all_ok = true;
  std::mt19937 rng(1234);
  for (int T : times)
    for (int N : batches) {
      const int L = T / 4, S = 2 * L + 1;
      ds2::model::CtcShape shape{T, N, C, L};
      std::vector<float> act(static_cast<size_t>(T) * N * C), grad(act.size()),
          ref_grad(act.size());
      std::normal_distribution<float> normal(0.f, 1.f);
      for (float& x : act) x = normal(rng);
      std::uniform_int_distribution<int32_t> sym(1, C - 1);
      std::vector<int32_t> labels(static_cast<size_t>(N) * L), label_lengths(N, L),
          input_lengths(N, T);
      for (int32_t& l : labels) l = sym(rng);
      std::vector<float> costs(N), ref_costs(N);
      std::vector<uint8_t> impossible(N);
      std::vector<char> ws(ds2::model::ctc_cpu_workspace_bytes(shape));
      const double cells = static_cast<double>(N) * T * S;

      // Reference: serial, one utterance at a time.
      Reference ref;
      double ref_s = 0, ref_cpu = 0;
      for (int it = 0; it < iters; ++it) {
        ds2::Timer timer;
        const double c0 = cpu_seconds();
        for (int n = 0; n < N; ++n)
          ref_costs[n] = static_cast<float>(
              ref.run(act.data() + static_cast<size_t>(n) * C, static_cast<size_t>(N) * C, T, C,
                      labels.data() + static_cast<size_t>(n) * L, L, ref_grad.data() + n * C));
        ref_cpu += cpu_seconds() - c0;
        ref_s += timer.seconds();
      }
      const double ref_ms = 1e3 * ref_s / iters, ref_cpu_ms = 1e3 * ref_cpu / iters;

      for (int th : threads) {
        for (int it = 0; it < warmup; ++it)
          ds2::model::ctc_loss_cpu(act.data(), grad.data(), labels.data(), label_lengths.data(),
                                   input_lengths.data(), shape, costs.data(), impossible.data(),
                                   ws.data(), th, 0, isa);
        ds2::Timer timer;
        const double c0 = cpu_seconds();
        for (int it = 0; it < iters; ++it)
          ds2::model::ctc_loss_cpu(act.data(), grad.data(), labels.data(), label_lengths.data(),
                                   input_lengths.data(), shape, costs.data(), impossible.data(),
                                   ws.data(), th, 0, isa);
        const double cpu_ms = 1e3 * (cpu_seconds() - c0) / iters;
        const double ms = 1e3 * timer.seconds() / iters;
        bool ok = true;
        if (check) {
          for (int n = 0; n < N; ++n)
            ok = ok && !impossible[n] &&
                 std::fabs(costs[n] - ref_costs[n]) <= 1e-6 * std::fabs(ref_costs[n]) + 1e-6;
          for (size_t i = 0; i < grad.size(); ++i)
            ok = ok && std::fabs(grad[i] - ref_grad[i]) <= 1e-5;
          all_ok = all_ok && ok;
        }
        const char* verdict = check ? (ok ? "ok" : "MISMATCH") : "off";
        const double ns = cpu_ms * 1e6 / cells, ref_ns = ref_cpu_ms * 1e6 / cells;
        if (csv)
          std::printf("%d,%d,%d,%d,%.3f,%.3f,%.3f,%.3f,%.2f,%.2f,%.2f,%.2f,%.1f,%s\n", T, N, L, th,
                      ms, cpu_ms, ref_ms, ref_cpu_ms, ref_ms / ms, ref_cpu_ms / cpu_ms, ns, ref_ns,
                      ds2::peak_rss_mib(), verdict);
        else
          std::printf("%5d %4d %4d %3d %9.2f %9.2f %9.2f %9.2f %7.2f %7.2f %7.2f %7.2f %7.1f %s\n",
                      T, N, L, th, ms, cpu_ms, ref_ms, ref_cpu_ms, ref_ms / ms, ref_cpu_ms / cpu_ms,
                      ns, ref_ns, ds2::peak_rss_mib(), verdict);
        std::fflush(stdout);
      }
    }
  if (!all_ok) {
    std::fprintf(stderr, "bench_ctc: results differ from the reference\n");
    return 1;
  }
  return 0;
}
