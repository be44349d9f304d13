// `ds2 eval`: a trained acoustic model + CTC decoding over a prepared dataset, distributed over
// ranks, with sclite-compatible outputs. The algorithm is explained at the top of evaluate.cc.
//
// Outputs in EVALDIR (rank 0 writes them, each atomically):
//   ref.trn, hyp.trn   sclite trn lines `words (utt_id)` in index order; an empty hypothesis is
//                      the line `(utt_id)`.
//   alignments.txt     per utterance, in index order, a block (see format_alignment):
//                        id: <utt_id>
//                        REF:  words of the reference, *** where the hypothesis inserted
//                        HYP:  words of the hypothesis, *** where it deleted
//                        EVAL: S (substitution), D (deletion), I (insertion) under each column
//                        WER: C <correct> S <sub> D <del> I <ins> N <ref words>
//                      then a blank line. Columns are padded to the wider token; tokens are as
//                      scored (decode/wer.h tokenize: lower-cased), errors in upper case as sclite.
//   results.json       wer, cer, sub, del, ins, correct, words, chars (CER counts under
//                      cer_sub/cer_del/cer_ins), utterances, decoder, beam, alpha, beta, lm,
//                      lexicon ("lm" or the file; null in open-vocabulary mode),
//                      audio_seconds, decode_seconds, search_seconds (the searches alone),
//                      rtf, ranks, model, data.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/mpi.h"
#include "core/options.h"
#include "decode/ctc_decode.h"
#include "decode/wer.h"
#include "eval/acoustic_model.h"
#include "model/checkpoint.h"
#include "pipeline/alphabet.h"
#include "pipeline/index.h"
#include "pipeline/normalize.h"

namespace ds2 {
class Progress;
}
namespace ds2::model {
class Network;
}

namespace ds2::eval {

using namespace ::ds2::decode;  // the decoders and scorers eval builds on

struct EvalOptions {
  std::string model;               // checkpoint (ckpt-best.h5)
  std::string data;                // prepared dataset folder (index.h5 + shards)
  std::string out;                 // output folder
  std::string lm;                  // ARPA word LM (beam decoder only); empty: none
  std::string decoder = "greedy";  // greedy | beam
  int batch_size = 16;             // utterances per forward pass
  std::string device = "cpu";      // network backend: cpu | cuda (when built with CUDA)
  int threads = 0;                 // CPU threads of the network (0: OpenMP default)
  std::string normalize;           // "" = as the checkpoint was trained; global | utterance | none
  BeamOptions beam;
  std::string save_logprobs;     // also write the log-probabilities here (eval/logprobs_file.h)
  std::string logprobs;          // decode this log-probability file instead of running --model
  int64_t gather_round = 32768;  // index positions per gather round to rank 0 (its memory)
  // --model --data --batch-size --device --threads --normalize --save-logprobs --logprobs
  // + add_decode_to's
  void add_to(po::options_description& d);
  // The decoding options alone (what `ds2 decode` takes besides --logprobs and --data):
  // --out --lm --decoder --gather-round + BeamOptions
  void add_decode_to(po::options_description& d);
};

struct EvalSummary {
  ErrorCounts words, chars;
  // Whether the alphabet has a space: else (Mandarin) there are no words, each transcript is one
  // token to WER, and CER is the headline (results.json "headline": "cer").
  bool spaced = true;
  int64_t utterances = 0;
  double audio_seconds = 0, decode_seconds = 0;
  // The searches alone (decode_utterance's search_seconds summed over this rank's utterances,
  // the largest rank's sum): decode_seconds less the network, the text and the WER alignment.
  double search_seconds = 0;
  double rtf() const { return audio_seconds > 0 ? decode_seconds / audio_seconds : 0.0; }
};

// Assigns work items (e.g. batches) of the given cost to `ranks` ranks: items sorted by cost,
// largest first (ties: lower item index first), each to the currently least-loaded rank (ties:
// lowest rank). Returns the rank of each item. Deterministic.
std::vector<int> assign_balanced(const std::vector<int64_t>& cost, int ranks);

// The alignment block of one utterance (format above, without the "id:" line and the trailing
// blank line). Its alignment is the one align_counts() counts; `counts` receives those counts.
std::string format_alignment(const std::vector<std::string>& ref,
                             const std::vector<std::string>& hyp, ErrorCounts* counts);

// ---- building blocks, shared with `ds2 sweep` (eval/sweep.h) ----

// Steps 1-3 of the algorithm (evaluate.cc): the clean utterances of DATA/index.h5 cut into fixed
// batches (longest first) and balanced over `ranks` by padded frames. Same on every rank.
struct EvalPlan {
  std::string data;                           // the dataset folder
  pipeline::DatasetIndex index;               // DATA/index.h5
  std::vector<std::vector<int64_t>> batches;  // index positions of each batch
  std::vector<int> owner;                     // rank of each batch
  int64_t utterances = 0;                     // clean utterances, all batches together
  double audio_seconds = 0;                   // their total duration
};
// Throws ConfigError for batch_size < 1, IoError/FormatError naming DATA/index.h5.
// with_ids = false: the index's utterance ids are read in chunks only to pick the clean
// utterances and not kept (index.utt_ids empty): what ranks that write no files need.
EvalPlan plan_eval(const std::string& data, int batch_size, int ranks, bool with_ids = true);

// The network output of one utterance as log-probabilities.
struct UttLogProbs {
  int64_t pos = 0;          // position in plan.index.utts
  int frames = 0;           // T' (output frames)
  std::vector<float> logp;  // (max(T', 1), C) row-major, natural-log softmax (host)
  std::string ref;          // the shard's transcript
};

// Local (no collective): reads this rank's batches (plan.owner == rank) from the shards,
// normalizes, runs the forward pass on the model's device (activations are downloaded to host
// memory when it is not the CPU) and returns the log-probabilities of each utterance, batch
// by batch. `progress` (may be null) gets add(utterances) per batch.
std::vector<UttLogProbs> compute_log_probs(const EvalPlan& plan, int rank, AcousticModel& model,
                                           Progress* progress);
// The same, streamed: `sink` receives each of this rank's batches as soon as it is computed (in
// plan order) and may move from it; nothing is kept between batches, so memory is one batch's
// log-probabilities whatever the dataset size.
void for_each_log_prob_batch(const EvalPlan& plan, int rank, AcousticModel& model,
                             Progress* progress,
                             const std::function<void(std::vector<UttLogProbs>& batch)>& sink);

// How to decode: greedy best path, or prefix beam search with an optional word LM (not owned).
struct DecodeSpec {
  std::string decoder = "greedy";  // greedy | beam
  BeamOptions beam;
  const LanguageModel* lm = nullptr;
};

struct UttResult {
  std::string hyp;            // decoded words, single-spaced, no spaces at the ends
  ErrorCounts words, chars;   // against the reference (decode/wer.h tokens)
  double search_seconds = 0;  // the greedy or beam search alone (no text, no alignment)
};
// Decodes one utterance and scores it. `alignment` (may be null) receives format_alignment's
// block. `ws` may be null.
UttResult decode_utterance(const UttLogProbs& u, const pipeline::Alphabet& alphabet,
                           const DecodeSpec& spec, BeamWorkspace* ws,
                           std::string* alignment = nullptr);

// Collective over `comm`: runs the evaluation and writes EVALDIR (rank 0). Every rank returns
// the same summary. Throws ConfigError / IoError / FormatError naming the file or option.
EvalSummary evaluate(const Comm& comm, const EvalOptions& o);

}  // namespace ds2::eval
