// SortaGrad batch schedule; the algorithm is described in schedule.h.
#include "train/schedule.h"

#include <algorithm>
#include <cstdint>
#include <numeric>

#include "core/error.h"
#include "core/rng.h"

namespace ds2::train {
namespace {

// The generator of one (seed, stream) pair (core/rng.h: xoshiro256** seeded by SplitMix64).
Rng stream_rng(uint64_t seed, uint64_t stream) {
  return Rng(mix64(seed ^ (0xD1B54A32D192ED03ull * (stream + 1))));
}

// Stream ids keep the tie-breaking keys and the batch-order shuffle of one epoch independent.
uint64_t tie_stream(int e) { return 2 * static_cast<uint64_t>(e); }
uint64_t order_stream(int e) { return 2 * static_cast<uint64_t>(e) + 1; }

}  // namespace

void ScheduleOptions::add_to(po::options_description& d) {
  // clang-format off
  d.add_options()
      ("batch-size", po::value<int>(&batch_size)->default_value(batch_size),
       "global utterances per step, split over the ranks")
      ("max-batch-frames", po::value<int>(&max_batch_frames)->default_value(max_batch_frames),
       "cap on utterances x longest frames per batch (0: off); long batches get fewer utterances")
      ("sortagrad", po::value<bool>(&sortagrad)->default_value(sortagrad)->implicit_value(true),
       "epoch 0 in increasing utterance length (--sortagrad=0 to disable)")
      ("shuffle-seed", po::value<uint64_t>(&seed)->default_value(seed),
       "seed of the batch order of epochs after the first")
      ("drop-last", po::value<bool>(&drop_last)->default_value(drop_last)->implicit_value(true),
       "drop the final short batch (the longest utterances)");
  // clang-format on
}

std::vector<int32_t> utt_frames(const pipeline::DatasetIndex& index) {
  std::vector<int32_t> f;
  f.reserve(index.utts.size());
  for (const auto& u : index.utts) f.push_back(u.frames);
  return f;
}

Schedule::Schedule(std::vector<int32_t> utt_frames, const ScheduleOptions& o)
    : frames_(std::move(utt_frames)), opt_(o) {
  DS2_REQUIRE(o.batch_size >= 1, ConfigError, "option 'batch-size': {} (must be >= 1)",
              o.batch_size);
  DS2_REQUIRE(o.max_batch_frames >= 0, ConfigError, "option 'max-batch-frames': {} (must be >= 0)",
              o.max_batch_frames);
  std::vector<int32_t> sorted = frames_;
  std::sort(sorted.begin(), sorted.end());
  const int64_t cap = o.max_batch_frames;
  size_t i = 0;
  while (i < sorted.size()) {
    int n = 0;
    while (i < sorted.size() && n < o.batch_size &&
           (n == 0 || cap == 0 || static_cast<int64_t>(n + 1) * sorted[i] <= cap)) {
      ++n;
      ++i;
    }
    batch_sizes_.push_back(n);
  }
  // The final chunk was closed by the end of the data when the loop above ran out of utterances
  // before reaching batch_size or the cap; it is short exactly when it holds < batch_size.
  if (o.drop_last && !batch_sizes_.empty() && batch_sizes_.back() < o.batch_size) {
    int64_t n = batch_sizes_.back();
    int32_t longest = sorted.back();
    bool closed_by_cap = cap > 0 && (n + 1) * static_cast<int64_t>(longest) > cap;
    if (!closed_by_cap) batch_sizes_.pop_back();
  }
}

int64_t Schedule::utts_per_epoch() const {
  return std::accumulate(batch_sizes_.begin(), batch_sizes_.end(), int64_t{0});
}

std::vector<std::vector<int64_t>> Schedule::epoch(int e) const {
  DS2_REQUIRE(e >= 0, ConfigError, "epoch {} (must be >= 0)", e);
  const size_t n = frames_.size();
  DS2_REQUIRE(n <= UINT32_MAX, ConfigError, "{} utterances: more than 2^32", n);
  // 4-byte positions while sorting, the 8-byte keys freed before the batches are made: the peak
  // is 12 bytes per utterance, not 24 (the order is the same as with 64-bit positions).
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), uint32_t{0});
  const bool sorted_epoch = opt_.sortagrad && e == 0;
  if (sorted_epoch) {
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
      return frames_[a] != frames_[b] ? frames_[a] < frames_[b] : a < b;
    });
  } else {
    Rng rng = stream_rng(opt_.seed, tie_stream(e));
    std::vector<uint64_t> key(n);
    for (auto& k : key) k = rng.next();
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
      if (frames_[a] != frames_[b]) return frames_[a] < frames_[b];
      return key[a] != key[b] ? key[a] < key[b] : a < b;
    });
  }
  std::vector<std::vector<int64_t>> batches;
  batches.reserve(batch_sizes_.size());
  size_t at = 0;
  for (int s : batch_sizes_) {
    batches.emplace_back(order.begin() + at, order.begin() + at + s);
    at += s;
  }
  if (!sorted_epoch) {
    Rng rng = stream_rng(opt_.seed, order_stream(e));
    for (size_t i = batches.size(); i > 1; --i) std::swap(batches[i - 1], batches[rng.below(i)]);
  }
  return batches;
}

std::vector<int64_t> Schedule::slice(const std::vector<int64_t>& batch, int rank, int size) {
  DS2_REQUIRE(size >= 1 && rank >= 0 && rank < size, ConfigError,
              "slice: rank {} of {} ranks is out of range", rank, size);
  const int64_t b = static_cast<int64_t>(batch.size());
  const int64_t lo = b * rank / size, hi = b * (rank + 1) / size;
  return std::vector<int64_t>(batch.begin() + lo, batch.begin() + hi);
}

}  // namespace ds2::train
