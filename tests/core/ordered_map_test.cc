// core/ordered_map.h: results come back in input order for any worker count, a worker's
// exception surfaces at its index, and the window bounds how far workers run ahead.
#include "core/ordered_map.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <stdexcept>

namespace ds2 {
namespace {

TEST(OrderedMap, ResultsArriveInOrderForAnyWorkerCount) {
  for (int workers : {0, 1, 2, 5}) {
    std::vector<size_t> seen;
    ordered_map<size_t>(
        100, workers, 4,
        [](size_t i) {
          // Uneven work so later items often finish first.
          std::this_thread::sleep_for(std::chrono::microseconds((i * 37) % 5 * 100));
          return i * i;
        },
        [&](size_t i, size_t v) {
          EXPECT_EQ(v, i * i);
          seen.push_back(i);
        });
    ASSERT_EQ(seen.size(), 100u) << workers;
    for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], i);
  }
}

TEST(OrderedMap, WorkerExceptionSurfacesAtItsIndex) {
  size_t consumed = 0;
  EXPECT_THROW(ordered_map<int>(
                   50, 2, 3,
                   [](size_t i) {
                     if (i == 17) throw std::runtime_error("bad item");
                     return static_cast<int>(i);
                   },
                   [&](size_t, int) { ++consumed; }),
               std::runtime_error);
  EXPECT_EQ(consumed, 17u);
}

TEST(OrderedMap, WindowBoundsWorkAhead) {
  std::atomic<size_t> started{0};
  size_t max_ahead = 0;
  ordered_map<int>(
      40, 3, 5,
      [&](size_t i) {
        ++started;
        return 0;
      },
      [&](size_t i, int) {
        max_ahead = std::max(max_ahead, started.load() - i);
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      });
  EXPECT_LE(max_ahead, 6u);  // consuming i lets items up to i + window start
}

}  // namespace
}  // namespace ds2
