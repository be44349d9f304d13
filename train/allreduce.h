// Gradient all-reduce for synchronous data-parallel training: an in-place sum over every rank of a
// communicator, with the algorithm chosen at run time (--allreduce=auto|ring|mpi|nccl).
//
//   ring  our chunked, pipelined ring over MPI point-to-point (train/ring_allreduce.h): a
//         reduce-scatter then an all-gather, 2(n-1)/n * bytes sent per rank, bandwidth-optimal.
//   mpi   MPI_Allreduce on a duplicated communicator: always available, the reference.
//   auto  MPI_Allreduce below small_threshold_bytes (where latency dominates and MPI's recursive
//         doubling wins; we do not reimplement it), the ring at and above it. The default threshold
//         and chunk size were measured with bench/bench_allreduce (see the numbers in
//         allreduce.cc).
//   nccl  GPU buffers through NCCL (model/nccl.h), bootstrapped over this communicator; needs a
//         device backend, a build with NCCL and one GPU per rank, else ConfigError in one line.
//         auto on GPU buffers picks NCCL when the build has it and no two ranks share a GPU;
//         otherwise the buckets are staged through pinned host memory and reduced as above.
//
// Every algorithm leaves BIT-IDENTICAL results on all ranks (the ring computes each element's sum
// once, on the segment's owner, and copies it to the others), so replicas never drift apart.
//
// Typical use in the trainer (one Allreducer per communicator, created once):
//   AllreduceOptions opts;  opts.add_to(desc);  ... parse ...
//   MpiEnv env(&argc, &argv, Allreducer::required_thread_level());
//   Allreducer ar(Comm::world(), opts);
//   for each gradient bucket, as the backward pass finishes it:  ar.start(bucket.data(), n);
//   ar.wait_all();   // every started bucket now holds the sum over all ranks
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/mpi.h"
#include "core/options.h"
#include "model/backend.h"
#include "model/nccl.h"

namespace ds2::train {

enum class Algorithm { kAuto, kRing, kMpi, kNccl };

// "auto", "ring", "mpi" or "nccl" (case-sensitive); ConfigError naming --allreduce otherwise.
Algorithm parse_algorithm(const std::string& s);
const char* algorithm_name(Algorithm a);

struct AllreduceOptions {
  Algorithm algo = Algorithm::kAuto;
  // Ring: each of the n segments is cut into chunks of this many bytes (the unit of pipelining).
  // 4 MiB measured best of 256 KiB / 1 MiB / 4 MiB / 16 MiB (allreduce.cc has the figures).
  size_t chunk_bytes = size_t(4) << 20;
  // Ring: chunks in flight per direction (receive buffers in the workspace).
  int pipeline_depth = 4;
  // Auto: buffers of fewer bytes than this go to MPI_Allreduce, the rest to the ring. From 32 MiB
  // up the ring measured clearly faster than MPI_Allreduce at both np=2 and np=4; below it the
  // ring was even with MPI at best, and slower for small buffers, so auto >= MPI at every size
  // (allreduce.cc). Re-measure on a cluster with bench/allreduce_table.sh.
  size_t small_threshold_bytes = size_t(32) << 20;
  // All-gather (count, dtype) before every reduction and throw CommError on mismatch. Always on in
  // debug builds (NDEBUG not defined).
  bool check_collectives = false;

