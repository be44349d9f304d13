// CTC decoding: greedy (best path) and prefix beam search with a word n-gram LM.
// The algorithm and its merge rules are explained at the top of decode/ctc_decode.cc.
//
// Input layout, for one utterance: T' frames of C scores, frame t at `x + t * stride`
// (stride >= C). The network output (T', N, C) row-major is used for utterance n with
// x = out + n * C and stride = N * C.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/options.h"

namespace ds2::pipeline {
class Alphabet;
}

namespace ds2::decode {

class LanguageModel;
class WordTrie;

// Best path: argmax per frame, collapse repeats, drop blanks. `scores` may be probabilities,
// log-probabilities or pre-softmax activations (the argmax is the same); ties go to the lower
// index. Returns the label indices (never `blank`).
std::vector<int32_t> greedy_decode(const float* scores, int t, int c, int stride, int blank = 0);

// greedy_decode over frames that arrive in pieces (streaming): after advance() with consecutive
// pieces, labels() equals greedy_decode over their concatenation (a repeat across the boundary
// of two pieces collapses as inside one). Each frame is looked at once.
class GreedyStream {
 public:
  explicit GreedyStream(int blank = 0) : blank_(blank) {}
  void advance(const float* scores, int t, int c, int stride);
  const std::vector<int32_t>& labels() const { return labels_; }

 private:
  int blank_, prev_ = -1;
  std::vector<int32_t> labels_;
};

// Row-wise log-softmax of activations (T', C) with row stride `stride` into `out`, dense
// (T', C) (out[t * c + k]). For feeding prefix_beam_search from the network output.
void log_softmax_rows(const float* act, int t, int c, int stride, float* out);

struct BeamOptions {
  int beam = 64;                // prefixes kept per frame
  float alpha = 0.5f;           // LM weight (on ln P_lm)
  float beta = 1.0f;            // bonus per word
  float prune_logprob = -10.f;  // per frame, skip characters with ln p below this
  int top_k = 40;               // per frame, extend with at most the k most probable characters
  // Per frame, extend only with the characters among the most probable symbols (blank
  // included) whose probabilities first sum to at least this (DS2's deployment pruning, for
  // alphabets of thousands of characters); >= 1: off.
  float cum_prob = 1.0f;
  // Per frame, drop prefixes whose score is more than this below the best one's (ln; inf: keep
  // the `beam` best whatever their score).
  float beam_threshold = 15.f;
  bool lm_eos = true;  // add alpha * ln P(</s> | last words) at the end
  // ln P_lm of a word outside the LM's vocabulary, in place of the LM's own <unk> estimate
  // (open-vocabulary LMs such as IRSTLM's give <unk> more mass than most words, so the search
  // would glue real words into one unknown one). NaN: use the LM's <unk> (or its -100 log10).
  float oov_logprob = -10.f;
  // Added to an unknown word's ln P_lm per label (character) it has: P(unknown word) as <unk>
  // times a spelling model, so that gluing in-vocabulary words into one unknown word costs
  // more the more it glues, and a prefix that can become no vocabulary word pays as it grows.
  float oov_char_logprob = -2.f;
  // Score the unfinished last word of a prefix while it is spelled (with an LM that has a
  // vocabulary trie): the best unigram ln P of the vocabulary words it can still become, or
  // oov_logprob as soon as it can become none, plus beta; replaced by its real ln P once the word
  // is complete. Without it a word is scored only at its space.
  bool partial_words = true;
  // "" open vocabulary; "lm": only the LM's vocabulary words can be emitted; else the lexicon
  // file the LM was given (set_lexicon; see load_decoder_lm in decode/load_lm.h).
  std::string lexicon;
  void add_to(po::options_description& d);
};

struct Hypothesis {
  std::vector<int32_t> labels;  // label indices, blanks removed
  double score = 0;             // log_p_ctc + alpha * log_p_lm + beta * words (log_p_ctc w/o LM)
  double log_p_ctc = 0;         // ln of the total CTC probability of `labels` (within the beam)
  double log_p_lm = 0;          // ln P_lm of the words (incl. </s> when lm_eos); 0 without LM
  int words = 0;                // words scored by the LM; 0 without LM
};

// Reusable state of prefix_beam_search: the prefix trie, candidate hash table and LM contexts.
// Keep one per thread and pass it to every call to avoid allocations; not thread-safe.
class BeamWorkspace {
 public:
  BeamWorkspace();
  ~BeamWorkspace();
  BeamWorkspace(const BeamWorkspace&) = delete;
  BeamWorkspace& operator=(const BeamWorkspace&) = delete;
  struct Impl;
  Impl& impl() { return *impl_; }
  // Bytes held by the workspace (grows to the largest search seen).
  size_t bytes() const;

