// All-reduce benchmark in the shape of nccl-tests: a size sweep (-b/-e/-f), warm-up and timed
// iterations, a correctness check on by default, algorithm and bus bandwidth, and every figure as
// a ratio to MPI_Allreduce measured in the same run.
//
//   mpirun -np 4 bench_allreduce -b 1K -e 256M -f 4 [--chunk-kib 256,1024,4096] [--csv out.csv]
//
// Per (size, variant) the time is the slowest rank's mean over the timed iterations (--stat
// median: the median over iterations of each iteration's slowest rank), best of --repeat rounds
// (variants interleaved within a round, in an order rotated every round, so background load hits
// all of them alike).
//   algbw = size / time;  busbw = algbw * 2(n-1)/n  (what each rank's link carries, per second)
// The ratios (vs_mpi, of_p2p, of_p2p+add) are paired: taken within each round, between
// measurements seconds apart, then the median over rounds. On a shared VM the machine's speed
// drifts by tens of percent over a minute; a ratio of best-of-rounds times would pair one
// variant's luckiest round with another's.
//
// The bound ("p2p"). A ring all-reduce of `size` bytes over n ranks is 2(n-1) steps; at each step
// EVERY rank sends one segment (size/n bytes) to its right neighbour and at the same time receives
// one from its left, and the steps are dependent. Its communication alone is therefore exactly
// the "p2p" variant: the same 2(n-1) steps as MPI_Sendrecv of the same segments (same uneven
// split, same neighbours), all ranks at once, received IN PLACE so that, as in the ring, what a
// rank sends at step g is what it received (and wrote) at step g-1 -- only the additions are
// removed. Its busbw (same formula, 2(n-1)/n * size / time) is the most a ring can reach on this
// machine with this MPI, and "of_p2p" = busbw / p2p busbw = p2p time / this time.
// Two earlier definitions were not bounds a ring can be held to: one MPI_Sendrecv of the whole
// buffer (one message of `size` bytes per rank instead of 2(n-1) dependent ones of size/n), and
// the stepped exchange received into a second buffer, which re-sends data nobody has written
// since: over shared memory (Open MPI vader + CMA) a buffer the sending process has just written
// travels several times slower than a clean, cached one (measured 128 KiB: ~10 us clean, ~90 us
// just written), and every ring step sends data written by the step before. That second one is
// still available as --algos ...,p2p-clean, for comparison; of_p2p always refers to "p2p".
//
// The bound on one shared-memory node ("p2p+add"). Over Open MPI's shared-memory transport the
// RECEIVING process performs each copy itself (CMA single copy), so the same core that copies a
// chunk must then add it: the ring cannot overlap its additions with its transfers there, and
// its time is at least p2p + add, where "add" is the ring's additions alone -- (n-1)/n * count
// elements added from a chunk-sized, cache-resident slot into the buffer, chunk by chunk, as
// ring_allreduce.cc does, on all ranks at once. "of_p2p+add" = (p2p + add time) / this time.
// Over a network the NIC does the copy and the additions overlap it, so there "of_p2p" is the
// figure to hold a ring to; on one node "of_p2p+add" says how close it is to the memory system.
// Peak RSS per rank is printed at the end.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_options.h"
#include "core/error.h"
#include "core/log.h"
#include "core/mpi.h"
#include "core/options.h"
#include "core/timer.h"
#include "train/allreduce.h"

