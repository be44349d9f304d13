// Allreducer: algorithm dispatch, the cross-rank contract check and the asynchronous bucket queue.
// The ring itself is in ring_allreduce.cc.
//
// The defaults (auto: MPI_Allreduce below 32 MiB, the ring at and above it; 4 MiB chunks) come
// from bench/bench_allreduce through bench/allreduce_table.sh; the figures, the command that made
// them and why each default won are in bench/README.md ("All-reduce"). In short: below 32 MiB
// MPI's own algorithms (recursive doubling for small buffers, which we do not reimplement) are
// as fast or faster and the ring's 2(n-1) latency steps lose, so auto there IS MPI_Allreduce;
// from 64 MiB up the ring wins by a clear margin over shared memory and TCP at np = 2 and 4.
// Re-measure on a cluster over its own transport (--chunk-kib, --allreduce-threshold-kib).
#include "train/allreduce.h"

#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <type_traits>

#include "core/error.h"
#include "core/log.h"
#include "ds2/config.h"
#include "model/nccl.h"
#include "train/ring_allreduce.h"

namespace ds2::train {

namespace {

template <typename T>
constexpr uint64_t dtype_code() {
  return sizeof(T) * 256 + (std::is_floating_point_v<T> ? 1 : 0);
}

std::string dtype_text(uint64_t code) {
  if (code == dtype_code<float>()) return "float32";
  if (code == dtype_code<double>()) return "float64";
  return fmt::format("dtype#{}", code);
}

RingParams ring_params(const AllreduceOptions& o) {
  RingParams p;
  p.chunk_bytes = o.chunk_bytes;
  p.depth = o.pipeline_depth;
  return p;
}

}  // namespace

Algorithm parse_algorithm(const std::string& s) {
  if (s == "auto") return Algorithm::kAuto;
  if (s == "ring") return Algorithm::kRing;
  if (s == "mpi") return Algorithm::kMpi;
  if (s == "nccl") return Algorithm::kNccl;
  DS2_THROW(ConfigError, "option '--allreduce': '{}' is not one of auto, ring, mpi, nccl", s);
}

const char* algorithm_name(Algorithm a) {
  switch (a) {
    case Algorithm::kAuto:
      return "auto";
    case Algorithm::kRing:
      return "ring";
    case Algorithm::kMpi:
      return "mpi";
    case Algorithm::kNccl:
      return "nccl";
  }
  return "?";
}

void AllreduceOptions::add_to(po::options_description& d) {
  // clang-format off
  d.add_options()
      ("allreduce", po::value<std::string>()->default_value(algorithm_name(algo))
           ->notifier([this](const std::string& s) { algo = parse_algorithm(s); }),
       "gradient all-reduce: auto (MPI below the threshold, ring above), ring, mpi, nccl")
      ("allreduce-chunk-kib", po::value<size_t>()->default_value(chunk_bytes / 1024)
           ->notifier([this](size_t v) {
             DS2_REQUIRE(v >= 1 && v <= (size_t(1) << 20), ConfigError,
                         "option '--allreduce-chunk-kib': {} is not in 1..1048576", v);
             chunk_bytes = v * 1024;
           }),
       "ring all-reduce pipelining chunk, KiB")
      ("allreduce-depth", po::value<int>()->default_value(pipeline_depth)
           ->notifier([this](int v) {
             DS2_REQUIRE(v >= 1 && v <= 64, ConfigError,
                         "option '--allreduce-depth': {} is not in 1..64", v);
             pipeline_depth = v;
           }),
       "ring all-reduce: chunks in flight per direction")
      ("allreduce-threshold-kib", po::value<size_t>()->default_value(small_threshold_bytes / 1024)
           ->notifier([this](size_t v) { small_threshold_bytes = v * 1024; }),
       "auto: buffers below this many KiB use MPI_Allreduce, the rest the ring")
      ("check-collectives", po::bool_switch(&check_collectives),
       "check that all ranks pass the same count and type to every all-reduce (always on in "
       "debug builds)");
  // clang-format on
}

void check_allreduce_contract(const Comm& comm, uint64_t count, uint64_t dtype, const char* what) {
  const int n = comm.size();
  if (n == 1) return;
  uint64_t mine[2] = {count, dtype};
  std::vector<uint64_t> all(2 * static_cast<size_t>(n));
  DS2_MPI_CHECK(MPI_Allgather(mine, 2, MPI_UINT64_T, all.data(), 2, MPI_UINT64_T, comm.raw()));
  std::string bad;
  int n_bad = 0;
  for (int r = 1; r < n; ++r) {
    if (all[2 * r] == all[0] && all[2 * r + 1] == all[1]) continue;
    if (++n_bad <= 8) {
      bad += fmt::format("{}rank {} has {} x {}", bad.empty() ? "" : ", ", r, all[2 * r],
                         dtype_text(all[2 * r + 1]));
    }
  }
  if (n_bad == 0) return;
  if (n_bad > 8) bad += fmt::format(" and {} more", n_bad - 8);
  DS2_THROW(CommError, "{}: ranks disagree on the collective's arguments: rank 0 has {} x {}, {}",
            what, all[0], dtype_text(all[1]), bad);
}

Allreducer::Allreducer(const Comm& comm, const AllreduceOptions& o, model::Backend* memory)
    : comm_(comm.dup()), opts_(o) {
  if (memory && memory->device() != model::Device::kCpu) device_ = memory;
#ifndef NDEBUG
  opts_.check_collectives = true;
#endif
  if (opts_.algo == Algorithm::kNccl) {
    require_nccl_possible(opts_, device_ ? memory->device() : model::Device::kCpu);
  }
  DS2_REQUIRE(opts_.chunk_bytes >= sizeof(double), ConfigError,
              "all-reduce chunk of {} bytes is too small", opts_.chunk_bytes);
  DS2_REQUIRE(opts_.pipeline_depth >= 1 && opts_.pipeline_depth <= 64, ConfigError,
              "all-reduce pipeline depth {} is not in 1..64", opts_.pipeline_depth);
  int provided = MPI_THREAD_SINGLE;
  DS2_MPI_CHECK(MPI_Query_thread(&provided));
  async_ok_ = provided >= MPI_THREAD_MULTIPLE;
  // auto on one rank: nothing to reduce (start() returns at once), so no NCCL start-up either.
  if (device_ && (opts_.algo == Algorithm::kNccl ||
                  (opts_.algo == Algorithm::kAuto && model::nccl_available() && comm_.size() > 1)))
    start_nccl();
  if (device_ && comm_.root())
    logger("allreduce")
        ->info("gradients in GPU memory: {}",
               nccl_ ? "NCCL all-reduce on the device" : "staged through pinned host buffers");
}

void require_nccl_possible(const AllreduceOptions& o, model::Device device) {
  if (o.algo != Algorithm::kNccl) return;
  DS2_REQUIRE(device != model::Device::kCpu, ConfigError,
              "option '--allreduce': nccl needs model.device=cuda (gradients in GPU memory); "
              "this run trains on the CPU (use ring, mpi or auto)");
  if (!model::nccl_available()) model::nccl_unique_id();  // the build's one-line refusal
}

// Collective. NCCL refuses two ranks of a communicator on one GPU, so (host, device) pairs are
// compared first: a duplicate fails --allreduce nccl in one line and makes auto stage through
// pinned memory instead (the same decision on every rank: all see the same list).
void Allreducer::start_nccl() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) std::strcpy(host, "?");
  const std::vector<std::string> all =
      comm_.allgather_strings(fmt::format("{} GPU {}", host, device_->device_index()));
  for (int a = 0; a < comm_.size(); ++a)
    for (int b = a + 1; b < comm_.size(); ++b) {
      if (all[a] != all[b]) continue;
      DS2_REQUIRE(opts_.algo != Algorithm::kNccl, ConfigError,
                  "option '--allreduce': nccl needs one GPU per rank, but ranks {} and {} both "
                  "use {} (more ranks than GPUs on a node; use ring, or --gpu/DS2_GPU)",
                  a, b, all[a]);
      if (comm_.root())
        logger("allreduce")
            ->info("auto: ranks {} and {} share {}: not NCCL (it refuses that)", a, b, all[a]);
      return;
    }
  std::string id = comm_.root() ? model::nccl_unique_id() : std::string();
  comm_.bcast_string(id);
  nccl_ = model::make_nccl_comm(*device_, id, comm_.size(), comm_.rank());
}

