// The Allreducer's device path (buffers in a device backend's memory, staged through pinned host
// blocks on the communication thread) without a GPU: a CPU backend that reports itself as a
// device, so the Allreducer takes the device path, and that logs every event and transfer call.
// Oracles: the same buckets reduced by a host Allreducer (ring and mpi: results must be bit-
// identical, the staging only moves bytes) and the protocol the device path promises -- per
// bucket and round, an event recorded on the training thread, the communication thread waiting on
// that event BEFORE it copies the bucket out, the sum copied back; slots reused across rounds (no
// new pinned block once sizes are known); nothing staged on one rank. NP 1 2 3.
#include <gtest/gtest.h>

#include <mutex>
#include <string>
#include <vector>

#include "core/mpi.h"
#include "model/cpu/cpu_backend.h"
#include "train/allreduce.h"

namespace ds2::train {
namespace {

class FakeDevice : public model::cpu::CpuBackend {
 public:
  FakeDevice() : CpuBackend(1) {}
  model::Device device() const override { return model::Device::kCuda; }
  float* alloc_host(size_t n) override {
    note("alloc_host");
    return CpuBackend::alloc_host(n);
  }
  void record_event(void* e) override { note("record " + id(e)); }
  void wait_event(void* e) override { note("wait " + id(e)); }
  void transfer_download(float* h, const float* s, size_t n) override {
    note("down " + std::to_string(n));
    CpuBackend::transfer_download(h, s, n);
  }
  void transfer_upload(float* d, const float* h, size_t n) override {
    note("up " + std::to_string(n));
    CpuBackend::transfer_upload(d, h, n);
  }
  std::vector<std::string> take() {
    std::lock_guard<std::mutex> l(mu_);
    return std::move(log_);
  }
  std::string id(void* e) {
    std::lock_guard<std::mutex> l(mu_);
    for (size_t i = 0; i < events_.size(); ++i)
      if (events_[i] == e) return std::to_string(i);
    events_.push_back(e);
    return std::to_string(events_.size() - 1);
  }

 private:
  void note(const std::string& s) {
    std::lock_guard<std::mutex> l(mu_);
    log_.push_back(s);
  }
  std::mutex mu_;
  std::vector<std::string> log_;
  std::vector<void*> events_;
};

std::vector<float> input(int rank, size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>((rank * 131 + i * 7) % 1001) * 0.25f;
  return v;
}

class Staged : public ::testing::TestWithParam<Algorithm> {};

TEST_P(Staged, SameSumsAsHostAndEventBeforeEachCopy) {
  const Comm world;
  AllreduceOptions o;
  o.algo = GetParam();
  o.chunk_bytes = 1024;
  const std::vector<size_t> sizes = {3001, 17, 640};  // buckets of one round
  FakeDevice dev;
  Allreducer staged(world, o, &dev);
  Allreducer host(world, o);
  for (int round = 0; round < 2; ++round) {
    std::vector<std::vector<float>> a, b;
    for (size_t k = 0; k < sizes.size(); ++k) {
      a.push_back(input(world.rank() + round, sizes[k]));
      b.push_back(a.back());
    }
    for (auto& v : a) staged.start(v.data(), v.size());
    for (auto& v : b) host.start(v.data(), v.size());
    staged.wait_all();
    host.wait_all();
    for (size_t k = 0; k < sizes.size(); ++k) EXPECT_EQ(a[k], b[k]) << "round " << round;
    const std::vector<std::string> log = dev.take();
    if (world.size() == 1) {
      EXPECT_TRUE(log.empty()) << "staged on one rank";
      continue;
    }
    // Record k happens at start() on this thread; wait k, down, up on the comm thread, in order.
    std::vector<std::string> comm_side;
    int records = 0, allocs = 0;
    for (const auto& s : log) {
      if (s.rfind("record", 0) == 0)
        ++records;
      else if (s == "alloc_host")
        ++allocs;
      else
        comm_side.push_back(s);
    }
    EXPECT_EQ(records, static_cast<int>(sizes.size()));
    EXPECT_EQ(allocs, round == 0 ? static_cast<int>(sizes.size()) : 0) << "slots not reused";
    ASSERT_EQ(comm_side.size(), 3 * sizes.size());
    for (size_t k = 0; k < sizes.size(); ++k) {
      EXPECT_EQ(comm_side[3 * k], "wait " + std::to_string(k));
      EXPECT_EQ(comm_side[3 * k + 1], "down " + std::to_string(sizes[k]));
      EXPECT_EQ(comm_side[3 * k + 2], "up " + std::to_string(sizes[k]));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Algorithms, Staged, ::testing::Values(Algorithm::kRing, Algorithm::kMpi),
                         [](const auto& i) { return std::string(algorithm_name(i.param)); });

}  // namespace
}  // namespace ds2::train
