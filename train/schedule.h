// The global batch schedule: which utterances form each training step, epoch by epoch.
//
// Every rank builds the same Schedule from the index's per-utterance frame counts and the
// options alone (never the rank count), then reads its own contiguous slice of each batch.
//
// Batches ("buckets") are formed once, the same way for every epoch:
//   1. Sort utterance indices by (frames, key), where key is the index itself in epoch 0 with
//      SortaGrad, and otherwise a pseudo-random key drawn per utterance from (seed, epoch), so
//      utterances of EQUAL length are shuffled among themselves each epoch (lengths never are).
//   2. Chunk that order greedily: a batch takes the next utterance while it holds fewer than
//      batch_size utterances and, with max_batch_frames > 0, while
//      (utterances in the batch + 1) * frames of the next utterance <= max_batch_frames (the next
//      one is the longest so far since the order is sorted, so this bounds padded frames
//      n * t of the batch). A single utterance longer than max_batch_frames forms a batch of one
//      (it cannot be split); memory must then allow one such utterance.
//   3. Epoch 0 with SortaGrad: the batches in that order (increasing length). Otherwise: the order
//      of the batches is shuffled (Fisher-Yates) with an RNG seeded by (seed, epoch).
// Batch sizes depend only on the sorted lengths, so every epoch has the same number of batches
// and the same multiset of batch sizes, and each batch is a contiguous run of the sorted lengths
// (two batches never interleave in length).
//
// drop_last: the final chunk of step 2 (the longest utterances) is dropped when it was closed only
// by running out of utterances and holds fewer than batch_size; otherwise every utterance appears
// exactly once per epoch.
//
// The RNG (splitmix64 seeding, xoshiro256**, unbiased bounded draws by rejection) is written out
// here rather than taken from <random> distributions, whose outputs differ between standard
// libraries; a schedule is therefore the same on every platform, which --resume relies on.
#pragma once

#include <cstdint>
#include <vector>

#include "core/options.h"
#include "pipeline/index.h"

namespace ds2::train {

struct ScheduleOptions {
  int batch_size = 32;       // GLOBAL utterances per step (split over ranks)
  int max_batch_frames = 0;  // 0: off; else cap on (utterances in batch) * (longest frames in it)
  bool sortagrad = true;     // epoch 0 in increasing length
  uint64_t seed = 1;
  bool drop_last = false;
  // --batch-size, --max-batch-frames, --sortagrad (bool: --sortagrad=0 disables), --shuffle-seed,
  // --drop-last (bool).
  void add_to(po::options_description& d);
};

// Frames per utterance of an index, in index order (the Schedule's input).
std::vector<int32_t> utt_frames(const pipeline::DatasetIndex& index);

class Schedule {
 public:
  // utt_frames: frames per utterance of the dataset, in index order. Throws ConfigError on a
  // batch_size < 1 or max_batch_frames < 0.
  Schedule(std::vector<int32_t> utt_frames, const ScheduleOptions& o);

  // Global batches of epoch e (e >= 0), each a list of utterance indices into the index, in the
  // order described at the top of this file.
  std::vector<std::vector<int64_t>> epoch(int e) const;

  // Batches per epoch (the same for every epoch).
  size_t batches_per_epoch() const { return batch_sizes_.size(); }
  // Utterances per epoch (all of them unless drop_last dropped the final short batch).
  int64_t utts_per_epoch() const;
  const std::vector<int32_t>& utt_frames() const { return frames_; }
  const ScheduleOptions& options() const { return opt_; }

  // The rank's slice of one global batch of B utterances over `size` ranks: the contiguous range
  // [floor(r*B/N), floor((r+1)*B/N)), so slices are in rank order, cover the batch exactly, and
  // differ in size by at most 1. A slice is EMPTY for some ranks when B < N: such a rank must still
  // run the step -- contribute zero gradients and zero loss to the all-reduce (and its utterance
  // count 0 to any reduced count) -- so that collectives match. Normalize the summed loss and
  // gradients by the global B (the all-reduced utterance count), not by the local slice size.
  static std::vector<int64_t> slice(const std::vector<int64_t>& batch, int rank, int size);

 private:
  std::vector<int32_t> frames_;
  ScheduleOptions opt_;
  std::vector<int> batch_sizes_;  // sizes of the chunks of step 2, in sorted order
};

}  // namespace ds2::train
