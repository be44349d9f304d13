// core/lru.h against a reference model written from the definition (a list of keys, most
// recent first, truncated to the capacity): the same misses (make() calls) and the same
// resident keys after every access, on random access sequences.
#include "core/lru.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <vector>

namespace ds2 {
namespace {

TEST(Lru, MatchesAReferenceModelOnRandomAccesses) {
  std::mt19937 g(5);
  for (size_t capacity : {1u, 2u, 3u, 7u}) {
    Lru<int> lru(capacity);
    std::vector<int32_t> model;  // most recent first
    int misses = 0, model_misses = 0;
    for (int step = 0; step < 2000; ++step) {
      const int32_t key = static_cast<int32_t>(g() % 10);
      int& v = lru.get(key, [&] {
        ++misses;
        return std::make_unique<int>(key * 100);
      });
      EXPECT_EQ(v, key * 100);  // the entry made for this key, not another's
      auto it = std::find(model.begin(), model.end(), key);
      if (it == model.end()) {
        ++model_misses;
      } else {
        model.erase(it);
      }
      model.insert(model.begin(), key);
      if (model.size() > capacity) model.resize(capacity);
      ASSERT_EQ(misses, model_misses) << "capacity " << capacity << " step " << step;
      ASSERT_EQ(lru.size(), model.size());
    }
  }
}

TEST(Lru, ANewEntryIsMadeBeforeTheOldOneIsDropped) {
  Lru<int> lru(1);
  lru.get(1, [] { return std::make_unique<int>(1); });
  size_t seen = 0;
  lru.get(2, [&] {
    seen = lru.size();  // the old entry is still there while the new one is made
    return std::make_unique<int>(2);
  });
  EXPECT_EQ(seen, 1u);
  EXPECT_EQ(lru.size(), 1u);
}

}  // namespace
}  // namespace ds2