 private:
  Impl* impl_;
};

// CTC prefix beam search (Hannun et al. 2014) over log-probabilities `log_probs` (natural log,
// layout as above; use log_softmax_rows on activations). Words are separated by the alphabet's
// space symbol (" "); an alphabet without one (Mandarin) is scored by characters: every label is
// a token of `lm` (a character LM, share/lm/build_lm.sh --chars) and beta is a bonus per
// character. When `lm` is null, alpha, beta and lm_eos are ignored and prefixes are
// ranked by ln P_ctc alone. Returns the final beam, best first (at most options.beam entries):
// equal final scores by the search's score at the last frame, then in label order. `ws` may be null
// (a temporary workspace is used).
std::vector<Hypothesis> prefix_beam_search(const float* log_probs, int t, int c, int stride,
                                           const pipeline::Alphabet& alphabet,
                                           const LanguageModel* lm, const BeamOptions& options,
                                           BeamWorkspace* ws = nullptr);

// The same search over frames that arrive in pieces (streaming). advance() runs the search over
// the next `t` frames; result() ranks the current beam as prefix_beam_search ranks its final one
// (the unfinished last word and </s> scored) without ending the search, so it can be called
// after every piece. After advancing through all frames, in any split, result() is bit-identical
// to prefix_beam_search over the whole. Work per frame does not depend on the frames before it,
// so a stream of T frames costs O(T), not O(T^2) as re-decoding every partial would.
// The workspace (`ws`, or an own one when null) is reset by the constructor and holds the search
// state, so it must outlive this object and must not be shared while the search is in use.
class PrefixBeamSearch {
 public:
  PrefixBeamSearch(int c, const pipeline::Alphabet& alphabet, const LanguageModel* lm,
                   const BeamOptions& options, BeamWorkspace* ws = nullptr);
  PrefixBeamSearch(const PrefixBeamSearch&) = delete;
  PrefixBeamSearch& operator=(const PrefixBeamSearch&) = delete;

  void advance(const float* log_probs, int t, int stride);
  std::vector<Hypothesis> result();
  // result().front() without building the other hypotheses' labels: O(beam + its length), for
  // a partial result after every piece of a long stream.
  Hypothesis best();
  int frames() const { return frames_; }

  // What the search follows besides the frames, fixed by the LM and the options (internal).
  struct Setup {
    const WordTrie* trie = nullptr;  // spelling trie followed (null: words known at spaces only)
    bool lexicon = false;            // only the trie's words can be emitted
    bool partial = false;            // unfinished words are scored (partial_words with a trie)
    double oov_partial = 0;          // ln P estimate of an unfinished word that left the trie
    bool chars = false;              // no space in the alphabet: every label is an LM token
    std::vector<int32_t> char_ids;   // chars: LM id of each label (kNoWord: not in the LM)
  };

 private:
  // Scores beam entry b as at the end of an utterance; labels left empty.
  Hypothesis score(size_t b);
  std::vector<int32_t> labels_of(int32_t node) const;
  // Whether hypothesis a of beam entry ia ranks before b of entry ib in result().
  bool ranks_before(const Hypothesis& a, size_t ia, const Hypothesis& b, size_t ib) const;

  const pipeline::Alphabet& alphabet_;
  const LanguageModel* lm_;
  BeamOptions o_;
  std::unique_ptr<BeamWorkspace> own_;  // when the caller passed no workspace
  BeamWorkspace* ws_;
  Setup setup_;
  int c_, space_ = -1, frames_ = 0;
};

}  // namespace ds2::decode
