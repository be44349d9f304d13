// All-reduce under mpiexec (NP 1 2 3 4). Oracles: the exact sum of every rank's input, recomputed
// in double by every rank from the same deterministic fill function (independent of MPI), and
// MPI_Allreduce itself on integer-valued inputs (exact in float, so results must be equal).
// Bit-identity across ranks is checked by all-gathering a hash of each result.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/mpi.h"
#include "train/allreduce.h"
#include "train/ring_allreduce.h"

namespace ds2::train {
namespace {

uint64_t mix(uint64_t x) {  // splitmix64 finalizer
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Rank r's input at index i: a float in [-1, 1) with 24 significant bits (exact in float).
double real_value(int r, size_t i) {
  const uint64_t h = mix((static_cast<uint64_t>(r) << 40) ^ i);
  return static_cast<double>(h >> 40) / double(1 << 23) - 1.0;
}
// Rank r's integer input at index i, in [-1000, 1000]: sums are exact in float.
double int_value(int r, size_t i) {
  return static_cast<double>(mix((static_cast<uint64_t>(r) << 40) ^ i ^ 0x5555) % 2001) - 1000.0;
}

template <typename T>
std::vector<T> fill(int rank, size_t count, double (*f)(int, size_t)) {
  std::vector<T> v(count);
  for (size_t i = 0; i < count; ++i) v[i] = static_cast<T>(f(rank, i));
  return v;
}

uint64_t hash_bytes(const void* p, size_t n) {  // FNV-1a
  uint64_t h = 1469598103934665603ull;
  const unsigned char* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  return h;
}

// Every rank's result hashes to the same value.
template <typename T>
void expect_bit_identical(const Comm& comm, const std::vector<T>& v, const std::string& what) {
  const auto hashes = comm.allgather_value<uint64_t>(hash_bytes(v.data(), v.size() * sizeof(T)));
  for (int r = 1; r < comm.size(); ++r) {
    EXPECT_EQ(hashes[r], hashes[0]) << what << ": rank " << r << " differs from rank 0";
  }
}

// Result equals the exact sum of the real-valued inputs within the float summation bound.
template <typename T>
void expect_sum(const Comm& comm, const std::vector<T>& v, const std::string& what) {
  const double eps = std::is_same_v<T, float> ? 0x1p-23 : 0x1p-52;
  size_t bad = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    double exact = 0, mag = 0;
    for (int r = 0; r < comm.size(); ++r) {
      exact += real_value(r, i);
      mag += std::fabs(real_value(r, i));
    }
    const double tol = comm.size() * eps * mag + 1e-30;
    if (!(std::fabs(v[i] - exact) <= tol) && ++bad <= 3) {
      ADD_FAILURE() << what << ": index " << i << " got " << v[i] << " expected " << exact;
    }
  }
  EXPECT_EQ(bad, 0u) << what;
}

AllreduceOptions options(Algorithm a, size_t chunk_bytes = size_t(1) << 20, int depth = 4) {
  AllreduceOptions o;
  o.algo = a;
  o.chunk_bytes = chunk_bytes;
  o.pipeline_depth = depth;
  o.small_threshold_bytes = 4096;  // auto takes both paths in these tests
  return o;
}

std::vector<size_t> small_sizes(int n) {
  std::vector<size_t> s = {0, 1, 2, 3, 4, 5, 7, 13, 64, 1000, 1023, 1025, 7919, 65537};
  s.push_back(static_cast<size_t>(n) - 1);
  s.push_back(static_cast<size_t>(n) + 1);
  s.push_back(static_cast<size_t>(3 * n) + 2);
  return s;
}

class AllreduceAlgo : public testing::TestWithParam<Algorithm> {};

TEST_P(AllreduceAlgo, RealValuedSumsAreCorrectAndBitIdentical) {
  Comm world;
  // Small chunks so that small buffers still run through many pipelined chunks per segment.
  for (size_t chunk : {size_t(64), size_t(4096)}) {
    for (int depth : {1, 3}) {
      Allreducer ar(world, options(GetParam(), chunk, depth));
      for (size_t count : small_sizes(world.size())) {
        const std::string what = fmt::format("{} chunk={} depth={} count={}",
                                             algorithm_name(GetParam()), chunk, depth, count);
        auto v = fill<float>(world.rank(), count, real_value);
        ar.sum(v.data(), count);
        expect_sum(world, v, what);
        expect_bit_identical(world, v, what);
      }
    }
  }
}

TEST_P(AllreduceAlgo, JustOverOneChunk) {
  Comm world;
  Allreducer ar(world, options(GetParam(), size_t(256) << 10, 2));
  const size_t chunk_elems = ar.options().chunk_bytes / sizeof(float);
  for (size_t count : {chunk_elems + 1, world.size() * chunk_elems + 3}) {
    auto v = fill<float>(world.rank(), count, real_value);
    ar.sum(v.data(), count);
    const std::string what = fmt::format("{} count={}", algorithm_name(GetParam()), count);
    expect_sum(world, v, what);
    expect_bit_identical(world, v, what);
  }
}

TEST_P(AllreduceAlgo, IntegerInputsEqualMpiAllreduceExactly) {
  Comm world;
  Allreducer ar(world, options(GetParam(), 256, 2));
  for (size_t count : {size_t(1), size_t(3), size_t(1001), size_t(65536 + 17)}) {
    auto v = fill<float>(world.rank(), count, int_value);
    auto ref = v;
    world.allreduce(ref.data(), count);  // the MPI oracle
    ar.sum(v.data(), count);
    ASSERT_EQ(0, std::memcmp(v.data(), ref.data(), count * sizeof(float)))
        << algorithm_name(GetParam()) << " count=" << count;
    for (size_t i = 0; i < count; i += 97) {  // and the exact integer sum
      double exact = 0;
      for (int r = 0; r < world.size(); ++r) exact += int_value(r, i);
      ASSERT_EQ(v[i], exact) << "index " << i;
    }
  }
}

TEST_P(AllreduceAlgo, DoubleBuffers) {
  Comm world;
  Allreducer ar(world, options(GetParam(), 1024, 2));
  for (size_t count : {size_t(5), size_t(3001)}) {
    auto v = fill<double>(world.rank(), count, real_value);
    ar.sum(v.data(), count);
    expect_sum(world, v, fmt::format("double count={}", count));
    expect_bit_identical(world, v, "double");
  }
}

TEST_P(AllreduceAlgo, AsyncBucketsEqualSumPerBucket) {
  Comm world;
  Allreducer ar(world, options(GetParam(), 2048, 2));
  const std::vector<size_t> sizes = {1000, 7, 0, 30011, 5, 4096, 1, 12345};
  std::vector<std::vector<float>> buckets, refs;
  for (size_t b = 0; b < sizes.size(); ++b) {
    buckets.push_back(fill<float>(world.rank() + 10 * static_cast<int>(b), sizes[b], real_value));
  }
  refs = buckets;
  for (auto& b : buckets) ar.start(b.data(), b.size());  // back to back, no waiting
  // Meanwhile this thread keeps using MPI on another communicator (MPI_THREAD_MULTIPLE).
  EXPECT_EQ(world.allreduce_value<int>(1), world.size());
  ar.wait_all();
  for (auto& r : refs) ar.sum(r.data(), r.size());
  for (size_t b = 0; b < sizes.size(); ++b) {
    ASSERT_EQ(0, std::memcmp(buckets[b].data(), refs[b].data(), sizes[b] * sizeof(float)))
        << "bucket " << b << " of " << sizes[b];
    expect_bit_identical(world, buckets[b], fmt::format("bucket {}", b));
  }
  // A second round on the same Allreducer, and a double bucket among floats.
  auto f = fill<float>(world.rank(), 777, real_value);
  auto d = fill<double>(world.rank(), 999, real_value);
  ar.start(f.data(), f.size());
  ar.start(d.data(), d.size());
  ar.wait_all();
  expect_sum(world, f, "round 2 float");
  expect_sum(world, d, "round 2 double");
}

INSTANTIATE_TEST_SUITE_P(Algorithms, AllreduceAlgo,
                         testing::Values(Algorithm::kRing, Algorithm::kAuto, Algorithm::kMpi),
                         [](const testing::TestParamInfo<Algorithm>& i) {
                           return std::string(algorithm_name(i.param));
                         });

TEST(Allreduce, SixtyFourMiBRingWithDefaultOptionsMatchesExactSum) {
  Comm world;
  AllreduceOptions o;  // the defaults: chunk, depth, threshold
  o.algo = Algorithm::kAuto;
  Allreducer ar(world, o);
  ASSERT_EQ(ar.algorithm_for(size_t(64) << 20), Algorithm::kRing);
  const size_t count = size_t(16) << 20;  // 64 MiB of floats
  auto v = fill<float>(world.rank(), count, real_value);
  ar.sum(v.data(), count);
  expect_sum(world, v, "64 MiB ring");
  expect_bit_identical(world, v, "64 MiB ring");
  EXPECT_LE(ar.workspace_bytes(count), o.pipeline_depth * o.chunk_bytes);
}

TEST(Allreduce, RingFreeFunctionWithExactWorkspace) {
  Comm world;
  const Comm c = world.dup();
  RingParams p;
  p.chunk_bytes = 40;  // 10 floats: segments of 1001/n elements span many chunks
  p.depth = 5;
  const size_t count = 1001;
  // Sentinels after the workspace catch overruns.
  const size_t ws = ring_workspace_bytes(count, c.size(), sizeof(float), p);
  std::vector<float> workspace(ws / sizeof(float) + 16, 12345.0f);
  auto v = fill<float>(c.rank(), count, real_value);
  ring_allreduce(c.raw(), v.data(), count, p, workspace.data(), ws);
  expect_sum(c, v, "free function");
  for (size_t i = ws / sizeof(float); i < workspace.size(); ++i) ASSERT_EQ(workspace[i], 12345.0f);
  if (c.size() > 1) {  // one rank needs no workspace and returns at once
    EXPECT_THROW(ring_allreduce(c.raw(), v.data(), count, p, workspace.data(), ws - 1),
                 ConfigError);
  }
}

TEST(Allreduce, CheckCollectivesNamesTheMismatchingRank) {
  Comm world;
  AllreduceOptions o = options(Algorithm::kRing);
  o.check_collectives = true;
  Allreducer ar(world, o);
  std::vector<float> v(12, 1.0f);
  const size_t count = world.rank() == world.size() - 1 ? 11 : 10;  // the last rank disagrees
  if (world.size() == 1) {
    ar.sum(v.data(), count);  // nothing to disagree with
    EXPECT_EQ(v[0], 1.0f);
    return;
  }
  try {
    ar.sum(v.data(), count);
    ADD_FAILURE() << "no CommError";
  } catch (const CommError& e) {
    EXPECT_NE(std::string(e.what()).find(fmt::format("rank {} has 11 x float32", world.size() - 1)),
              std::string::npos)
        << e.what();
  }
  // The failed call sent nothing, so the Allreducer is still usable, and so is the async path.
  ar.sum(v.data(), 10);
  EXPECT_EQ(v[0], static_cast<float>(world.size()));
  ar.start(v.data(), count);
  ar.start(v.data(), 10);  // dropped after the failure, on every rank
  EXPECT_THROW(ar.wait_all(), CommError);
  ar.wait_all();  // the error is reported once
  // The helper directly: a dtype mismatch.
  EXPECT_THROW(check_allreduce_contract(world, 4, world.rank() == 0 ? 1 : 2, "x"), CommError);
  EXPECT_NO_THROW(check_allreduce_contract(world, 4, 1, "x"));
}

TEST(Allreduce, OptionsAndErrors) {
  EXPECT_EQ(parse_algorithm("ring"), Algorithm::kRing);
  EXPECT_EQ(parse_algorithm("auto"), Algorithm::kAuto);
  EXPECT_EQ(parse_algorithm("mpi"), Algorithm::kMpi);
  EXPECT_EQ(parse_algorithm("nccl"), Algorithm::kNccl);
  EXPECT_THROW(parse_algorithm("Ring"), ConfigError);

  AllreduceOptions o;
  po::options_description d;
  o.add_to(d);
  const char* argv[] = {"x", "--allreduce=ring", "--allreduce-chunk-kib=256",
                        "--check-collectives"};
  po::variables_map vm;
  po::store(po::parse_command_line(4, argv, d), vm);
  po::notify(vm);
  EXPECT_EQ(o.algo, Algorithm::kRing);
  EXPECT_EQ(o.chunk_bytes, size_t(256) << 10);
  EXPECT_TRUE(o.check_collectives);

  AllreduceOptions bad;
  po::options_description d2;
  bad.add_to(d2);
  const char* argv2[] = {"x", "--allreduce=tree"};
  po::variables_map vm2;
  po::store(po::parse_command_line(2, argv2, d2), vm2);
  EXPECT_THROW(po::notify(vm2), ConfigError);

  Comm world;
  EXPECT_THROW(Allreducer(world, options(Algorithm::kNccl)), ConfigError);
  EXPECT_GE(Allreducer::required_thread_level(), MPI_THREAD_SERIALIZED);
}

}  // namespace
}  // namespace ds2::train
