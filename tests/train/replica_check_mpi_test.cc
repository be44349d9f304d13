// The replica check (train/replica_check.h) against a known truth: copies that are identical by
// construction pass, and a copy changed on one rank -- one bit of one float, in a parameter or in
// the optimizer velocity -- fails on EVERY rank, naming that rank and that tensor. Runs at np 1,
// 2, 3 (at np 1 there is nobody to differ from: it must pass).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/mpi.h"
#include "train/replica_check.h"

namespace ds2::train {
namespace {

struct Model {
  std::vector<float> a, b, velocity;
  std::vector<ReplicaTensor> tensors() const {
    return {{"conv0.w", a.data(), a.size()},
            {"rnn0.fwd.U", b.data(), b.size()},
            {"velocity/rnn0.fwd.U", velocity.data(), velocity.size()}};
  }
};

Model make_model() {
  Model m;
  for (int i = 0; i < 1001; ++i) m.a.push_back(0.001f * i - 0.3f);  // odd size: a tail word
  for (int i = 0; i < 64; ++i) m.b.push_back(static_cast<float>(i % 7));
  m.velocity.assign(64, 0.5f);
  return m;
}

// The message on this rank when check_replicas throws, "" when it does not.
std::string check(const Comm& world, const Model& m) {
  try {
    check_replicas(world, m.tensors(), "step 42");
  } catch (const CommError& e) {
    return e.what();
  }
  return "";
}

TEST(ReplicaCheck, IdenticalCopiesPass) {
  Comm world;
  EXPECT_EQ(check(world, make_model()), "");
}

TEST(ReplicaCheck, OneFlippedBitOnOneRankIsNamedOnEveryRank) {
  Comm world;
  const int bad = world.size() - 1;  // at np 1: rank 0 itself, nobody to differ from
  for (int which = 0; which < 3; ++which) {
    Model m = make_model();
    if (world.rank() == bad) {
      float* x = which == 0 ? &m.a[1000] : which == 1 ? &m.b[3] : &m.velocity[63];
      uint32_t bits;
      std::memcpy(&bits, x, 4);
      bits ^= 1u;  // the least significant mantissa bit
      std::memcpy(x, &bits, 4);
    }
    const std::string msg = check(world, m);
    const std::string name = m.tensors()[which].name;
    if (world.size() == 1) {
      EXPECT_EQ(msg, "") << "a single copy cannot diverge";
      continue;
    }
    ASSERT_NE(msg, "") << "rank " << world.rank() << ": a flipped bit in " << name << " passed";
    EXPECT_NE(msg.find("step 42"), std::string::npos) << msg;
    EXPECT_NE(msg.find("rank " + std::to_string(bad) + " differs"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'" + name + "'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("1 of 3 tensors"), std::string::npos) << msg;
  }
}

TEST(ReplicaCheck, DifferentTensorListsAreRefused) {
  Comm world;
  Model m = make_model();
  if (world.rank() == 1) m.b.resize(63);
  const std::string msg = check(world, m);
  if (world.size() == 1) {
    EXPECT_EQ(msg, "");
    return;
  }
  EXPECT_NE(msg.find("different list of tensors"), std::string::npos) << msg;
}

TEST(ReplicaCheck, DigestSeesEveryWordAndTheLength) {
  std::vector<float> x(37, 1.25f);
  const uint64_t d = tensor_digest(x.data(), x.size());
  EXPECT_NE(d, tensor_digest(x.data(), x.size() - 1));
  for (size_t i = 0; i < x.size(); ++i) {
    std::vector<float> y = x;
    y[i] = -y[i];
    EXPECT_NE(d, tensor_digest(y.data(), y.size())) << "element " << i;
  }
  std::vector<float> z = x;
  std::swap(z[0], z[2]);
  z[0] = 2.0f;
  z[2] = 1.25f;
  std::vector<float> w = x;
  w[2] = 2.0f;  // the same multiset of values as z, in another order
  EXPECT_NE(tensor_digest(z.data(), z.size()), tensor_digest(w.data(), w.size()));
}

}  // namespace
}  // namespace ds2::train
