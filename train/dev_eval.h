// Per-epoch validation during training: mean CTC loss and greedy character error rate on a dev
// set, distributed over ranks.
//
// Greedy decoding: per output frame the most probable class (lowest index on ties), repeats
// collapsed, blanks dropped, then Alphabet::decode. CER is scored by decode/wer.h, the scorer of
// `ds2 eval` (sclite -c: code points of the words, spaces dropped, sclite's alignment), errors and
// reference characters summed over the set before dividing, so the dev CER printed during
// training is the number `ds2 eval --decoder greedy` prints for the same checkpoint.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/mpi.h"
#include "model/network.h"
#include "pipeline/alphabet.h"
#include "pipeline/index.h"
#include "train/loader.h"

namespace ds2::train {

struct DevResult {
  int64_t utts = 0, finite = 0;  // evaluated / with a finite cost
  double loss_sum = 0;           // nats, finite costs
  double edits = 0, ref_chars = 0;
  double loss() const { return finite > 0 ? loss_sum / finite : 0.0; }
  double cer() const { return ref_chars > 0 ? edits / ref_chars : 0.0; }
};

// Collective over `comm`. Sorts the dev utterances by length, cuts them into global batches of
// `batch_size`, evaluates this rank's slice of each (Mode::kInfer: batch norm uses the network's
// running statistics) and sums the results over ranks (in double). Every rank returns the same.
DevResult evaluate_dev(const Comm& comm, model::Network& net, const BatchLoader& loader,
                       const pipeline::DatasetIndex& index, const pipeline::Alphabet& alphabet,
                       int batch_size);

}  // namespace ds2::train
