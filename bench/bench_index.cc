// bench_index: how long index.h5 takes to open at corpus scale, and what it costs in memory.
//
// Writes a synthetic index of N utterances spread over 1 GiB-like shards (N / 3000 of them), then
// times DatasetIndex::read without ids (what `ds2 train` does) and with ids (eval, prep), each
// against the baseline of a plain sequential read() of the same file from the page cache in the
// same run, and prints the process's peak RSS after each (ru_maxrss). The process built the
// index in memory first (ids included), so the RSS columns are an upper bound, not the read's
// own cost: for that, bench/scale.sh measures `ds2 train` and `ds2 eval`.
//
// bench_index [--utts 2000000,8000000] [--dir DIR] [--keep]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bench/bench_options.h"
#include "pipeline/index.h"
#include "tests/testutil.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;
}

double plain_read_s(const std::string& path) {
  std::vector<char> buf(1 << 20);
  const auto t = Clock::now();
  std::ifstream in(path, std::ios::binary);
  while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0) {
  }
  return seconds_since(t);
}

}  // namespace

int main(int argc, char** argv) {
  std::string size_list = "2000000,8000000";
  std::string dir = "/tmp/ds2-bench-index";
  bool keep = false;
  ds2::po::options_description desc("bench_index");
  // clang-format off
  desc.add_options()("help,h", "usage")
      ("utts", ds2::po::value(&size_list)->default_value(size_list),
       "index sizes in utterances, comma-separated")
      ("dir", ds2::po::value(&dir)->default_value(dir), "where the index files are written")
      ("keep", ds2::po::bool_switch(&keep), "keep the index files");
  // clang-format on
  if (!ds2::bench::parse_options(argc, argv, desc)) return 0;
  const std::vector<int> sizes = ds2::test::parse_int_list(size_list);
  fs::create_directories(dir);
  std::printf("%12s %9s %10s %12s %12s %9s %12s %9s %12s\n", "utterances", "file MB", "write s",
              "open no-ids", "vs_read()", "RSS MiB", "open ids", "vs_read()", "RSS MiB");
  for (int n : sizes) {
    const std::string path = dir + "/index-" + std::to_string(n) + ".h5";
    {
      ds2::pipeline::DatasetIndex idx;
      idx.meta.n_bins = 161;
      idx.meta.alphabet = "<blank>\n<space>\na\n";
      idx.meta.created_by = "bench_index";
      const int per_shard = 3000;
      for (int s = 0; s * per_shard < n; ++s)
        idx.shards.push_back("shard-" + std::to_string(s) + ".h5");
      idx.utts.reserve(static_cast<size_t>(n));
      idx.utt_ids.reserve(static_cast<size_t>(n));
      for (int u = 0; u < n; ++u) {
        const int frames = 200 + u % 1300;
        idx.utts.push_back({u / per_shard, u % per_shard, frames, frames / 8, frames * 0.01f});
        idx.utt_ids.push_back("spk" + std::to_string(u % 2411) + "-ch" + std::to_string(u / 977) +
                              "-" + std::to_string(u));
      }
      idx.n_rows = n;
      idx.mean.assign(161, 0.0);
      idx.std.assign(161, 1.0);
      idx.stats_frames = idx.total_frames();
      const auto t = Clock::now();
      idx.write(path);
      std::printf("%12d %9.1f %10.2f", n, fs::file_size(path) / 1e6, seconds_since(t));
    }
    const double base = plain_read_s(path);
    auto t = Clock::now();
    auto a = ds2::pipeline::DatasetIndex::read(path, false);
    const double no_ids = seconds_since(t);
    std::printf(" %10.3f s %12.1f %9.0f", no_ids, no_ids / base, peak_rss_mib());
    a = {};
    t = Clock::now();
    auto b = ds2::pipeline::DatasetIndex::read(path, true);
    const double ids = seconds_since(t);
    std::printf(" %10.3f s %9.1f %12.0f\n", ids, ids / base, peak_rss_mib());
    std::printf("%12s baseline: plain read() of the file %.3f s\n", "", base);
    if (b.utts.size() != static_cast<size_t>(n)) return 1;
    if (!keep) fs::remove(path);
  }
  return 0;
}
