// Stored network outputs: `ds2 eval --save-logprobs FILE` writes every evaluated utterance's
// log-probabilities, and `ds2 eval --logprobs FILE --data DIR` decodes them again without the
// network (a decoder or LM sweep, or a peer decoder fed the same numbers: bench/peers/).
//
// File (HDF5, format "ds2-logprobs", version 1), utterances in index order:
//   /                attrs: format, version, alphabet (the file format text), classes (C),
//                           model (checkpoint path), data (dataset folder), created_by
//   /logprobs        float32 [total_frames, C]  natural-log softmax rows, chunked, fletcher32
//   /frame_offset    int64   [n + 1]            rows of utterance i: [offset[i], offset[i+1])
//   /pos             int64   [n]                position in DATA/index.h5's utterance list
//   /utt_id /transcript   variable-length UTF-8 strings [n]
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/mpi.h"
#include "eval/evaluate.h"
#include "pipeline/alphabet.h"

namespace ds2::eval {

// Collective over `comm`: each rank passes its utterances (`mine`, any order); rank 0 writes
// FILE (under a temporary name, renamed when complete). Other ranks send their utterances to rank
// 0 one at a time (messages of one utterance: memory on rank 0 grows by one utterance plus tens
// of bytes per utterance for the index arrays). Ids come from plan.index.
void write_logprobs(const Comm& comm, const std::string& path, const EvalPlan& plan,
                    const std::vector<UttLogProbs>& mine, const pipeline::Alphabet& alphabet,
                    const std::string& model);

// The dataset folder FILE was written over (its 'data' attribute, as given to ds2 eval --data).
// Throws IoError / FormatError naming the file when it is not a ds2 log-probability file.
std::string stored_data_folder(const std::string& path);

// The whole content of a log-probability file.
struct StoredLogProbs {
  pipeline::Alphabet alphabet;
  std::string model, data;
  std::vector<std::string> utt_ids;
  std::vector<UttLogProbs> utts;  // pos, frames, logp ((max(T', 1), C)), ref
};

// Reads FILE; `keep(pos)` (may be empty: all) selects the utterances to load by their index
// position; the others are left out of utts and utt_ids. Throws IoError / FormatError naming the
// file and the dataset.
StoredLogProbs read_logprobs(const std::string& path,
                             const std::function<bool(int64_t pos)>& keep = nullptr);

}  // namespace ds2::eval
