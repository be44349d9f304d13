// A small least-recently-used cache of owned objects keyed by an int32 (e.g. open shard
// readers by shard number): at most `capacity` entries, the least recently used dropped first.
// Linear lookup: meant for tens of entries. Not thread-safe.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <utility>

namespace ds2 {

template <typename V>
class Lru {
 public:
  explicit Lru(size_t capacity = 1) : capacity_(std::max<size_t>(capacity, 1)) {}

  // The entry for `key`, now the most recent. When absent, make() -> std::unique_ptr<V> builds
  // it, and then the least recent entries beyond the capacity are dropped (so the new entry is
  // made before an old one is released).
  template <typename Make>
  V& get(int32_t key, Make&& make) {
    for (auto it = items_.begin(); it != items_.end(); ++it) {
      if (it->first != key) continue;
      if (it != items_.begin()) {
        auto keep = std::move(*it);
        items_.erase(it);
        items_.push_front(std::move(keep));
      }
      return *items_.front().second;
    }
    items_.emplace_front(key, make());
    while (items_.size() > capacity_) items_.pop_back();
    return *items_.front().second;
  }
  size_t size() const { return items_.size(); }
  void clear() { items_.clear(); }

 private:
  size_t capacity_;
  std::deque<std::pair<int32_t, std::unique_ptr<V>>> items_;  // most recent first
};

}  // namespace ds2
