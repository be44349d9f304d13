// Benchmark for a GPU machine (bench/gpu_check.sh runs it): what the CUDA backend achieves
// against the device's own cuBLAS peak measured in the same run.
//   peak   cuBLAS sgemm at 8192^3 (row-major NN through Backend::gemm), FP32 and TF32 tensor
//          cores (a second CudaBackend with TF32 math): TFLOP/s, best of a few.
//   model  for each --configs entry: a training step (forward + CTC + backward, Network on the
//          cuda backend, fp32) on --batch x --frames: seconds per step, TFLOP/s from
//          Network::train_flops, and that as a fraction of both peaks.
//   ctc    CTC loss + gradient, cuda backend vs cpu backend (all threads) at (T, N, C) =
//          (--ctc-time, --ctc-batch, 29): milliseconds each, speedup, and the largest relative
//          cost difference (check).
// Without a usable device (or a build without CUDA) it says so and exits 77.
//   bench_gpu [--configs "share/configs/ds2-small.ini share/configs/ds2-paper.ini"]
//             [--batch 32] [--frames 700] [--iters 5] [--ctc-time 300] [--ctc-batch 64]
#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_options.h"
#include "core/options.h"
#include "core/timer.h"
#include "ds2/config.h"
#include "model/ctc.h"
#include "model/network.h"
#include "tests/model/gradcheck.h"
#ifdef DS2_HAS_CUDA
#include "model/cuda/cuda_backend.h"
#endif

using namespace ds2;
using namespace ds2::model;

#ifdef DS2_HAS_CUDA
namespace {

void sync(Backend& be) { static_cast<cuda::CudaBackend&>(be).synchronize(); }

double gemm_tflops(Backend& be, int n) {
  Buffer a(&be, size_t(n) * n), b(&be, size_t(n) * n), c(&be, size_t(n) * n);
  const auto h = test::random_vector(size_t(n) * n, 1);
  be.upload(a.data(), h.data(), h.size());
  be.upload(b.data(), h.data(), h.size());
  be.gemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
  sync(be);
  double best = 0;
  for (int r = 0; r < 5; ++r) {
    Timer t;
    for (int i = 0; i < 4; ++i)
      be.gemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    sync(be);
    best = std::max(best, 4 * 2.0 * n * n * double(n) / t.seconds() / 1e12);
  }
  return best;
}

}  // namespace
#endif

