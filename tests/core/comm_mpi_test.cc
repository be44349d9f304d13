// Runs under mpirun with 1..3 ranks (see CMakeLists).
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "core/mpi.h"
#include "core/progress.h"

namespace ds2 {
namespace {

TEST(Comm, TypedCollectivesAgreeWithClosedForms) {
  Comm c;
  const int n = c.size();
  EXPECT_EQ(c.allreduce_value<int64_t>(c.rank() + 1), int64_t(n) * (n + 1) / 2);
  std::vector<double> v = {1.0 * c.rank(), 2.0};
  c.allreduce(v.data(), v.size());
  EXPECT_DOUBLE_EQ(v[0], n * (n - 1) / 2.0);
  EXPECT_DOUBLE_EQ(v[1], 2.0 * n);
  auto all = c.allgather_value<int32_t>(c.rank() * 10);
  for (int r = 0; r < n; ++r) EXPECT_EQ(all[r], r * 10);
  // Unequal string lengths, including an empty one.
  auto s = c.allgather_strings(std::string(c.rank(), 'x'));
  for (int r = 0; r < n; ++r) EXPECT_EQ(s[r], std::string(r, 'x'));
  // Gather to the last rank and scatter from it (not rank 0, so `root` is honoured).
  const int root = n - 1;
  auto g = c.gather_strings(std::string(c.rank() + 1, 'g'), root);
  ASSERT_EQ(g.size(), c.rank() == root ? static_cast<size_t>(n) : 0u);
  for (int r = 0; r < static_cast<int>(g.size()); ++r) EXPECT_EQ(g[r], std::string(r + 1, 'g'));
  std::vector<std::string> parts;
  if (c.rank() == root)
    for (int r = 0; r < n; ++r) parts.push_back(std::string(2 * r, static_cast<char>('a' + r)));
  EXPECT_EQ(c.scatter_strings(parts, root),
            std::string(2 * c.rank(), static_cast<char>('a' + c.rank())));
  // Point to point around a ring, two messages each (order kept), one of them empty.
  if (n > 1) {
    const int next = (c.rank() + 1) % n, prev = (c.rank() + n - 1) % n;
    if (c.rank() % 2 == 0) {
      c.send_string(std::string(c.rank() + 1, 'p'), next);
      c.send_string("", next);
    }
    EXPECT_EQ(c.recv_string(prev), std::string(prev + 1, 'p'));
    EXPECT_EQ(c.recv_string(prev), "");
    if (c.rank() % 2 == 1) {
      c.send_string(std::string(c.rank() + 1, 'p'), next);
      c.send_string("", next);
    }
  }
  std::string b = c.root() ? "hello" : "";
  c.bcast_string(b);
  EXPECT_EQ(b, "hello");
  EXPECT_EQ(c.any(c.rank() == n - 1), true);
  EXPECT_EQ(c.any(false), false);
}

TEST(Progress, UnevenWorkEndsWithTheJobTotal) {
  Comm c;
  // Rank r does r*7+3 units, some ranks many more updates than others; interval 0 forces
  // traffic on every add.
  double total = 0;
  for (int r = 0; r < c.size(); ++r) total += r * 7 + 3;
  Progress p(c, "test", "work", total, "units", 0.0);
  for (int i = 0; i < c.rank() * 7 + 3; ++i) p.add(1);
  // Rank 0 keeps working after the others finished, so it sees their final messages in add().
  if (c.root()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    for (int i = 0; i < 5; ++i) p.add(0);
  }
  p.finish();
  if (c.root()) {
    EXPECT_DOUBLE_EQ(p.done(), total);
  }
  c.barrier();
}

}  // namespace
}  // namespace ds2
