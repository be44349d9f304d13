// Benchmark: the per-step parameter update of ds2 train -- average the summed gradient, its
// global norm, clip, Nesterov SGD -- as backend ops (train/optimizer.h: Backend::scale,
// sum_squares, sgd_nesterov; what the trainer runs since the step stays on the device) against
// the host loops the trainer ran before (copied here verbatim as the baseline), on an arena of a
// config's parameter count, in the same run. Prints both times and the ratio (new / old), and
// checks that both leave bit-identical parameters, velocity and norm (--check, on by default).
//   bench_train_update [--config share/configs/ds2-small.ini] [--iters 20] [--device cpu|cuda]
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <vector>

#include "bench/bench_options.h"
#include "core/options.h"
#include "core/timer.h"
#include "model/network.h"
#include "tests/model/gradcheck.h"
#include "train/optimizer.h"

using namespace ds2;

namespace {

// The trainer's host code before the step moved onto the backend (grad_sync.cc, optimizer.cc).
double old_update(float* p, float* g, std::vector<float>& v, size_t n, double finite, double lr,
                  double clip, float mu, float wd) {
  const float inv = static_cast<float>(1.0 / finite);
  for (size_t i = 0; i < n; ++i) g[i] *= inv;
  const double norm = train::global_norm(g, n);
  train::clip_by_global_norm(g, n, clip);
  const float lr_f = static_cast<float>(lr);
  for (size_t i = 0; i < n; ++i) {
    const float gi = g[i] + wd * p[i];
    v[i] = mu * v[i] + gi;
    p[i] -= lr_f * (gi + mu * v[i]);
  }
  return norm;
}

double new_update(model::Backend& be, float* p, float* g, train::SgdNesterov& sgd, size_t n,
                  double finite, double lr, double clip) {
  be.scale(g, n, static_cast<float>(1.0 / finite));
  const double norm = train::global_norm(be, g, n);
  train::clip_to_norm(be, g, n, norm, clip);
  sgd.step(p, g, n, lr);
  return norm;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config = std::string(DS2_SOURCE_ROOT) + "/share/configs/ds2-small.ini";
  std::string device = "cpu";
  int iters = 20;
  bool check = true;
  po::options_description desc("bench_train_update");
  desc.add_options()("config", po::value(&config), "model INI (its parameter count)")(
      "iters", po::value(&iters), "timed iterations")("device", po::value(&device),
                                                      "backend of the new path")(
      "check", po::value(&check), "compare the results bit for bit")("help", "usage");
  if (!ds2::bench::parse_options(argc, argv, desc)) return 0;
  const model::ModelConfig cfg = model::ModelConfig::from_ini_file(config);
  const size_t n = model::Network::count_parameters(cfg);
  auto be = model::make_backend(model::parse_device(device), 1);
  const std::vector<float> p0 = model::test::random_vector(n, 1),
                           g0 = model::test::random_vector(n, 2, -50, 50);
  const float mu = 0.9f, wd = 1e-5f;
  const double finite = 7, lr = 3e-4, clip = 400;

  std::vector<float> p_old = p0, g_old, v_old(n, 0.0f);
  model::Buffer p_new(be.get(), n), g_new(be.get(), n);
  be->upload(p_new.data(), p0.data(), n);
  train::SgdNesterov sgd(*be, n, mu, wd);
  double t_old = 1e30, t_new = 1e30, norm_old = 0, norm_new = 0;
  for (int i = 0; i < iters + 1; ++i) {  // the first of each is a warm-up
    g_old = g0;
    Timer a;
    norm_old = old_update(p_old.data(), g_old.data(), v_old, n, finite, lr, clip, mu, wd);
    if (i > 0) t_old = std::min(t_old, a.seconds());
    be->upload(g_new.data(), g0.data(), n);
    std::vector<float> sync;
    be->host_view(p_new.data(), 1, &sync);  // queued uploads done before the clock starts
    Timer b;
    norm_new = new_update(*be, p_new.data(), g_new.data(), sgd, n, finite, lr, clip);
    be->host_view(p_new.data(), 1, &sync);  // and the update done before it stops
    if (i > 0) t_new = std::min(t_new, b.seconds());
  }
  std::printf("# bench_train_update: %s, %zu parameters (%.1f MiB), best of %d, device %s\n",
              config.c_str(), n, n * 4.0 / (1 << 20), iters, device.c_str());
  std::printf("%12s %12s %8s %10s\n", "old_host_ms", "backend_ms", "ratio", "GB/s_new");
  // Bytes moved by the new path: scale (r+w), norm (r), clip (r+w when clipping), sgd (3r+2w).
  const double bytes = 4.0 * n * (2 + 1 + 2 + 5);
  std::printf("%12.3f %12.3f %8.3f %10.2f\n", 1e3 * t_old, 1e3 * t_new, t_new / t_old,
              bytes / t_new / 1e9);
  if (check) {
    std::vector<float> p(n), v = sgd.velocity();
    be->download(p.data(), p_new.data(), n);
    const bool same = norm_old == norm_new &&
                      std::memcmp(p.data(), p_old.data(), n * sizeof(float)) == 0 &&
                      std::memcmp(v.data(), v_old.data(), n * sizeof(float)) == 0;
    std::printf("# check: parameters, velocity and norm %s\n", same ? "bit-identical" : "DIFFER");
    if (!same && device == "cpu") return 1;
  }
  return 0;
}
