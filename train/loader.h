// The batch loader: reads one rank's slices of the global batches from the shards, normalizes
// and pads them, on a background thread that stays `prefetch` batches ahead of training.
//
// Threading and HDF5: a serial HDF5 build may not be thread-safe (H5is_library_threadsafe()).
// Every HDF5 call the loader makes -- from its thread, from load(), and when opening or closing
// shards -- holds the one process-wide mutex h5::mutex() (core/h5.h); normalization and padding run
// outside it. With a thread-safe HDF5 library (the Debian/Ubuntu serial build is one) other code
// may use HDF5 freely while the loader runs. With a library that is NOT thread-safe (the loader
// logs a warning once), any other HDF5 use in the process (checkpoint writes, dev sets read without
// load()) must hold h5::mutex() while a BatchLoader is running.
//
// Memory: at most prefetch queued batches + the one the thread is assembling + the one the
// caller holds, each n x t x f floats; with ScheduleOptions::max_batch_frames = M a global batch
// has n * t <= M (a single utterance longer than M excepted), so a rank's batch holds at most
// about M * f floats (slices only shrink it). Per utterance of the index the loader keeps its
// frame and label offsets within its shard (8 bytes), computed from the index at construction.
//
// Reading: each byte of a shard about once per epoch, whatever the shard count and the order of
// the batches. A slice is read in (shard, row) order; frame and label offsets come from the index,
// so opening a shard reads only its metadata (no offsets, ids or transcripts; transcripts only
// with LoaderOptions::transcripts, for dev decoding), and version 2/3 shards are read byte-exactly
// (pipeline/shard.h) and verified against each utterance's checksum. Open shards are kept in an
// LRU cache of max_open_shards readers, each holding a few open HDF5 handles.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/lru.h"
#include "core/options.h"
#include "pipeline/index.h"
#include "pipeline/normalize.h"

namespace ds2::train {

struct Batch {
  int n = 0, t = 0, f = 0;             // utterances (this rank's slice), max frames, bins
  std::vector<float> features;         // (n, t, f) row-major, normalized, padding zero
  std::vector<int32_t> lengths;        // (n) valid frames
  std::vector<int32_t> labels;         // concatenated label sequences (alphabet indices, 0 = blank)
  std::vector<int32_t> label_lengths;  // (n)
  std::vector<int64_t> utts;           // index positions of the utterances
  std::vector<std::string> utt_ids;    // only when the index was read with its ids
  std::vector<std::string> transcripts;  // only with LoaderOptions::transcripts
  int64_t step = 0;                      // global step this batch belongs to
};

struct LoaderOptions {
  // "global": (x - mean[b]) / std[b] with the index's per-bin stats; "utterance": per-bin mean and
  // std over the utterance's own frames (std floored at 1e-5 as for the index); "none": raw
  // (pipeline/normalize.h, the arithmetic eval and transcribe use too).
  std::string normalize = "global";
  int prefetch = 4;          // batches read ahead by the background thread (>= 1)
  int max_open_shards = 16;  // open ShardReaders kept (LRU)
  bool transcripts = false;  // fill Batch::transcripts (dev decoding; not a command-line option)
  // --normalize, --prefetch, --max-open-shards
  void add_to(po::options_description& d);
};

class BatchLoader {
 public:
  // data_dir holds the shards named in index.shards (relative to it); `index` must outlive the
  // loader. Shards open lazily. Throws ConfigError on bad options and FormatError when the index
  // lacks stats for "global".
  BatchLoader(const std::string& data_dir, const pipeline::DatasetIndex& index,
              const LoaderOptions& o);
  // The index is kept by reference: a temporary would dangle.
  BatchLoader(const std::string& data_dir, pipeline::DatasetIndex&& index,
              const LoaderOptions& o) = delete;
  ~BatchLoader();  // stops and joins the thread (never throws)
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // Starts prefetching slices[from..] (each a list of index positions; may be empty) on the
  // background thread, in order; slices[from + k] becomes the batch of step first_step + k.
  // A running prefetch is stopped first, so start() may be called again (each epoch, on resume).
  void start(std::vector<std::vector<int64_t>> slices, size_t from, int64_t first_step);
  // Next batch in order (an empty slice gives a batch with n = 0); false when done or never
  // started. Rethrows, on the caller's thread, the error that stopped the background thread
  // (e.g. a shard failing its checksum: the message names the shard and the utterance), after
  // the batches completed before it; it keeps rethrowing until start() is called again.
  bool next(Batch* out);
  // Loads one slice synchronously (dev evaluation, tests); step = 0. Safe while prefetching.
  Batch load(const std::vector<int64_t>& utts) const;

 private:
  struct OpenShard;
  struct Queue;
  const OpenShard& shard(int32_t s) const;                 // caller holds h5::mutex()
  std::unique_ptr<OpenShard> open_shard(int32_t s) const;  // shard()'s miss path
  void stop();
  void run(Queue* q, std::vector<std::vector<int64_t>> slices, size_t from, int64_t first_step);

  std::string dir_;
  const pipeline::DatasetIndex& index_;
  LoaderOptions opt_;
  pipeline::FeatureNormalizer norm_;       // opt_.normalize with the index's stats
  std::vector<uint32_t> frame0_, label0_;  // per utterance: offsets within its shard (< 2^32)
  std::vector<int64_t> shard_utts_, shard_frames_, shard_labels_;  // per shard, as the index lists
  mutable std::vector<uint8_t> checked_;  // per shard: format checked at an open
  mutable Lru<OpenShard> open_;           // max_open_shards readers
  std::unique_ptr<Queue> queue_;
  std::thread thread_;
};

}  // namespace ds2::train