namespace {

using ds2::Comm;
using ds2::ConfigError;
using ds2::IoError;
using ds2::train::Algorithm;

struct BenchOptions {
  std::string begin = "1K", end = "256M", chunks;  // chunks empty: --allreduce-chunk-kib
  double factor = 4;
  int iters = 200, min_iters = 2, warmup = 2, repeat = 5;
  size_t iter_mib = 128;  // per measurement, iterations = iter_mib MiB / size within the bounds
  bool check = true;
  std::string stat = "mean";
  std::string algos = "mpi,ring,auto,p2p,add", csv;
  void add_to(ds2::po::options_description& d) {
    namespace po = ds2::po;
    // clang-format off
    d.add_options()
        ("begin,b", po::value(&begin)->default_value(begin), "smallest size (bytes, K, M, G)")
        ("end,e", po::value(&end)->default_value(end), "largest size")
        ("factor,f", po::value(&factor)->default_value(factor), "size multiplier per step")
        ("iters,n", po::value(&iters)->default_value(iters), "timed iterations (at most)")
        ("min-iters", po::value(&min_iters)->default_value(min_iters), "timed iterations (least)")
        ("iter-mib", po::value(&iter_mib)->default_value(iter_mib),
         "MiB per measurement: iterations = this / size, clamped to [min-iters, iters]")
        ("warmup,w", po::value(&warmup)->default_value(warmup), "warm-up iterations")
        ("repeat,r", po::value(&repeat)->default_value(repeat), "rounds (>= 1): the best time is reported, and the median of the ratios within rounds")
        ("stat", po::value(&stat)->default_value(stat),
         "per measurement: mean over the iterations (nccl-tests), or median (robust to other "
         "processes taking the CPU for whole time slices, as on a loaded or oversubscribed box)")
        ("check,c", po::value(&check)->default_value(check), "check results against MPI (0/1)")
        ("algos", po::value(&algos)->default_value(algos),
         "comma list of mpi, ring, auto, p2p, add, p2p-clean")
        ("chunk-kib", po::value(&chunks)->default_value(chunks),
         "comma list of ring chunk sizes in KiB, one ring/auto variant each (default: "
         "--allreduce-chunk-kib; --allreduce itself is ignored, see --algos)")
        ("csv", po::value(&csv), "also write the results to this CSV file");
    // clang-format on
  }
};

size_t parse_size(const std::string& s) {
  size_t pos = 0;
  double v = 0;
  try {
    v = std::stod(s, &pos);
  } catch (const std::exception&) {
    DS2_THROW(ConfigError, "size '{}' is not a number", s);
  }
  const std::string unit = s.substr(pos);
  double mult = 1;
  if (unit == "K" || unit == "k")
    mult = 1024;
  else if (unit == "M" || unit == "m")
    mult = 1024.0 * 1024;
  else if (unit == "G" || unit == "g")
    mult = 1024.0 * 1024 * 1024;
  else
    DS2_REQUIRE(unit.empty(), ConfigError, "size '{}': unit is not K, M or G", s);
  return static_cast<size_t>(v * mult);
}

std::string size_text(size_t b) {
  if (b >= (size_t(1) << 30) && b % (size_t(1) << 30) == 0) return fmt::format("{}G", b >> 30);
  if (b >= (size_t(1) << 20) && b % (size_t(1) << 20) == 0) return fmt::format("{}M", b >> 20);
  if (b >= 1024 && b % 1024 == 0) return fmt::format("{}K", b >> 10);
  return fmt::format("{}", b);
}

// One line of the table: a baseline, a p2p exchange, or an Allreducer configuration.
struct Variant {
  std::string name;
  enum Kind { kMpi, kP2p, kP2pClean, kAdd, kOurs } kind;
  std::unique_ptr<ds2::train::Allreducer> ar;
  std::vector<double> round_s{};  // seconds per iteration at this size, one per round
  double best_s() const { return *std::min_element(round_s.begin(), round_s.end()); }
};

// Median over rounds of f(round): the ratios between variants are taken round by round, each
// from two measurements made seconds apart, so slow drifts in the machine's speed (other
// tenants, frequency) cancel instead of pairing one variant's luckiest round with another's.
template <typename F>
double median_over_rounds(size_t rounds, F f) {
  std::vector<double> v(rounds);
  for (size_t i = 0; i < rounds; ++i) v[i] = f(i);
  std::sort(v.begin(), v.end());
  return (v[(rounds - 1) / 2] + v[rounds / 2]) / 2;
}

// dst[i] += src[i], the ring's reduction loop (restrict-qualified so it vectorises the same way).
void add_into(float* __restrict dst, const float* __restrict src, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] += src[i];
}