int main(int argc, char** argv) {
  std::string configs = std::string(DS2_SOURCE_ROOT) + "/share/configs/ds2-small.ini " +
                        DS2_SOURCE_ROOT + "/share/configs/ds2-paper.ini";
  int batch = 32, frames = 700, iters = 5, ctc_t = 300, ctc_n = 64;
  po::options_description desc("bench_gpu");
  desc.add_options()("configs", po::value(&configs), "model INIs, space-separated")(
      "batch", po::value(&batch), "utterances per step")("frames", po::value(&frames),
                                                         "frames per utterance")(
      "iters", po::value(&iters), "timed steps")("ctc-time", po::value(&ctc_t), "CTC frames")(
      "ctc-batch", po::value(&ctc_n), "CTC utterances")("help", "usage");
  if (!ds2::bench::parse_options(argc, argv, desc)) return 0;
#ifndef DS2_HAS_CUDA
  std::printf("# bench_gpu: built without CUDA: nothing to measure\n");
  return 77;
#else
  std::string why;
  if (cuda::CudaBackend::device_count(&why) == 0) {
    std::printf("# bench_gpu: no usable CUDA device (%s)\n", why.c_str());
    return 77;
  }
  cuda::CudaBackend fp32(false), tf32(true);
  const double peak32 = gemm_tflops(fp32, 8192), peak_tf32 = gemm_tflops(tf32, 8192);
  std::printf("# bench_gpu on %s\n", cuda::CudaBackend::device_label(fp32.device_index()).c_str());
  std::printf("peak sgemm_fp32_tflops %.2f sgemm_tf32_tflops %.2f\n", peak32, peak_tf32);

  std::istringstream cl(configs);
  for (std::string path; cl >> path;) {
    ModelConfig cfg = ModelConfig::from_ini_file(path);
    cfg.device = "cuda";
    Network net(cfg);
    std::vector<int32_t> lengths(batch, frames), label_lengths(batch, frames / 12);
    std::vector<int32_t> labels;
    for (int j = 0; j < batch; ++j)
      for (int k = 0; k < label_lengths[j]; ++k)
        labels.push_back(1 + (j + 3 * k) % (cfg.alphabet_size - 1));
    const auto x = test::random_vector(size_t(batch) * frames * cfg.n_bins, 3);
    auto step = [&] {
      net.zero_grad();
      return net.forward_backward(x.data(), lengths.data(), batch, frames, labels.data(),
                                  label_lengths.data());
    };
    step();  // warm-up: the pool grows to the shapes, cuBLAS picks its kernels
    sync(net.backend());
    Timer t;
    int nonfinite = 0;
    for (int i = 0; i < iters; ++i) nonfinite += step().num_nonfinite;
    sync(net.backend());
    const double s = t.seconds() / iters;
    const double tflops = net.train_flops(batch, frames) / s / 1e12;
    std::printf(
        "model %s params %zu batch %d frames %d step_s %.4f tflops %.2f of_fp32_peak %.3f "
        "of_tf32_peak %.3f nonfinite %d\n",
        path.substr(path.find_last_of('/') + 1).c_str(), net.num_params(), batch, frames, s, tflops,
        tflops / peak32, tflops / peak_tf32, nonfinite);
    std::fflush(stdout);
  }

  // CTC: the same activations and labels on both backends.
  CtcShape sh;
  sh.max_time = ctc_t, sh.batch = ctc_n, sh.alphabet = 29, sh.max_label = ctc_t / 4;
  const auto act = test::random_vector(size_t(ctc_t) * ctc_n * 29, 5, -2, 2);
  std::vector<int32_t> lab, lab_len(ctc_n, sh.max_label), in_len(ctc_n, ctc_t);
  for (int j = 0; j < ctc_n; ++j)
    for (int k = 0; k < sh.max_label; ++k) lab.push_back(1 + (7 * j + k) % 28);
  auto time_ctc = [&](Backend& be, std::vector<float>* costs) {
    Buffer a(&be, act.size()), g(&be, act.size()), ws(&be, be.ctc_workspace_bytes(sh) / 4 + 1);
    be.upload(a.data(), act.data(), act.size());
    std::vector<uint8_t> imp(ctc_n);
    costs->assign(ctc_n, 0.0f);
    be.ctc_loss(a.data(), g.data(), lab.data(), lab_len.data(), in_len.data(), sh, costs->data(),
                imp.data(), ws.data());
    double best = 1e30;
    for (int r = 0; r < iters; ++r) {
      Timer t;
      be.ctc_loss(a.data(), g.data(), lab.data(), lab_len.data(), in_len.data(), sh, costs->data(),
                  imp.data(), ws.data());  // returns host costs: synchronous
      best = std::min(best, t.seconds());
    }
    return best;
  };
  auto cpu = make_backend(Device::kCpu, 0);
  std::vector<float> c_cpu, c_gpu;
  const double t_cpu = time_ctc(*cpu, &c_cpu), t_gpu = time_ctc(fp32, &c_gpu);
  double worst = 0;
  for (int j = 0; j < ctc_n; ++j)
    worst = std::max(worst, std::fabs(double(c_gpu[j]) - c_cpu[j]) / std::fabs(double(c_cpu[j])));
  std::printf(
      "ctc T %d N %d C 29 cpu_ms %.3f (%d threads) gpu_ms %.3f speedup %.1f "
      "max_rel_cost_diff %.2e check %s\n",
      ctc_t, ctc_n, 1e3 * t_cpu, cpu->num_threads(), 1e3 * t_gpu, t_cpu / t_gpu, worst,
      worst < 1e-5 ? "ok" : "FAIL");
  return worst < 1e-5 ? 0 : 1;
#endif
}
