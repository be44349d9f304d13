// `ds2 prep` throughput per rank against a bare FFTW spectrogram loop over the same audio.
//
// Makes a synthetic corpus (WAV files of 2-12 s, written through libsox) of --minutes per size
// in a scratch folder, then per size:
//   (a) baseline: BareFftw over the same samples already in memory (no I/O, no decode);
//   (b) run_prep (the real job: manifest, libsox decode, featurize, HDF5 shards with checksums,
//       index) with --shards 4*ranks.
// Prints x real time per rank for both, the ratio (b)/(a), and peak RSS per rank after each
// size: RSS should not grow with the corpus size, since prep streams utterance by utterance.
//
//   mpirun -np N bench_prep [--minutes 10,40] [--iters 3] [--threads T] [--default-heap] [--keep
//   DIR]
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>

#include "bench/bench_options.h"
#include "bench/bench_util.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/malloc_policy.h"
#include "core/mpi.h"
#include "core/options.h"
#include "core/timer.h"
#include "pipeline/audio.h"
#include "pipeline/prep.h"
#include "tests/testutil.h"

namespace {

using namespace ds2;

struct Corpus {
  std::string manifest;
  std::vector<double> lengths;  // seconds per file; the audio is regenerated, not kept
  double seconds = 0;
};

Corpus make_corpus(const std::string& dir, double minutes, int rate) {
  Corpus c;
  c.manifest = dir + "/corpus.tsv";
  make_dirs(dir + "/wav");
  std::string tsv;
  for (int i = 0; c.seconds < minutes * 60; ++i) {
    double len = 2.0 + (i * 7919 % 1000) / 100.0;  // 2..12 s
    auto x = bench::synth_speech(len, rate, static_cast<uint32_t>(i));
    std::string name = fmt::format("wav/u{:06d}.wav", i);
    pipeline::write_audio(dir + "/" + name, x, rate);
    tsv += fmt::format("{}\t{:.4f}\tsome words of speech number {}\n", name, len, "x");
    c.seconds += static_cast<double>(x.size()) / rate;
    c.lengths.push_back(len);
  }
  write_file_atomic(c.manifest, tsv);
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  MpiEnv env(&argc, &argv);
  Comm world;
  init_logging(world.rank(), world.size(), 0);
  std::string minutes_list = "10,40", keep;
  int iters = 3;
  int threads = pipeline::PrepOptions().threads;
  bool default_heap = false;
  po::options_description desc("bench_prep");
  desc.add_options()("help,h", "usage")("minutes",
                                        po::value(&minutes_list)->default_value(minutes_list),
                                        "corpus sizes, comma-separated")(
      "iters", po::value(&iters)->default_value(iters), "timed prep runs per size (best reported)")(
      "threads", po::value(&threads)->default_value(threads),
      "ds2 prep --threads (worker threads per rank)")(
      "default-heap", po::bool_switch(&default_heap),
      "keep glibc's default heap policy (ds2 prep calls retain_freed_memory(), "
      "core/malloc_policy.h)")("keep", po::value(&keep),
                               "make the corpus here and keep it (default: a temp dir)");
  if (!ds2::bench::parse_options(argc, argv, desc, world.root())) return 0;
  if (!default_heap) retain_freed_memory();  // as ds2 prep does
  // Rank 0 makes the scratch folder; every rank uses that one.
  std::unique_ptr<test::TempDir> tmp;
  if (world.root() && keep.empty()) tmp = std::make_unique<test::TempDir>("ds2-bench-prep");
  std::string base = keep.empty() ? (tmp ? tmp->path() : "") : keep;
  world.bcast_string(base);
  pipeline::FeatureOptions fo;
  if (world.root())
    std::printf(
        "# bench_prep: %d rank(s); x real time = audio seconds per wall second per rank\n"
        "%8s %10s %12s %12s %8s %14s\n",
        world.size(), "minutes", "files", "bare_fftw_x", "prep_x/rank", "ratio", "peak_rss_MiB");
  for (const std::string& item : bench::split_list(minutes_list)) {
    double minutes = std::stod(item);
    std::string dir = fmt::format("{}/c{}", base, item);
    Corpus c;
    if (world.root()) c = make_corpus(dir, minutes, fo.sample_rate);
    world.barrier();
    // (a) baseline on rank 0, single core, in memory.
    double bare_x = 0;
    if (world.root()) {
      bench::BareFftw bare(fo);
      std::vector<float> out;
      double busy = 0;
      for (size_t i = 0; i < c.lengths.size(); ++i) {
        auto x = bench::synth_speech(c.lengths[i], fo.sample_rate, static_cast<uint32_t>(i));
        Timer t;
        bare.compute(x, out);
        busy += t.seconds();
      }
      bare_x = c.seconds / busy;
    }
    // (b) the real job, best of `iters`, remaking every shard.
    pipeline::PrepOptions o;
    o.manifest = dir + "/corpus.tsv";
    o.out = dir + "/out";
    o.shards = 4 * world.size();
    o.force = true;
    o.threads = threads;
    double best = 1e30;
    pipeline::PrepResult r;
    for (int i = 0; i < iters; ++i) {
      world.barrier();
      Timer t;
      r = pipeline::run_prep(world, o, "bench_prep");
      best = std::min(best, t.seconds());
    }
    double seconds = world.allreduce_value<double>(world.root() ? r.hours * 3600 : 0.0);
    double rss = world.allreduce_value<double>(peak_rss_mib(), MPI_MAX);
    if (world.root()) {
      double prep_x = seconds / best / world.size();
      std::printf("%8.1f %10zu %12.0f %12.0f %8.2f %14.1f\n", minutes,
                  static_cast<size_t>(r.accepted), bare_x, prep_x, prep_x / bare_x, rss);
      std::fflush(stdout);
    }
  }
  return 0;
}
