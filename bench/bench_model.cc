// Benchmark: forward + backward (CTC included) of a DS2 network on the CPU backend.
//
// For each thread count: the network's training step on a batch of N utterances x T frames
// x 161 bins (defaults: ds2-small, 16 x 600 = 6 s of audio each) -> frames/s and achieved
// GFLOP/s (convs, recurrent GEMMs and FC layers, forward + backward: Network::train_flops),
// and the same run's OpenBLAS sgemm rate at the network's dominant GEMM shape (the second conv
// layer's chunk GEMM, ConvSpec::gemm_shape), so the figure is a ratio to
// a baseline measured on this machine, now. Peak RSS at the end.
//   bench_model [--config share/configs/ds2-small.ini] [--batch 16] [--frames 600]
//               [--threads "1 2"] [--iters 2] [--warmup 1]
#include <cblas.h>

#include <cstdio>
#include <sstream>
#include <vector>

#include "bench/bench_options.h"
#include "core/options.h"
#include "core/timer.h"
#include "model/conv.h"
#include "model/network.h"
#include "tests/model/gradcheck.h"

using namespace ds2;
using namespace ds2::model;

namespace {

// sgemm GFLOP/s at (m, n, k), row-major NN, best of a few repetitions for ~0.5 s.
double sgemm_gflops(int m, int n, int k) {
  std::vector<float> a = test::random_vector(static_cast<size_t>(m) * k, 1);
  std::vector<float> b = test::random_vector(static_cast<size_t>(k) * n, 2);
  std::vector<float> c(static_cast<size_t>(m) * n);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a.data(), k, b.data(), n,
              0.0f, c.data(), n);
  double best = 0;
  Timer total;
  while (total.seconds() < 0.5) {
    Timer t;
    for (int i = 0; i < 4; ++i)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a.data(), k, b.data(),
                  n, 0.0f, c.data(), n);
    best = std::max(best, 4 * 2.0 * m * n * k / t.seconds() / 1e9);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config = std::string(DS2_SOURCE_ROOT) + "/share/configs/ds2-small.ini";
  std::string threads_list = "1 2";
  int batch = 16, frames = 600, iters = 2, warmup = 1;
  po::options_description desc("bench_model");
  desc.add_options()("config", po::value(&config), "model INI")("batch", po::value(&batch),
                                                                "utterances per batch")(
      "frames", po::value(&frames), "frames per utterance")("threads", po::value(&threads_list),
                                                            "thread counts")(
      "iters", po::value(&iters), "timed iterations")("warmup", po::value(&warmup),
                                                      "warm-up iterations")("help", "usage");
  if (!ds2::bench::parse_options(argc, argv, desc)) return 0;
  ModelConfig cfg = ModelConfig::from_ini_file(config);
  std::vector<int32_t> lengths(batch, frames), label_lengths(batch, frames / 8);
  std::vector<int32_t> labels;
  for (int j = 0; j < batch; ++j)
    for (int k = 0; k < label_lengths[j]; ++k)
      labels.push_back(1 + (j + 3 * k) % (cfg.alphabet_size - 1));
  std::vector<float> x = test::random_vector(static_cast<size_t>(batch) * frames * cfg.n_bins, 3);

  // Dominant GEMM: the conv layer with the most FLOPs, at the chunk shape conv.cc uses.
  const auto convs = cfg.conv_layers();
  int gm = cfg.rnn_hidden, gn = batch * cfg.out_length(frames), gk = cfg.rnn_input();
  double best_fl = 0;
  int f = cfg.n_bins, c = 1;
  for (const auto& cl : convs) {
    ConvSpec s;
    s.c_in = c, s.c_out = cl.filters, s.kf = cl.kf, s.kt = cl.kt, s.sf = cl.sf, s.st = cl.st;
    s.f_in = f;
    const double fl = 2.0 * s.c_out * c * s.kf * s.kt * s.f_out() * s.out_length(frames);
    if (fl > best_fl) {
      best_fl = fl;
      const auto shape = s.gemm_shape(s.out_length(frames));
      gm = shape[0], gn = shape[1], gk = shape[2];
    }
    f = s.f_out();
    c = s.c_out;
  }

  std::printf("# bench_model: %s, batch %d x %d frames x %d bins, %d timed iterations\n",
              config.c_str(), batch, frames, cfg.n_bins, iters);
  std::printf("# dominant GEMM (m x n x k) = %d x %d x %d; train GFLOP per step %.1f\n", gm, gn, gk,
              Network(cfg, false).train_flops(batch, frames) / 1e9);
  std::printf("%8s %10s %12s %10s %14s %8s %12s\n", "threads", "step_s", "frames/s", "GFLOP/s",
              "sgemm_GFLOP/s", "ratio", "params");
  std::istringstream tl(threads_list);
  for (int threads; tl >> threads;) {
    cfg.num_threads = threads;
    Network net(cfg);
    const double flops = net.train_flops(batch, frames);
    for (int i = 0; i < warmup; ++i) {
      net.zero_grad();
      net.forward_backward(x.data(), lengths.data(), batch, frames, labels.data(),
                           label_lengths.data());
    }
    LayerProfile prof;
    net.set_profile(&prof);
    Timer t;
    for (int i = 0; i < iters; ++i) {
      net.zero_grad();
      LossResult r = net.forward_backward(x.data(), lengths.data(), batch, frames, labels.data(),
                                          label_lengths.data());
      if (!r.all_finite()) std::fprintf(stderr, "warning: non-finite loss\n");
    }
    const double step = t.seconds() / iters;
    net.set_profile(nullptr);
    const double gflops = flops / step / 1e9;
    // Baseline: OpenBLAS's own threading at the same thread count (the backend keeps OpenBLAS
    // at 1 thread and splits GEMMs over OpenMP itself).
    openblas_set_num_threads(threads);
    const double base = sgemm_gflops(gm, gn, gk);
    openblas_set_num_threads(1);
    std::printf("%8d %10.3f %12.0f %10.1f %14.1f %8.2f %12zu\n", threads, step,
                batch * frames / step, gflops, base, gflops / base, net.num_params());
    std::printf("#   per layer (s/step, share of step):");
    for (size_t i = 0; i < prof.names.size(); ++i)
      std::printf("%s %s %.3f %.0f%%", i ? "," : "", prof.names[i].c_str(), prof.seconds[i] / iters,
                  100 * prof.seconds[i] / iters / step);
    std::printf("\n");
    std::fflush(stdout);
  }
  std::printf("# peak RSS %.0f MiB\n", peak_rss_mib());
  return 0;
}
