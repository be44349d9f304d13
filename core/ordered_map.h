// ordered_map: computes f(i) for i in [0, n) on `workers` background threads and hands the
// results to `consume(i, result)` on the calling thread strictly in index order, with at most
// `window` results computed ahead. Used by prep so decoding, augmentation and featurization of
// the next utterances overlap the shard writes of the current one, while the output stays in
// a fixed order (shards are byte-identical for any thread count).
//
// Memory is bounded by `window` results. An exception thrown by f(i) is rethrown on the calling
// thread when index i comes up to be consumed; an exception from consume() stops the workers.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace ds2 {

template <typename R, typename F, typename C>
void ordered_map(size_t n, int workers, size_t window, F&& f, C&& consume) {
  if (workers <= 0) {
    for (size_t i = 0; i < n; ++i) consume(i, f(i));
    return;
  }
  window = std::max<size_t>(window, static_cast<size_t>(workers));
  struct Slot {
    std::optional<R> value;
    std::exception_ptr error;
    bool ready = false;
  };
  std::vector<Slot> slots(window);
  std::mutex mu;
  std::condition_variable cv;
  size_t next_task = 0, next_consume = 0;
  bool stop = false;
  auto worker = [&] {
    for (;;) {
      size_t i;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return stop || next_task >= n || next_task < next_consume + window; });
        if (stop || next_task >= n) return;
        i = next_task++;
      }
      Slot s;
      try {
        s.value.emplace(f(i));
      } catch (...) {
        s.error = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mu);
        Slot& dst = slots[i % window];
        dst.value = std::move(s.value);
        dst.error = s.error;
        dst.ready = true;
      }
      cv.notify_all();
    }
  };
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) threads.emplace_back(worker);
  auto join = [&] {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    cv.notify_all();
    for (auto& t : threads) t.join();
  };
  try {
    for (size_t i = 0; i < n; ++i) {
      Slot s;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return slots[i % window].ready; });
        s = std::move(slots[i % window]);
        slots[i % window] = Slot{};
        next_consume = i + 1;
      }
      cv.notify_all();
      if (s.error) std::rethrow_exception(s.error);
      consume(i, std::move(*s.value));
    }
  } catch (...) {
    join();
    throw;
  }
  join();
}

}  // namespace ds2