Allreducer::~Allreducer() {
  if (thread_.joinable()) {
    size_t dropped = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      dropped = queue_.size() - head_;
      head_ = queue_.size();
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    if (dropped > 0) {
      logger("allreduce")
          ->warn("{} started all-reduce bucket(s) dropped: destroyed before wait_all()", dropped);
    }
  }
  try {
    release_device_buffers();  // after the thread: it may have been reading a staging block
  } catch (const std::exception& e) {
    logger("allreduce")->error("releasing the all-reduce's device buffers failed: {}", e.what());
  }
}

int Allreducer::required_thread_level() { return MPI_THREAD_MULTIPLE; }

Algorithm Allreducer::algorithm_for(size_t bytes) const {
  if (opts_.algo != Algorithm::kAuto) return opts_.algo;
  return bytes < opts_.small_threshold_bytes ? Algorithm::kMpi : Algorithm::kRing;
}

size_t Allreducer::workspace_bytes(size_t count, size_t elem_size) const {
  if (algorithm_for(count * elem_size) != Algorithm::kRing) return 0;
  return ring_workspace_bytes(count, comm_.size(), elem_size, ring_params(opts_));
}

template <typename T>
void Allreducer::reduce_now(T* data, size_t count) {
  if (opts_.check_collectives) {
    check_allreduce_contract(comm_, count, dtype_code<T>(), "all-reduce");
  }
  if (count == 0 || comm_.size() == 1) return;
  if (algorithm_for(count * sizeof(T)) == Algorithm::kRing) {
    const size_t need = workspace_bytes(count, sizeof(T));
    if (workspace_.size() < need) workspace_.resize(need);  // grows to the largest size seen
    ring_allreduce(comm_.raw(), data, count, ring_params(opts_), workspace_.data(),
                   workspace_.size());
    return;
  }
  for (size_t done = 0; done < count;) {  // MPI counts are int
    const size_t n = std::min<size_t>(count - done, INT_MAX);
    DS2_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data + done, static_cast<int>(n), mpi_type<T>(),
                                MPI_SUM, comm_.raw()));
    done += n;
  }
}

