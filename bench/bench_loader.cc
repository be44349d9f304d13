// bench_loader: bytes the batch loader reads for one training epoch, against the bytes of the
// shards, at corpus-like shard counts, for several --max-open-shards, with R ranks emulated one
// after another (each its own BatchLoader reading its slice of every global batch, as the trainer
// does). Synthetic shards (ShardWriter, no audio) are written once per shard count.
//
// Printed per (shards, max open): read/shard bytes summed over ranks (the figure: 1.0 is each
// byte once), the loader's MB/s against a plain sequential read() of the same files measured in
// the same run (the baseline), and the process's peak RSS. Reads come from the page cache after
// the first pass, so the MB/s compare CPU and syscall cost, not the disk.
//
// bench_loader [--utts 20000] [--shards 64,1000] [--open 1,16,64] [--ranks 64] [--batch 32]
//              [--frames 60:140] [--bins 161] [--dir DIR] [--keep]
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_options.h"
#include "core/timer.h"
#include "pipeline/index.h"
#include "pipeline/shard.h"
#include "tests/testutil.h"
#include "train/loader.h"
#include "train/schedule.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// n utterances round-robin over `shards` shards (rows in order), frames uniform in [lo, hi].
ds2::pipeline::DatasetIndex write_corpus(const std::string& dir, int n, int shards, int bins,
                                         int lo, int hi) {
  ds2::pipeline::FeatureMeta meta;
  meta.n_bins = bins;
  meta.alphabet = "<blank>\n<space>\na\nb\n";
  meta.created_by = "bench_loader";
  ds2::pipeline::DatasetIndex idx;
  idx.meta = meta;
  std::mt19937 g(7);
  std::vector<float> x(static_cast<size_t>(hi) * bins);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 97) * 0.01f;
  for (int s = 0; s < shards; ++s) {
    const std::string name = "shard-" + std::to_string(s) + ".h5";
    idx.shards.push_back(name);
    ds2::pipeline::ShardWriter w(dir + "/" + name, meta, "bench");
    int32_t row = 0;
    for (int u = s; u < n; u += shards) {
      const int frames = lo + static_cast<int>(g() % static_cast<unsigned>(hi - lo + 1));
      const std::string id = "u" + std::to_string(u);
      w.add({id, "ab", "", "{}", frames * 0.01f}, x.data(), frames, {2, 3});
      idx.utts.push_back({s, row++, frames, 2, frames * 0.01f});
      idx.utt_ids.push_back(id);
    }
    w.commit();
  }
  // Index order: shard by shard, row by row (what the loader expects), as pushed.
  idx.n_rows = n;
  idx.mean.assign(bins, 0.0);
  idx.std.assign(bins, 1.0);
  idx.stats_frames = idx.total_frames();
  idx.write(dir + "/index.h5");
  return ds2::pipeline::DatasetIndex::read(dir + "/index.h5");
}

}  // namespace

