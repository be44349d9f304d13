// Benchmark under mpiexec on a GPU machine (bench/gpu_check.sh runs it): the gradient all-reduce
// on DEVICE buffers the way ds2 train runs it -- Allreducer with the cuda backend's memory --
// for --algos among ring (staged through pinned host buffers, the ring over MPI), mpi (staged,
// MPI_Allreduce) and nccl. One GPU per rank from the node-local rank (model/device.h); ranks
// that share a GPU are allowed for ring/mpi (NCCL refuses them: it is then reported as not run).
// Per size: milliseconds per all-reduce (median of --iters, after a warm-up), algorithm bandwidth
// (bytes / time) and bus bandwidth (x 2 (n-1)/n, as nccl-tests), and a check: every element must
// equal the exact sum of the ranks' integer inputs. Rank 0 prints one row per (algo, size).
// Without a usable device: a message and exit 77.
//   mpiexec -np 2 bench_allreduce_gpu [--sizes-mib "1 8 64 256"] [--algos "ring nccl"]
//                                     [--iters 10]
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_options.h"
#include "core/error.h"
#include "core/mpi.h"
#include "core/node.h"
#include "core/timer.h"
#include "model/backend.h"
#include "model/device.h"
#include "model/tensor.h"
#include "train/allreduce.h"

using namespace ds2;

int main(int argc, char** argv) {
  std::string sizes = "1 8 64 256", algos = "ring nccl";
  int iters = 10;
  po::options_description desc("bench_allreduce_gpu");
  desc.add_options()("sizes-mib", po::value(&sizes), "buffer sizes in MiB")(
      "algos", po::value(&algos), "ring, mpi, nccl")("iters", po::value(&iters), "timed runs")(
      "help", "usage");
  if (!ds2::bench::parse_options(argc, argv, desc)) return 0;
  MpiEnv env(&argc, &argv, train::Allreducer::required_thread_level());
  const Comm world;
  std::unique_ptr<model::Backend> be;
  try {
    model::select_gpu("cuda", node_place(world));
    be = model::make_backend(model::Device::kCuda);
  } catch (const ConfigError& e) {
    if (world.root()) std::printf("# bench_allreduce_gpu: %s\n", e.what());
    return 77;
  }
  if (world.root())
    std::printf("%6s %10s %10s %10s %10s %6s  # %d ranks\n", "algo", "MiB", "ms", "algbw_GBs",
                "busbw_GBs", "check", world.size());
  std::istringstream al(algos);
  for (std::string name; al >> name;) {
    train::AllreduceOptions o;
    o.algo = train::parse_algorithm(name);
    std::unique_ptr<train::Allreducer> ar;
    try {
      ar = std::make_unique<train::Allreducer>(world, o, be.get());
    } catch (const ConfigError& e) {
      if (world.root()) std::printf("%6s not run: %s\n", name.c_str(), e.what());
      continue;
    }
    std::istringstream sl(sizes);
    for (double mib; sl >> mib;) {
      const size_t n = static_cast<size_t>(mib * (1 << 20) / sizeof(float));
      std::vector<float> host(n);
      for (size_t i = 0; i < n; ++i) host[i] = float((world.rank() + 1) * (1 + i % 13));
      model::Buffer buf(be.get(), n);
      std::vector<double> ms;
      bool ok = true;
      for (int it = 0; it <= iters; ++it) {
        be->upload(buf.data(), host.data(), n);
        std::vector<float> sync;
        be->host_view(buf.data(), 1, &sync);  // the upload done before the clock starts
        world.barrier();
        Timer t;
        ar->start(buf.data(), n);
        ar->wait_all();
        if (it > 0) ms.push_back(1e3 * t.seconds());
        if (it == iters) {
          std::vector<float> out(n);
          be->download(out.data(), buf.data(), n);
          const double ranks = world.size() * (world.size() + 1) / 2.0;
          for (size_t i = 0; i < n && ok; ++i) ok = out[i] == float(ranks * (1 + i % 13));
        }
      }
      std::sort(ms.begin(), ms.end());
      const double med = ms[ms.size() / 2];
      const int all_ok = world.allreduce_value<int>(ok ? 1 : 0, MPI_MIN);
      const double alg = n * sizeof(float) / (med * 1e-3) / 1e9;
      const double bus = alg * 2.0 * (world.size() - 1) / std::max(1, world.size());
      if (world.root())
        std::printf("%6s %10.1f %10.3f %10.2f %10.2f %6s\n", name.c_str(), mib, med, alg, bus,
                    all_ok ? "ok" : "FAIL");
      std::fflush(stdout);
    }
  }
  return 0;
}