template <typename T>
void Allreducer::sum(T* data, size_t count) {
  wait_all();
  reduce_now(data, count);
}

template <typename T>
void Allreducer::start(T* data, size_t count) {
  Bucket b{data, count, std::is_same_v<T, double>};
  if (device_ && comm_.size() == 1) return;  // nothing to add; later ops follow in stream order
  if (device_ && nccl_) {
    // On the device: NCCL's stream waits for the event, the host does not.
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>);
    DS2_REQUIRE(!b.is_double, ConfigError, "all-reduce of device buffers: float only");
    if (opts_.check_collectives)
      check_allreduce_contract(comm_, count, dtype_code<T>(), "all-reduce (nccl)");
    const size_t k = round_++;
    if (events_.size() <= k) events_.push_back(device_->create_event());
    device_->record_event(events_[k]);
    nccl_->allreduce(reinterpret_cast<float*>(data), count, events_[k]);
    return;
  }
  if (device_) {
    // On the training thread (the device is current here): the bucket's slot, grown while no
    // earlier round can still be reading it, and its event after the kernels queued so far.
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>);
    DS2_REQUIRE(!b.is_double, ConfigError, "all-reduce of device buffers: float only");
    const size_t k = round_++;
    if (events_.size() <= k) events_.push_back(device_->create_event());
    if (stages_.size() <= k) stages_.push_back({nullptr, 0});
    auto& st = stages_[k];
    if (st.second < count) {
      device_->free_host(st.first);
      st = {nullptr, 0};
      st.first = device_->alloc_host(count);
      st.second = count;
    }
    b.event = events_[k];
    b.stage = st.first;
    device_->record_event(b.event);
  }
  if (!async_ok_) {
    if (!warned_sync_) {
      logger("allreduce")->info("MPI thread level < MULTIPLE: start() reduces synchronously");
      warned_sync_ = true;
    }
    run_bucket(b);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (error_) return;  // a bucket failed: drop until wait_all() reports it (same on every rank)
    if (!thread_.joinable()) thread_ = std::thread([this] { comm_loop(); });
    queue_.push_back(b);
  }
  cv_.notify_all();
}

void Allreducer::run_bucket(const Bucket& b) {
  if (b.stage) {
    reduce_staged(b);
  } else if (b.is_double) {
    reduce_now(static_cast<double*>(b.data), b.count);
  } else {
    reduce_now(static_cast<float*>(b.data), b.count);
  }
}

void Allreducer::reduce_staged(const Bucket& b) {
  device_->wait_event(b.event);  // the backward kernels that wrote this bucket are done
  float* dev = static_cast<float*>(b.data);
  device_->transfer_download(b.stage, dev, b.count);
  reduce_now(b.stage, b.count);
  device_->transfer_upload(dev, b.stage, b.count);
}

void Allreducer::release_device_buffers() {
  if (!device_) return;
  for (void* e : events_) device_->destroy_event(e);
  for (auto& st : stages_) device_->free_host(st.first);
  events_.clear();
  stages_.clear();
}

void Allreducer::wait_all() {
  // No communication thread yet (only start() creates it, on this thread): nothing can be queued
  // or failed, and sum() on small buffers stays as cheap as a bare MPI_Allreduce.
  round_ = 0;  // every slot is free again once this returns (or throws)
  if (nccl_) nccl_->synchronize();
  if (!thread_.joinable()) return;
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return head_ == queue_.size() && !busy_; });
  if (error_) {
    std::exception_ptr e = error_;
    error_ = nullptr;
    std::rethrow_exception(e);
  }
}

void Allreducer::comm_loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || head_ < queue_.size(); });
    if (head_ == queue_.size()) return;  // stop_ and nothing left (the destructor drops the rest)
    const Bucket b = queue_[head_++];
    busy_ = true;
    lock.unlock();
    std::exception_ptr err;
    try {
      run_bucket(b);
    } catch (...) {
      err = std::current_exception();
    }
    lock.lock();
    busy_ = false;
    if (err) {
      if (!error_) error_ = err;
      head_ = queue_.size();  // every rank fails the same bucket and drops the same rest
    }
    if (head_ == queue_.size()) {
      queue_.clear();  // keeps the capacity: no allocation per bucket once grown
      head_ = 0;
    }
    cv_.notify_all();
  }
}

template void Allreducer::sum<float>(float*, size_t);
template void Allreducer::sum<double>(double*, size_t);
template void Allreducer::start<float>(float*, size_t);
template void Allreducer::start<double>(double*, size_t);

}  // namespace ds2::train