uint64_t hash_bytes(const void* p, size_t n) {  // FNV-1a
  uint64_t h = 1469598103934665603ull;
  const unsigned char* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  return h;
}

// Runs `iters` operations of variant v on data[0..count); returns seconds per operation on the
// slowest rank: the mean, or with `median` the median over iterations of the slowest rank's time
// for each iteration.
double time_variant(const Comm& comm, Variant& v, float* data, float* other, size_t count,
                    size_t chunk, int iters, bool median) {
  const int n = comm.size(), r = comm.rank();
  const size_t base = count / n, rem = count % n;  // the ring's segments (ring_allreduce.cc)
  auto seg_off = [&](int j) { return j * base + std::min<size_t>(j, rem); };
  auto seg_len = [&](int j) { return base + (static_cast<size_t>(j) < rem ? 1 : 0); };
  auto once = [&] {
    switch (v.kind) {
      case Variant::kMpi:
        DS2_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(count), MPI_FLOAT, MPI_SUM,
                                    comm.raw()));
        break;
      case Variant::kP2p:  // the ring's 2(n-1) exchange steps without the reduction
      case Variant::kP2pClean:
        for (int g = 0; g < 2 * (n - 1); ++g) {
          const int js = ((r - g) % n + n) % n, jr = ((r - g - 1) % n + n) % n;
          float* into = v.kind == Variant::kP2p ? data : other;
          DS2_MPI_CHECK(MPI_Sendrecv(data + seg_off(js), static_cast<int>(seg_len(js)), MPI_FLOAT,
                                     (r + 1) % n, 1, into + seg_off(jr),
                                     static_cast<int>(seg_len(jr)), MPI_FLOAT, (r + n - 1) % n, 1,
                                     comm.raw(), MPI_STATUS_IGNORE));
        }
        break;
      case Variant::kAdd:  // the ring's reduce-scatter additions alone, from one hot slot
        for (int g = 0; g < n - 1; ++g) {
          const int jr = ((r - g - 1) % n + n) % n;
          for (size_t k = 0; k < seg_len(jr); k += chunk)
            add_into(data + seg_off(jr) + k, other, std::min(chunk, seg_len(jr) - k));
        }
        break;
      case Variant::kOurs:
        v.ar->sum(data, count);
        break;
    }
  };
  comm.barrier();
  if (!median) {
    ds2::Timer t;
    for (int i = 0; i < iters; ++i) once();
    return comm.allreduce_value(t.seconds() / iters, MPI_MAX);
  }
  std::vector<double> each(iters);
  for (int i = 0; i < iters; ++i) {
    ds2::Timer t;
    once();
    each[i] = t.seconds();
  }
  comm.allreduce(each.data(), each.size(), MPI_MAX);  // iteration i's slowest rank
  std::sort(each.begin(), each.end());
  return (each[(iters - 1) / 2] + each[iters / 2]) / 2;
}

// Integer-valued inputs (exact in float): result must equal MPI_Allreduce's bit for bit and be
// bit-identical on every rank. Returns "ok" or what went wrong (same text on all ranks).
std::string check_variant(const Comm& comm, Variant& v, float* data, float* ref, size_t count) {
  if (v.kind != Variant::kOurs) return "-";
  for (size_t i = 0; i < count; ++i) {
    data[i] =
        static_cast<float>(static_cast<int>((i * 2654435761u + comm.rank() * 97u) % 2001) - 1000);
  }
  std::memcpy(ref, data, count * sizeof(float));
  DS2_MPI_CHECK(
      MPI_Allreduce(MPI_IN_PLACE, ref, static_cast<int>(count), MPI_FLOAT, MPI_SUM, comm.raw()));
  v.ar->sum(data, count);
  const bool same = std::memcmp(data, ref, count * sizeof(float)) == 0;
  const auto hashes = comm.allgather_value<uint64_t>(hash_bytes(data, count * sizeof(float)));
  bool identical = true;
  for (uint64_t h : hashes) identical = identical && h == hashes[0];
  const bool all_same = !comm.any(!same);
  std::memset(data, 0, count * sizeof(float));
  if (!all_same) return "WRONG";
  return identical ? "ok" : "NOT-IDENTICAL";
}

