// Per-epoch validation during training: mean CTC loss and greedy character error rate on a dev
// set, distributed over ranks.
//
// Greedy decoding: per output frame the most probable class (lowest index on ties), repeats
// collapsed, blanks dropped, then Alphabet::decode. CER = (character-level Levenshtein distance
// between hypothesis and reference, over Unicode code points) / (reference characters), summed
// over the set before dividing. This is a quick training monitor; eval/ has the sclite-exact
// scorer.
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

// Levenshtein distance (unit costs) between two code-point sequences.
size_t edit_distance(const std::u32string& a, const std::u32string& b);
// Code points of UTF-8 text (invalid bytes become U+FFFD).
std::u32string code_points(const std::string& utf8);

// Greedy CTC path of utterance `n` of probabilities (T, N, C) over its first `len` frames:
// argmax per frame, repeats collapsed, blanks (0) dropped.
std::vector<int32_t> greedy_decode(const float* probs, int t, int n_batch, int c, int n, int len);

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