int main(int argc, char** argv) {
  int utts = 20000, ranks = 64, batch = 32, bins = 161;
  std::string shard_list = "64,1000", open_list = "1,16,64", frames = "60:140";
  std::string dir;
  bool keep = false;
  ds2::po::options_description desc("bench_loader");
  // clang-format off
  desc.add_options()("help,h", "usage")
      ("utts", ds2::po::value(&utts)->default_value(utts), "utterances")
      ("shards", ds2::po::value(&shard_list)->default_value(shard_list),
       "shard counts, comma-separated")
      ("open", ds2::po::value(&open_list)->default_value(open_list),
       "shards kept open at once, comma-separated")
      ("ranks", ds2::po::value(&ranks)->default_value(ranks), "ranks simulated")
      ("batch", ds2::po::value(&batch)->default_value(batch), "global batch")
      ("frames", ds2::po::value(&frames)->default_value(frames), "utterance frames LO:HI")
      ("bins", ds2::po::value(&bins)->default_value(bins), "feature bins")
      ("dir", ds2::po::value(&dir), "where the shards are written (default: a temp dir)")
      ("keep", ds2::po::bool_switch(&keep), "keep the shards");
  // clang-format on
  if (!ds2::bench::parse_options(argc, argv, desc)) return 0;
  const std::vector<int> shard_counts = ds2::test::parse_int_list(shard_list),
                         opens = ds2::test::parse_int_list(open_list);
  const int lo = std::atoi(frames.c_str()),
            hi = std::atoi(frames.substr(frames.find(':') + 1).c_str());
  if (utts < 1 || ranks < 1 || batch < 1 || lo < 1 || hi < lo || ds2::test::bytes_read() < 0) {
    std::fprintf(stderr, "bench_loader: bad sizes, or /proc/self/io is not readable\n");
    return 2;
  }
  if (dir.empty()) dir = (fs::temp_directory_path() / "ds2-bench-loader").string();
  std::printf(
      "# bench_loader: %d utterances of %d-%d frames x %d bins, %d ranks, global batch %d\n", utts,
      lo, hi, bins, ranks, batch);
  std::printf("%7s %6s %10s %12s %10s %10s %9s\n", "shards", "open", "shard_MB", "read/shard",
              "loader_MBs", "vs_read()", "rss_MiB");
  int rc = 0;
  for (int shards : shard_counts) {
    const std::string d = dir + "/s" + std::to_string(shards);
    fs::remove_all(d);
    fs::create_directories(d);
    const auto index = write_corpus(d, utts, shards, bins, lo, hi);
    int64_t shard_bytes = 0;
    for (const auto& s : index.shards)
      shard_bytes += static_cast<int64_t>(fs::file_size(d + "/" + s));
    // Baseline: every shard file read once with read(), 1 MiB at a time (page cache warm after).
    std::vector<char> buf(1 << 20);
    double base_s = 1e30;
    for (int rep = 0; rep < 2; ++rep) {
      const auto t0 = Clock::now();
      for (const auto& s : index.shards) {
        const int fd = ::open((d + "/" + s).c_str(), O_RDONLY);
        while (fd >= 0 && ::read(fd, buf.data(), buf.size()) > 0) {
        }
        if (fd >= 0) ::close(fd);
      }
      base_s = std::min(base_s, std::chrono::duration<double>(Clock::now() - t0).count());
    }
    {  // what one open costs: the loader re-opens shards that fell out of its LRU
      const int64_t r0 = ds2::test::bytes_read();
      { const ds2::pipeline::ShardReader first(d + "/" + index.shards[0], false); }
      const int64_t r1 = ds2::test::bytes_read();
      { const ds2::pipeline::ShardReader again(d + "/" + index.shards[0], false, false); }
      std::printf(
          "# %d shards: %.1f KiB read at a shard's first open, %.1f KiB at a re-open "
          "(%.1f MB per shard)\n",
          shards, (r1 - r0) / 1024.0, (ds2::test::bytes_read() - r1) / 1024.0,
          shard_bytes / 1e6 / shards);
    }
    ds2::train::ScheduleOptions so;
    so.batch_size = batch;
    const ds2::train::Schedule schedule(ds2::train::utt_frames(index), so);
    const auto batches = schedule.epoch(1);  // shuffled batches of similar length
    for (int open : opens) {
      ds2::train::LoaderOptions lopt;
      lopt.max_open_shards = open;
      const int64_t before = ds2::test::bytes_read();
      int64_t loaded = 0;
      const auto t0 = Clock::now();
      for (int r = 0; r < ranks; ++r) {
        ds2::train::BatchLoader loader(d, index, lopt);
        for (const auto& b : batches)
          loaded += loader.load(ds2::train::Schedule::slice(b, r, ranks)).n;
      }
      const double s = std::chrono::duration<double>(Clock::now() - t0).count();
      const double ratio =
          static_cast<double>(ds2::test::bytes_read() - before) / static_cast<double>(shard_bytes);
      if (loaded != static_cast<int64_t>(index.utts.size())) rc = 1;
      std::printf("%7d %6d %10.1f %12.3f %10.0f %10.2f %9.0f\n", shards, open, shard_bytes / 1e6,
                  ratio, shard_bytes / 1e6 / s, base_s / s, ds2::peak_rss_mib());
      std::fflush(stdout);
    }
    if (!keep) fs::remove_all(d);
  }
  if (rc) std::printf("# CHECK FAILED: an epoch did not load every utterance exactly once\n");
  return rc;
}
