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
//                      scored (eval/wer.h tokenize: lower-cased), errors in upper case as sclite.
//   results.json       wer, cer, sub, del, ins, correct, words, chars (CER counts under
//                      cer_sub/cer_del/cer_ins), utterances, decoder, beam, alpha, beta, lm,
//                      audio_seconds, decode_seconds, rtf, ranks, model, data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/mpi.h"
#include "core/options.h"
#include "eval/ctc_decode.h"
#include "eval/wer.h"

namespace ds2::eval {

struct EvalOptions {
  std::string model;             // checkpoint (ckpt-best.h5)
  std::string data;              // prepared dataset folder (index.h5 + shards)
  std::string out;               // output folder
  std::string lm;                // ARPA word LM (beam decoder only); empty: none
  std::string decoder = "greedy";  // greedy | beam
  int batch_size = 16;           // utterances per forward pass
  std::string device = "cpu";    // network backend: cpu | cuda (when built with CUDA)
  int threads = 0;               // CPU threads of the network (0: OpenMP default)
  std::string normalize;         // "" = as the checkpoint was trained; global | utterance | none
  BeamOptions beam;
  // --model --data --out --lm --decoder --batch-size --device --threads --normalize + BeamOptions
  void add_to(po::options_description& d);
};

struct EvalSummary {
  ErrorCounts words, chars;
  int64_t utterances = 0;
  double audio_seconds = 0, decode_seconds = 0;
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

// Collective over `comm`: runs the evaluation and writes EVALDIR (rank 0). Every rank returns
// the same summary. Throws ConfigError / IoError / FormatError naming the file or option.
EvalSummary evaluate(const Comm& comm, const EvalOptions& o);

}  // namespace ds2::eval