int run(int argc, char** argv) {
  ds2::MpiEnv env(&argc, &argv, ds2::train::Allreducer::required_thread_level());
  Comm world;
  ds2::init_logging(world.rank(), world.size(), 1);
  BenchOptions bo;
  ds2::train::AllreduceOptions ao;
  ds2::po::options_description desc("bench_allreduce");
  desc.add_options()("help,h", "usage (mpirun -np N bench_allreduce [options])");
  bo.add_to(desc);
  ao.add_to(desc);
  if (!ds2::bench::parse_options(argc, argv, desc, world.root())) return 0;
  const size_t b = parse_size(bo.begin), e = parse_size(bo.end);
  DS2_REQUIRE(b >= 4 && e >= b && bo.factor > 1, ConfigError,
              "need 4 <= --begin <= --end and --factor > 1");
  DS2_REQUIRE(e / 4 <= size_t(INT32_MAX), ConfigError, "--end too large for one MPI call");
  DS2_REQUIRE(bo.repeat >= 1, ConfigError, "--repeat must be >= 1 (got {})", bo.repeat);
  DS2_REQUIRE(bo.stat == "mean" || bo.stat == "median", ConfigError,
              "option '--stat': '{}' is not mean or median", bo.stat);
  const bool median = bo.stat == "median";
  const int n = world.size();

  std::vector<Variant> variants;
  for (const auto& a : ds2::bench::split_list(bo.algos)) {
    if (a == "mpi")
      variants.push_back({"mpi", Variant::kMpi, nullptr});
    else if (a == "p2p")
      variants.push_back({"p2p", Variant::kP2p, nullptr});
    else if (a == "add")
      variants.push_back({"add", Variant::kAdd, nullptr});
    else if (a == "p2p-clean")
      variants.push_back({"p2p-clean", Variant::kP2pClean, nullptr});
    else {
      const auto chunks = bo.chunks.empty()
                              ? std::vector<std::string>{std::to_string(ao.chunk_bytes >> 10)}
                              : ds2::bench::split_list(bo.chunks);
      for (const auto& c : chunks) {
        ds2::train::AllreduceOptions o = ao;
        o.algo = ds2::train::parse_algorithm(a);
        o.chunk_bytes = static_cast<size_t>(std::stoul(c)) * 1024;
        variants.push_back({fmt::format("{}/{}", a, size_text(o.chunk_bytes)), Variant::kOurs,
                            std::make_unique<ds2::train::Allreducer>(world, o)});
      }
    }
  }
  std::vector<float> data(e / 4, 0.0f), other(e / 4, 0.0f);
  const size_t chunk = std::max<size_t>(1, ao.chunk_bytes / sizeof(float));  // "add" slot size

  std::ofstream csv;
  if (world.root() && !bo.csv.empty()) {
    csv.open(bo.csv);
    DS2_REQUIRE(csv, IoError, "{}: cannot write", bo.csv);
    csv << "np,size_bytes,count,variant,time_us,algbw_gbps,busbw_gbps,vs_mpi,of_p2p,of_p2p_add,"
           "check\n";
  }
  if (world.root()) {
    std::printf(
        "# bench_allreduce: np=%d, depth %d, auto threshold %s, best of %d rounds of the %s of "
        "%d..%d iterations (%zu MiB per measurement), warm-up %d\n",
        n, ao.pipeline_depth, size_text(ao.small_threshold_bytes).c_str(), bo.repeat,
        bo.stat.c_str(), bo.min_iters, bo.iters, bo.iter_mib, bo.warmup);
    std::printf(
        "# time: best round; algbw = size/time, busbw = algbw*2(n-1)/n (GB/s = 1e9 B/s); "
        "ratios are medians over rounds of the ratio within a round: vs_mpi = MPI_Allreduce "
        "time / this time (>1 = faster than MPI); of_p2p = p2p time / this time; of_p2p+add = "
        "(p2p + add time) / this time\n");
    std::printf("%9s %11s %12s %11s %8s %8s %7s %7s %10s  %s\n", "size", "count", "variant",
                "time_us", "algbw", "busbw", "vs_mpi", "of_p2p", "of_p2p+add", "check");
  }
  const double bus = n > 1 ? 2.0 * (n - 1) / n : 1.0;
  for (double sz = static_cast<double>(b); sz <= static_cast<double>(e) * 1.0001; sz *= bo.factor) {
    const size_t bytes = static_cast<size_t>(sz) / 4 * 4;
    const size_t count = bytes / 4;
    const int iters = static_cast<int>(std::max<double>(
        bo.min_iters, std::min<double>(bo.iters, double(bo.iter_mib << 20) / bytes)));
    for (auto& v : variants) v.round_s.clear();
    for (int rep = 0; rep < bo.repeat; ++rep) {
      for (size_t k = 0; k < variants.size(); ++k) {  // rotated each round: no order bias
        Variant& v = variants[(k + rep) % variants.size()];
        if (rep == 0 && bo.warmup > 0)
          time_variant(world, v, data.data(), other.data(), count, chunk, bo.warmup, false);
        v.round_s.push_back(
            time_variant(world, v, data.data(), other.data(), count, chunk, iters, median));
      }
    }
    const Variant *mpi = nullptr, *p2p = nullptr, *add = nullptr;
    for (auto& v : variants) {
      if (v.kind == Variant::kMpi) mpi = &v;
      if (v.kind == Variant::kP2p) p2p = &v;
      if (v.kind == Variant::kAdd) add = &v;
    }
    const size_t rounds = static_cast<size_t>(bo.repeat);
    for (auto& v : variants) {
      const std::string check =
          bo.check ? check_variant(world, v, data.data(), other.data(), count) : "-";
      if (!world.root()) continue;
      const double algbw = bytes / v.best_s() / 1e9;
      const double busbw = algbw * bus;
      const bool ours = v.kind == Variant::kOurs || v.kind == Variant::kMpi;
      auto paired = [&](auto f) { return fmt::format("{:.2f}", median_over_rounds(rounds, f)); };
      const std::string vs =
          mpi && ours ? paired([&](size_t i) { return mpi->round_s[i] / v.round_s[i]; }) : "-";
      const std::string of = p2p && n > 1 && v.kind != Variant::kAdd
                                 ? paired([&](size_t i) { return p2p->round_s[i] / v.round_s[i]; })
                                 : "-";
      const std::string of_add =
          p2p && add && n > 1 && ours
              ? paired([&](size_t i) { return (p2p->round_s[i] + add->round_s[i]) / v.round_s[i]; })
              : "-";
      std::printf("%9s %11zu %12s %11.1f %8.3f %8.3f %7s %7s %10s  %s\n", size_text(bytes).c_str(),
                  count, v.name.c_str(), v.best_s() * 1e6, algbw, busbw, vs.c_str(), of.c_str(),
                  of_add.c_str(), check.c_str());
      if (csv) {
        csv << n << ',' << bytes << ',' << count << ',' << v.name << ',' << v.best_s() * 1e6 << ','
            << algbw << ',' << busbw << ',' << vs << ',' << of << ',' << of_add << ',' << check
            << '\n';
      }
    }
    if (world.root()) std::fflush(stdout);
  }
  const auto rss = world.allgather_value<double>(ds2::peak_rss_mib());
  if (world.root()) {
    std::printf("# peak RSS per rank (MiB):");
    for (double m : rss) std::printf(" %.0f", m);
    std::printf("  (data buffers %zu MiB x 2)\n", e >> 20);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& ex) {
    ds2::abort_all(ex.what());
  }
}
