// Benchmark: forward + backward (CTC included) of a DS2 network on the CPU backend.
//
// For each thread count: the network's training step on a batch of N utterances x T frames
// x 161 bins (defaults: ds2-small, 16 x 600 = 6 s of audio each) -> frames/s and achieved
// GFLOP/s (convs, recurrent GEMMs and FC layers, forward + backward: Network::train_flops),
// and the same run's OpenBLAS sgemm rate at the same thread count (bench/sgemm_baseline.h, the
// benchmarks' one baseline), so the figure is a ratio to a baseline measured on this machine,
// now; then the step's wall time per layer and pass (Network::set_profile). Peak RSS at the end.
//   bench_model [--config share/configs/ds2-small.ini] [--batch 16] [--frames 600]
//               [--threads "1 2"] [--iters 2] [--warmup 1]
#include <cstdio>
#include <sstream>
#include <vector>

#include "bench/bench_options.h"
#include "bench/sgemm_baseline.h"
#include "core/blas_kernels.h"
#include "core/options.h"
#include "core/timer.h"
#include "model/network.h"
#include "tests/model/gradcheck.h"

using namespace ds2;
using namespace ds2::model;

int main(int argc, char** argv) {
  // As ds2 itself: OpenBLAS's kernels for this CPU, not its generic fallback (core/blas_kernels.h).
  ds2::use_native_blas_kernels(openblas_get_corename(), argv);
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

  std::printf("# bench_model: %s, batch %d x %d frames x %d bins, %d timed iterations\n",
              config.c_str(), batch, frames, cfg.n_bins, iters);
  const std::string blas_note = blas_kernels_note(openblas_get_corename());
  std::printf("# OpenBLAS kernels %s%s%s\n", openblas_get_corename(), blas_note.empty() ? "" : ": ",
              blas_note.c_str());
  std::printf("# sgemm baseline %d x %d x %d (bench/sgemm_baseline.h); train GFLOP per step %.1f\n",
              bench::kSgemmBaselineShape[0], bench::kSgemmBaselineShape[1],
              bench::kSgemmBaselineShape[2], Network(cfg, false).train_flops(batch, frames) / 1e9);
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
    const double base = bench::sgemm_baseline_gflops(threads);
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