  // Registers --allreduce, --allreduce-chunk-kib, --allreduce-depth, --allreduce-threshold-kib and
  // --check-collectives. Values are validated when the parsed options are notified (ConfigError).
  void add_to(po::options_description& d);
};

// ConfigError in one line unless --allreduce nccl can run with gradients on `device` in this
// build (checked before any work by ds2 train; the Allreducer checks again).
void require_nccl_possible(const AllreduceOptions& o, model::Device device);

// Collective contract check: every rank passes its (count, dtype); returns normally when all agree
// and otherwise throws CommError on EVERY rank, naming the ranks that disagree with rank 0.
// `dtype` is any code the caller uses consistently (Allreducer passes sizeof(T) * 256 + is_float).
void check_allreduce_contract(const Comm& comm, uint64_t count, uint64_t dtype, const char* what);

// One per communicator. Owns a duplicated communicator (its traffic cannot match anyone else's),
// a workspace grown to the largest buffer seen (no allocation per call once sized) and, after
// the first start(), a communication thread. Not copyable or movable.
//
// Threading: sum(), start() and wait_all() must be called from one thread (the training thread).
// The asynchronous path runs the reductions on the communication thread while the caller keeps
// computing and calling MPI on other communicators, so it needs MPI_THREAD_MULTIPLE (see
// required_thread_level()). When MPI was initialized with less, start() reduces synchronously
// (same results, no overlap) and says so once in the log.
//
// Device memory: given a device backend (`memory`), start() takes buffers in that backend's
// memory. Each started bucket gets an event recorded on the backend after the ops queued so far
// (the backward kernels that wrote it); the communication thread waits on that event, copies the
// bucket into a page-locked host buffer on the backend's transfer stream (not behind the
// compute queue), reduces it there with the chosen algorithm and copies the sum back, while the
// training thread keeps queueing the earlier layers' backward kernels. The pinned blocks, one
// per bucket position, add up to the gradient arena's size (4 bytes per parameter), allocated
// in the first step. sum() always takes host memory. With no backend or the CPU backend, buffers
// are host memory and nothing is staged.
class Allreducer {
 public:
  // Collective over `comm` (duplicates it; with NCCL also bootstraps its communicator). Throws
  // ConfigError for invalid options, or kNccl where it cannot run (see require_nccl_possible).
  // `memory` (may be null: host) must outlive the Allreducer.
  Allreducer(const Comm& comm, const AllreduceOptions& o, model::Backend* memory = nullptr);
  // Joins the communication thread; buckets still queued (wait_all() was not called) are dropped
  // with a warning. Never throws.
  ~Allreducer();
  Allreducer(const Allreducer&) = delete;
  Allreducer& operator=(const Allreducer&) = delete;

  // The MPI thread level the asynchronous API needs: MPI_THREAD_MULTIPLE.
  static int required_thread_level();

  // In-place sum over all ranks of `count` elements at `data` (host memory). Collective: every
  // rank calls it with the same count, in the same order relative to start(). Waits for started
  // buckets first. T is float or double.
  template <typename T>
  void sum(T* data, size_t count);

  // Queues an in-place sum of `count` elements at `data` and returns at once; the buffer must not
  // be touched until wait_all() returns. Buckets are reduced one after another in the order
  // started, identically on every rank. Collective in the same sense as sum(). T is float or
  // double.
  template <typename T>
  void start(T* data, size_t count);

  // Blocks until every started bucket is reduced. Rethrows (once) the first error a bucket hit.
  // A failed bucket, the ones queued behind it and those started before wait_all() reports the
  // error are dropped; a contract error (check_collectives) fails the same bucket on every rank,
  // so the Allreducer stays usable after it.
  void wait_all();

  // Workspace bytes the reduction of `count` floats needs (0 unless the ring is used for it).
  size_t workspace_bytes(size_t count) const { return workspace_bytes(count, sizeof(float)); }
  size_t workspace_bytes(size_t count, size_t elem_size) const;

  // The algorithm used for a buffer of `bytes` (resolves kAuto).
  Algorithm algorithm_for(size_t bytes) const;
  const AllreduceOptions& options() const { return opts_; }
  const Comm& comm() const { return comm_; }

 private:
  struct Bucket {
    void* data;
    size_t count;
    bool is_double;
    void* event = nullptr;   // device buffers: completes when the bucket's gradients are final
    float* stage = nullptr;  // device buffers: the pinned host copy reduced in their place
  };
  // Device buffers: wait for the bucket's event, stage, reduce on the host, copy back.
  void reduce_staged(const Bucket& b);
  void run_bucket(const Bucket& b);
  void release_device_buffers();
  void start_nccl();
  template <typename T>
  void reduce_now(T* data, size_t count);
  void comm_loop();

  Comm comm_;
  AllreduceOptions opts_;
  model::Backend* device_ = nullptr;       // a device backend whose memory start() takes, else null
  std::unique_ptr<model::NcclComm> nccl_;  // device buffers through NCCL (nccl or auto)
  // Per bucket position within a round (the k-th start() since the last wait_all): its event
  // and pinned staging block (capacity in floats). Bucket k of a round only reuses slot k after
  // the previous round's wait_all, so a slot is never resized while the thread reads it.
  std::vector<void*> events_;
  std::vector<std::pair<float*, size_t>> stages_;
  size_t round_ = 0;  // buckets started in this round
  std::vector<unsigned char> workspace_;
  bool async_ok_ = false;
  bool warned_sync_ = false;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Bucket> queue_;  // queue_[head_..] are pending; cleared when drained
  size_t head_ = 0;
  bool busy_ = false;
  bool stop_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

}  // namespace ds2::train
