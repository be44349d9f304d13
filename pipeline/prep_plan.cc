// assign_shards() (prep_plan.h): longest-processing-time-first over a min-heap of (load, shard),
// items sorted by duration with a stable sort, so the plan depends on the items alone.
#include "pipeline/prep_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <queue>

#include "core/error.h"

namespace ds2::pipeline {

std::vector<ShardPlan> assign_shards(const std::vector<PrepItem>& items, int n_shards) {
  DS2_REQUIRE(n_shards >= 1, ConfigError, "--shards: must be at least 1 (got {})", n_shards);
  std::vector<size_t> order(items.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return items[a].duration > items[b].duration; });
  // Min-heap on (load, shard index).
  using Slot = std::pair<double, int>;
  std::priority_queue<Slot, std::vector<Slot>, std::greater<Slot>> heap;
  for (int s = 0; s < n_shards; ++s) heap.push({0.0, s});
  std::vector<std::vector<size_t>> members(n_shards);
  for (size_t i : order) {
    auto [load, s] = heap.top();
    heap.pop();
    members[s].push_back(i);
    heap.push({load + items[i].duration, s});
  }
  std::vector<ShardPlan> plans(n_shards);
  for (int s = 0; s < n_shards; ++s) {
    std::sort(members[s].begin(), members[s].end());
    for (size_t i : members[s]) {
      plans[s].items.push_back(items[i]);
      plans[s].duration += items[i].duration;
    }
  }
  return plans;
}

std::string hex64(uint64_t v) { return fmt::format("{:016x}", v); }

std::string shard_name(int shard) { return fmt::format("shard-{:05d}.h5", shard); }

}  // namespace ds2::pipeline
