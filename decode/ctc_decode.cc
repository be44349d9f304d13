// CTC prefix beam search with a word n-gram LM (greedy decoding: decode/ctc_greedy.cc).
//
// Prefix beam search (Hannun, Maas, Jurafsky, Ng 2014, "First-pass large vocabulary continuous
// speech recognition using bi-directional recurrent DNNs", Algorithm 1). A prefix l is a
// labelling; after frame t it carries
//   p_b(l)  = P(prefixes of alignments of frames 0..t that collapse to l and end in blank),
//   p_nb(l) = P(... that collapse to l and end in the last label of l),
// both in log space. For frame t with probabilities y(k), every prefix l in the beam, with last
// label e (none for the empty prefix) and p(l) = p_b(l) + p_nb(l), sends mass to the next frame:
//   blank:             p_b'(l)     += p(l) * y(blank)
//   repeat e:          p_nb'(l)    += p_nb(l) * y(e)          (e e collapses to e)
//   new label c != e:  p_nb'(l+c)  += p(l) * y(c)
//   c == e:            p_nb'(l+e)  += p_b(l) * y(e)           (needs the blank between: e _ e)
// Merge rule: prefixes are keyed by identity, so the mass reaching one prefix along different
// routes adds up -- e.g. "a" from (a,_) via the blank rule and from (_,a) via the new-label rule.
// Prefixes are nodes of a trie (parent, label), created once and reused, so a prefix is an
// int id, identified by its (parent id, label) pair: equal prefixes have equal keys and "l+c"
// is the key (l, c), not a string copy. Per frame, the mass is accumulated in a hash table keyed
// by (parent, label), one lookup per extension; the `beam` best entries become the next beam and
// only they get trie nodes (or find theirs from an earlier frame). A prefix dropped from the beam
// loses its mass (as in Algorithm 1).
// With an unbounded beam and no pruning the result is exact: p(l) is the total CTC probability
// of l (summed over all alignments), which is what the tests check by brute force.
//
// Language model. score(l) = ln p(l) + alpha * ln P_lm(words(l)) + beta * |words(l)|. A word is
// complete when the space symbol is appended after a non-space label; its ln P(w | previous
// order-1 words) is then added to the new prefix's LM score (cached per trie node, so each word
// is looked up once per prefix). At the end, the unfinished last word is scored the same way,
// and with lm_eos ln P(</s> | last words). The LM score is a function of the labelling, so merged
// prefixes agree on it and only the acoustic masses add. The LM context starts at <s>.
// Unknown words. A word the LM does not know scores oov_logprob + oov_char_logprob * |w| (its
// labels) rather than the LM's <unk>: an open-vocabulary ARPA gives <unk> the mass of all unseen
// words (-1.3 log10 in an IRSTLM model of 1,700 sentences, above most real words), which makes
// gluing two words into one unknown token cheaper than spelling them; the per-label term is a
// spelling model, so an unknown word costs more the more words it glues.
// Partial words (partial_words, with the LM's spelling trie, decode/word_trie.h). Scoring a word
// only at its space charges a prefix that has just spelled a word and not its rivals that glue
// on into the next one: those fill the beam with uncharged prefixes until the spaced ones are
// pruned, and the search ends up gluing or dropping words (the demo's dev set: 87 deletions of
// 1,185 words at oov -30 with word-end scoring). So while a word is spelled, its prefix carries
// the estimate alpha * smear(node) + beta, smear being the best unigram ln P of the vocabulary
// words it can still become; once it can become none (it left the trie) it carries the unknown
// word's score for its length so far, growing per label. At the space the estimate is replaced
// by the word's real ln P. Estimates steer pruning only: a final score never contains one, so
// the wide-beam search is still exact (tests/decode/ctc_decode_lm_test.cc enumerates every
// labelling and checks it).
// Lexicon mode (lexicon = "lm" or a file given to the LM): an extension that leaves the trie and
// a space after a word that is not listed are not created, and a final unfinished word that is
// not listed scores -inf.
// Characters (an alphabet without a space, e.g. Mandarin): the LM is a character n-gram model
// (share/lm/build_lm.sh --chars) and every label is one of its tokens, scored as it is appended:
// score(l) = ln p(l) + alpha * sum_i ln P(l_i | <s> l_1..l_i-1) + beta * |l| (+ alpha ln
// P(</s> | l) at the end). A label the LM does not know scores oov_logprob (the LM's <unk> when
// NaN) and cannot be emitted in lexicon mode "lm"; there are no partial words.
//
// Pruning per frame: only the top_k labels (excluding blank) with ln y(c) >= prune_logprob are
// tried as extensions, and with cum_prob < 1 only those among the most probable symbols whose
// probabilities first sum to cum_prob (blank counted in the sum, not extended with; DS2 sec. 7:
// with thousands of characters most frames need a handful); blank and the repeat of the last label
// are always applied. Relative to the best: an extension whose mass + LM part falls more than
// beam_threshold below the previous best prefix's score plus the frame's best ln y is not created,
// and after the frame only candidates within beam_threshold of the best are kept, at most `beam` of
// them.
#include "decode/ctc_decode.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "core/error.h"
#include "decode/arpa_lm.h"
#include "decode/flat_map.h"
#include "decode/word_trie.h"
#include "pipeline/alphabet.h"

namespace ds2::decode {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

inline double log_add(double a, double b) {
  if (a == kNegInf) return b;
  if (b == kNegInf) return a;
  return a > b ? a + std::log1p(std::exp(b - a)) : b + std::log1p(std::exp(a - b));
}

}  // namespace

void BeamOptions::add_to(po::options_description& d) {
  d.add_options()("beam", po::value(&beam)->default_value(beam),
                  "prefix beam width (1 = near-greedy)")(
      "alpha", po::value(&alpha)->default_value(alpha), "LM weight on ln P_lm")(
      "beta", po::value(&beta)->default_value(beta), "bonus per word (with an LM)")(
      "prune-logprob", po::value(&prune_logprob)->default_value(prune_logprob),
      "per frame, skip characters whose ln probability is below this")(
      "top-k", po::value(&top_k)->default_value(top_k),
      "per frame, extend prefixes with at most this many characters")(
      "cum-prob", po::value(&cum_prob)->default_value(cum_prob),
      "per frame, extend only with the most probable characters whose probabilities (with "
      "blank's) first sum to this (1: off)")("lm-eos", po::value(&lm_eos)->default_value(lm_eos),
                                             "score the end of sentence </s> with the LM")(
      "oov-logprob", po::value(&oov_logprob)->default_value(oov_logprob),
      "ln P_lm of a word the LM does not know, instead of the LM's <unk> estimate (nan: use "
      "<unk>)")("oov-char-logprob", po::value(&oov_char_logprob)->default_value(oov_char_logprob),
                "added to that per character of the unknown word (so gluing words costs)")(
      "beam-threshold", po::value(&beam_threshold)->default_value(beam_threshold),
      "per frame, drop prefixes scoring more than this (ln) below the best")(
      "partial-words", po::value(&partial_words)->default_value(partial_words),
      "score a word while it is spelled (best LM word it can become, or the OOV score)")(
      "lexicon", po::value(&lexicon)->default_value(lexicon),
      "emit only listed words: 'lm' (the LM's vocabulary) or a file of words, one per line "
      "(default: open vocabulary)");
}

// ---- workspace -------------------------------------------------------------------------------

struct BeamWorkspace::Impl {
  // Trie of prefixes; node 0 is the empty prefix.
  struct Node {
    int32_t parent, label;
    int32_t state;        // LM context (index into ctx/ctx_len) after the complete words
    int32_t words;        // complete words scored so far
    double lm_logp;       // sum of ln P_lm of those words
    int32_t wnode;        // word-trie node of the unfinished last word (0: none, -1: off-trie)
    int32_t wlen;         // labels in the unfinished last word
    int32_t space_state;  // cached result of appending a space (-2: not computed yet)
    int32_t space_words;
    double space_lm_logp;  // -inf: the space is not allowed (lexicon mode, not a listed word)
  };
  std::vector<Node> nodes;
  FlatMap children;  // parent * C + label -> node
  // LM contexts: `width` word ids per state (oldest first), ctx_len[s] of them valid.
  int width = 0;
  std::vector<int32_t> ctx, ctx_len;
  // Per-frame candidates.
  struct Cand {
    int32_t node;                  // or -1 for an extension without a node yet
    int32_t parent, label;         // for node == -1
    int32_t wnode, wlen;           // word-trie node and length of the prefix's unfinished word
    double pb, pnb, total, score;  // total = pb (+) pnb, score = total + lmp
    double lmp;                    // LM part of the prefix's score (0 without LM)
  };
  std::vector<Cand> cands;
  FlatMap cand_index;                             // key -> index in cands
  std::vector<std::pair<double, int32_t>> order;  // (score, candidate) of the kept candidates
  std::vector<int32_t> beam, labels, frame_labels;
  std::vector<double> beam_pb, beam_pnb, beam_p;  // beam_p = beam_pb (+) beam_pnb
  std::vector<double> beam_score;                 // beam_p + the LM part: the search's score
  double beam_best = 0;  // score of the best beam entry after the last frame
  std::string word;
};

BeamWorkspace::BeamWorkspace() : impl_(new Impl) {}
BeamWorkspace::~BeamWorkspace() { delete impl_; }

size_t BeamWorkspace::bytes() const {
  const Impl& w = *impl_;
  return w.nodes.capacity() * sizeof(Impl::Node) + w.children.bytes() + w.cand_index.bytes() +
         w.cands.capacity() * sizeof(Impl::Cand) + (w.ctx.capacity() + w.ctx_len.capacity()) * 4;
}

// ---- search ----------------------------------------------------------------------------------

namespace {

using Impl = BeamWorkspace::Impl;

using Setup = PrefixBeamSearch::Setup;

Setup make_setup(const LanguageModel* lm, const BeamOptions& o, const pipeline::Alphabet& alphabet,
                 bool has_space) {
  Setup u;
  if (!lm) return u;
  u.lexicon = !o.lexicon.empty();
  if (!has_space) {  // characters are the LM's tokens: no words, no spelling trie
    DS2_REQUIRE(!u.lexicon || o.lexicon == "lm", ConfigError,
                "--lexicon {}: an alphabet without a space is decoded by characters; only "
                "--lexicon lm (the LM's characters) applies",
                o.lexicon);
    u.chars = true;
    u.char_ids.assign(alphabet.size(), LanguageModel::kNoWord);
    for (int k = 0; k < alphabet.size(); ++k)
      if (k != alphabet.blank()) u.char_ids[k] = lm->word_id(alphabet.symbol(k));
    return u;
  }
  if (u.lexicon) {
    if (o.lexicon == "lm") {
      u.trie = lm->vocabulary_trie();
    } else {
      DS2_REQUIRE(lm->lexicon_source() == o.lexicon, ConfigError,
                  "--lexicon {}: the LM was loaded without it (load it with load_decoder_lm)",
                  o.lexicon);
      u.trie = lm->lexicon_trie();
    }
    DS2_REQUIRE(u.trie, ConfigError, "--lexicon: this language model has no vocabulary trie");
  } else if (o.partial_words) {
    u.trie = lm->vocabulary_trie();
  }
  u.partial = o.partial_words && u.trie;
  if (!std::isnan(o.oov_logprob)) {
    u.oov_partial = o.oov_logprob;
  } else {  // the LM's own <unk> estimate, without context
    u.oov_partial = lm->log_prob(nullptr, 0, lm->unk_id());
  }
  return u;
}

struct Search {
  Impl& w;
  const pipeline::Alphabet& alphabet;
  const LanguageModel* lm;
  const BeamOptions& o;
  const Setup& u;
  int c, space, blank;

  // The LM part of a prefix's score: complete words, plus its unfinished word when scored.
  double lm_part(int32_t words, double lm_logp, int32_t wnode, int32_t wlen) const {
    if (!lm) return 0.0;
    if (lm_logp == kNegInf) return kNegInf;
    if (u.partial && wnode != 0) {
      lm_logp += wnode > 0 ? static_cast<double>(u.trie->smear(wnode))
                           : u.oov_partial + static_cast<double>(o.oov_char_logprob) * wlen;
      ++words;
    }
    return o.alpha * lm_logp + o.beta * words;
  }

  // An upper bound (alpha >= 0) of lm_part(nd.words, nd.lm_logp, wn, wl) over every word-trie
  // node wn a label can lead to from nd: the estimate is the trie's largest smear (its root's) or
  // the unknown word's for wl labels, and lm_part grows with it (the same operations, rounded
  // monotonically).
  double partial_bound(const Impl::Node& nd, int32_t wl) const {
    if (nd.lm_logp == kNegInf) return kNegInf;
    const double est = std::max(static_cast<double>(u.trie->smear(0)),
                                u.oov_partial + static_cast<double>(o.oov_char_logprob) * wl);
    return o.alpha * (nd.lm_logp + est) + o.beta * (nd.words + 1);
  }

  int32_t new_state(int32_t from, int32_t word_id) {
    const int32_t s = static_cast<int32_t>(w.ctx_len.size());
    if (w.width == 0) {
      w.ctx_len.push_back(0);
      return s;
    }
    const int32_t len = w.ctx_len[from];
    w.ctx.resize(w.ctx.size() + w.width);
    const int32_t* src = &w.ctx[static_cast<size_t>(from) * w.width];
    int32_t* dst = &w.ctx[static_cast<size_t>(s) * w.width];
    const int keep = std::min<int32_t>(len, w.width - 1);
    for (int i = 0; i < keep; ++i) dst[i] = src[len - keep + i];
    dst[keep] = word_id;
    w.ctx_len.push_back(keep + 1);
    return s;
  }

  // The word ending at node n (labels back to the previous space or the root), as UTF-8.
  const std::string& word_at(int32_t n) {
    w.labels.clear();
    while (n > 0 && w.nodes[n].label != space) {
      w.labels.push_back(w.nodes[n].label);
      n = w.nodes[n].parent;
    }
    w.word.clear();
    for (auto it = w.labels.rbegin(); it != w.labels.rend(); ++it) w.word += alphabet.symbol(*it);
    return w.word;
  }

  // ln P_lm of the word ending at n given n's context; returns the new context in *state, and
  // -inf when the word may not be emitted (lexicon mode, not listed).
  double score_word(int32_t n, int32_t* state) {
    const Impl::Node& node = w.nodes[n];
    int32_t id;
    if (u.trie) {
      const bool listed = node.wnode > 0 && u.trie->ends_word(node.wnode);
      if (u.lexicon && !listed) return kNegInf;
      id = listed && u.trie->word(node.wnode) >= 0 ? u.trie->word(node.wnode) : lm->unk_id();
    } else {
      id = lm->word_id(word_at(n));
    }
    const bool oov = id == LanguageModel::kNoWord || id == lm->unk_id();
    double lp = oov && !std::isnan(o.oov_logprob)
                    ? static_cast<double>(o.oov_logprob)
                    : lm->log_prob(&w.ctx[static_cast<size_t>(node.state) * w.width],
                                   w.ctx_len[node.state], id);
    if (oov) lp += static_cast<double>(o.oov_char_logprob) * node.wlen;
    *state = new_state(node.state, id);
    return lp;
  }

  // Does appending a space to node n complete a word? (Never when scoring characters.)
  bool ends_word(int32_t n) const { return lm && !u.chars && n > 0 && w.nodes[n].label != space; }

  // Characters: ln P_lm of label k after prefix node n (-inf: not allowed, lexicon mode).
  double char_logp(int32_t n, int32_t k) const {
    const int32_t id = u.char_ids[k];
    const bool oov = id == LanguageModel::kNoWord || id == lm->unk_id();
    if (oov && u.lexicon) return kNegInf;
    if (oov && !std::isnan(o.oov_logprob)) return o.oov_logprob;
    const int32_t st = w.nodes[n].state;
    return lm->log_prob(&w.ctx[static_cast<size_t>(st) * w.width], w.ctx_len[st], id);
  }

  // Fills the space cache of node n.
  void cache_space(int32_t n) {
    if (w.nodes[n].space_state != -2) return;
    if (ends_word(n)) {
      int32_t st = 0;
      const double word_lp = score_word(n, &st);  // touches ctx, not nodes: the node stays valid
      Impl::Node& nd = w.nodes[n];
      nd.space_state = word_lp == kNegInf ? nd.state : st;
      nd.space_words = nd.words + 1;
      nd.space_lm_logp = word_lp == kNegInf ? kNegInf : nd.lm_logp + word_lp;
    } else {
      Impl::Node& nd = w.nodes[n];
      nd.space_state = nd.state;
      nd.space_words = nd.words;
      nd.space_lm_logp = nd.lm_logp;
    }
  }

  int32_t add_node(int32_t parent, int32_t label, int32_t wnode, int32_t wlen) {
    Impl::Node nd{parent, label, 0, 0, 0.0, wnode, wlen, -2, 0, 0.0};
    const Impl::Node& p = w.nodes[parent];
    nd.state = p.state;
    nd.words = p.words;
    nd.lm_logp = p.lm_logp;
    if (u.chars && lm) {
      nd.lm_logp += char_logp(parent, label);
      nd.words += 1;
      nd.state = new_state(p.state, u.char_ids[label]);
    } else if (label == space) {
      cache_space(parent);
      const Impl::Node& p2 = w.nodes[parent];
      nd.state = p2.space_state;
      nd.words = p2.space_words;
      nd.lm_logp = p2.space_lm_logp;
    }
    const int32_t id = static_cast<int32_t>(w.nodes.size());
    w.nodes.push_back(nd);
    bool inserted = false;
    w.children.find_or_insert(static_cast<uint64_t>(parent) * c + label, id, &inserted);
    return id;
  }

  // The candidate for prefix (parent, label): one hash lookup. A prefix is identified by
  // (parent node, label), so an extension l+c meets the beam entry for the same prefix here
  // (that is the merge). `node` is the prefix's node when the caller knows it (beam entries).
  Impl::Cand& cand(int32_t node, int32_t parent, int32_t label, int32_t wnode, int32_t wlen,
                   double lmp) {
    const uint64_t key = parent < 0 ? ~0ULL : static_cast<uint64_t>(parent) * c + label;
    bool inserted = false;
    int32_t* idx =
        w.cand_index.find_or_insert(key, static_cast<int32_t>(w.cands.size()), &inserted);
    if (inserted)
      w.cands.push_back({node, parent, label, wnode, wlen, kNegInf, kNegInf, 0.0, 0.0, lmp});
    Impl::Cand& x = w.cands[*idx];
    if (node >= 0) x.node = node;
    return x;
  }

  void select_labels(const float* lp) {
    w.frame_labels.clear();
    for (int k = 0; k < c; ++k)
      if (k != blank && lp[k] >= o.prune_logprob) w.frame_labels.push_back(k);
    auto by_prob = [&](int32_t a, int32_t b) { return lp[a] > lp[b] || (lp[a] == lp[b] && a < b); };
    if (static_cast<int>(w.frame_labels.size()) > o.top_k) {
      std::nth_element(w.frame_labels.begin(), w.frame_labels.begin() + o.top_k,
                       w.frame_labels.end(), by_prob);
      w.frame_labels.resize(o.top_k);
    }
    if (o.cum_prob >= 1.0f) return;
    // The most probable symbols until their mass reaches cum_prob; blank (before a label of
    // equal probability) counts towards it. Labels cut by top_k or prune_logprob rank below
    // every kept one, so the walk over the kept ones in order finds the same prefix.
    std::sort(w.frame_labels.begin(), w.frame_labels.end(), by_prob);
    double mass = 0;
    bool blank_in = false;
    size_t keep = 0;
    for (; keep < w.frame_labels.size(); ++keep) {
      const float p = lp[w.frame_labels[keep]];
      if (!blank_in && lp[blank] >= p) {
        mass += std::exp(static_cast<double>(lp[blank]));
        blank_in = true;
      }
      if (mass >= o.cum_prob) break;
      mass += std::exp(static_cast<double>(p));
    }
    w.frame_labels.resize(keep);
  }

  void step(const float* lp, int frame) {
    select_labels(lp);
    w.cands.clear();
    w.cand_index.clear();
    // Extensions scoring below this are not created: the best candidate of this frame is about
    // the best prefix's score plus the frame's best log-probability, and what falls more than
    // beam_threshold below that would be dropped after the frame anyway.
    float top = lp[0];
    for (int k = 1; k < c; ++k) top = std::max(top, lp[k]);
    const double ext_floor = w.beam_best + top - static_cast<double>(o.beam_threshold);
    for (size_t b = 0; b < w.beam.size(); ++b) {
      const int32_t n = w.beam[b];
      const double pb = w.beam_pb[b], pnb = w.beam_pnb[b], p = w.beam_p[b];
      const Impl::Node nd = w.nodes[n];  // a copy: cache_space below writes to the node
      const int32_t e = n > 0 ? nd.label : -1;
      // The LM part of a prefix is a function of its labels, the same for every route to it,
      // so it is set once when the candidate is created.
      const double lmp = lm_part(nd.words, nd.lm_logp, nd.wnode, nd.wlen);
      {
        Impl::Cand& s = cand(n, nd.parent, e, nd.wnode, nd.wlen, lmp);
        s.pb = log_add(s.pb, p + lp[blank]);
        if (e >= 0) s.pnb = log_add(s.pnb, pnb + lp[e]);
      }
      // Known before the trie step, a bound of a letter extension's LM part for the floor test:
      // lmp itself when unfinished words are not scored; with partial words and alpha >= 0 the
      // LM part at the largest estimate any spelling can get; otherwise none.
      const double letter_bound = !u.partial     ? lmp
                                  : o.alpha >= 0 ? partial_bound(nd, nd.wlen + 1)
                                                 : std::numeric_limits<double>::infinity();
      for (int32_t k : w.frame_labels) {
        const double mass = (k == e ? pb : p) + lp[k];
        double lmp_k = lmp;
        int32_t wn = 0, wl = 0;
        if (u.chars) {
          if (lm) {
            // A node made at an earlier frame has its LM score already.
            const int32_t child = w.children.find(static_cast<uint64_t>(n) * c + k);
            const double lp_k = child >= 0 ? w.nodes[child].lm_logp : nd.lm_logp + char_logp(n, k);
            if (lp_k == kNegInf) continue;  // lexicon mode: not one of the LM's characters
            lmp_k = lm_part(nd.words + 1, lp_k, 0, 0);
          }
        } else if (k == space) {
          if (lm) {
            cache_space(n);
            lmp_k = lm_part(w.nodes[n].space_words, w.nodes[n].space_lm_logp, 0, 0);
            if (lmp_k == kNegInf) continue;  // lexicon mode: not a listed word
          }
        } else {
          wl = nd.wlen + 1;
          if (u.trie) {
            if (mass + letter_bound < ext_floor) continue;  // before the trie step
            wn = nd.wnode < 0 ? -1 : u.trie->step(nd.wnode, alphabet.symbol(k));
            if (wn < 0 && u.lexicon) continue;  // no listed word is spelled this way
            lmp_k = lm_part(nd.words, nd.lm_logp, wn, wl);
          }
        }
        if (mass + lmp_k < ext_floor) continue;
        Impl::Cand& x = cand(-1, n, k, wn, wl, lmp_k);
        x.pnb = log_add(x.pnb, mass);
      }
    }
    double best = kNegInf;
    for (auto& x : w.cands) {
      x.total = log_add(x.pb, x.pnb);
      x.score = x.total + x.lmp;
      best = std::max(best, x.score);
    }
    // Candidates within beam_threshold of the best, then the `beam` best of them.
    const double floor = best - static_cast<double>(o.beam_threshold);
    // Ranked by (score, candidate index) held side by side, so the selection and the sort read
    // contiguous keys instead of candidates scattered over w.cands.
    w.order.clear();
    for (size_t i = 0; i < w.cands.size(); ++i)
      if (w.cands[i].score >= floor && w.cands[i].score > kNegInf)
        w.order.emplace_back(w.cands[i].score, static_cast<int32_t>(i));
    auto better = [](const std::pair<double, int32_t>& a, const std::pair<double, int32_t>& b) {
      return a.first > b.first || (a.first == b.first && a.second < b.second);
    };
    // The beam is not sorted by score: nothing needs it sorted (the best score is kept aside),
    // and sorting it every frame cost 15% of the search at beam 256 on the demo model's outputs.
    // Its order (the candidates' order, as nth_element leaves them when the beam is full) breaks
    // no tie that matters: the kept set is fixed by `better`, and result() ranks equal final
    // scores by the search's score, then by their labels.
    const size_t keep = std::min<size_t>(w.order.size(), static_cast<size_t>(o.beam));
    if (keep < w.order.size()) {
      std::nth_element(w.order.begin(), w.order.begin() + keep, w.order.end(), better);
      w.order.resize(keep);
    }
    w.beam.clear();
    w.beam_pb.clear();
    w.beam_pnb.clear();
    w.beam_p.clear();
    w.beam_score.clear();
    double beam_best = kNegInf;
    for (const auto& [score, i] : w.order) {
      beam_best = std::max(beam_best, score);
      const Impl::Cand x = w.cands[i];
      int32_t node = x.node;
      if (node < 0) {  // a trie node may exist from an earlier frame (dropped from the beam since)
        node = w.children.find(static_cast<uint64_t>(x.parent) * c + x.label);
        if (node < 0) node = add_node(x.parent, x.label, x.wnode, x.wlen);
      }
      w.beam.push_back(node);
      w.beam_pb.push_back(x.pb);
      w.beam_pnb.push_back(x.pnb);
      w.beam_p.push_back(x.total);
      w.beam_score.push_back(score);
    }
    w.beam_best = w.order.empty() ? 0.0 : beam_best;
    DS2_REQUIRE(!w.beam.empty(), FormatError,
                "decoder: no prefix survives frame {}: its log-probabilities are all -inf or NaN",
                frame);
  }
};

}  // namespace

PrefixBeamSearch::PrefixBeamSearch(int c, const pipeline::Alphabet& alphabet,
                                   const LanguageModel* lm, const BeamOptions& options,
                                   BeamWorkspace* ws)
    : alphabet_(alphabet),
      lm_(lm),
      o_(options),
      own_(ws ? nullptr : std::make_unique<BeamWorkspace>()),
      ws_(ws ? ws : own_.get()),
      c_(c) {
  DS2_REQUIRE(o_.beam >= 1, ConfigError, "--beam must be >= 1 (got {})", o_.beam);
  DS2_REQUIRE(o_.top_k >= 1, ConfigError, "--top-k must be >= 1 (got {})", o_.top_k);
  DS2_REQUIRE(c == alphabet.size(), ConfigError,
              "decoder: {} scores per frame but the alphabet has {} symbols", c, alphabet.size());
  for (int k = 1; k < alphabet.size(); ++k)
    if (alphabet.symbol(k) == " ") space_ = k;
  setup_ = make_setup(lm, o_, alphabet, space_ >= 0);

  // Reset the workspace (keeps capacity).
  Impl& w = ws_->impl();
  w.nodes.clear();
  w.children.clear();
  w.width = lm ? std::max(0, lm->order() - 1) : 0;
  w.ctx.assign(w.width, 0);
  w.ctx_len.assign(1, 0);
  if (lm && w.width > 0 && lm->bos_id() != LanguageModel::kNoWord) {
    w.ctx[0] = lm->bos_id();
    w.ctx_len[0] = 1;
  }
  w.nodes.push_back({-1, -1, 0, 0, 0.0, 0, 0, -2, 0, 0.0});
  w.beam.assign(1, 0);
  w.beam_pb.assign(1, 0.0);
  w.beam_pnb.assign(1, kNegInf);
  w.beam_p.assign(1, 0.0);
  w.beam_score.assign(1, 0.0);
  w.beam_best = 0;
}

void PrefixBeamSearch::advance(const float* log_probs, int t, int stride) {
  Search s{ws_->impl(), alphabet_, lm_, o_, setup_, c_, space_, alphabet_.blank()};
  for (int i = 0; i < t; ++i) s.step(log_probs + static_cast<size_t>(i) * stride, frames_ + i);
  frames_ += t;
}

Hypothesis PrefixBeamSearch::score(size_t b) {
  // Final scores: the unfinished last word and </s>. cache_space only fills per-node caches
  // (the same values a later frame would compute), so the search can go on afterwards.
  Impl& w = ws_->impl();
  Search s{w, alphabet_, lm_, o_, setup_, c_, space_, alphabet_.blank()};
  const int32_t n = w.beam[b];
  Hypothesis h;
  h.log_p_ctc = log_add(w.beam_pb[b], w.beam_pnb[b]);
  if (lm_) {
    s.cache_space(n);  // scores the last word if it is unfinished
    const Impl::Node& nd = w.nodes[n];
    h.words = nd.space_words;
    h.log_p_lm = nd.space_lm_logp;
    if (h.log_p_lm == kNegInf) {  // lexicon mode: the last word is not a listed one
      h.score = kNegInf;
      return h;
    }
    if (o_.lm_eos && lm_->eos_id() != LanguageModel::kNoWord)
      h.log_p_lm += lm_->log_prob(&w.ctx[static_cast<size_t>(nd.space_state) * w.width],
                                  w.ctx_len[nd.space_state], lm_->eos_id());
    h.score = h.log_p_ctc + o_.alpha * h.log_p_lm + o_.beta * h.words;
  } else {
    h.score = h.log_p_ctc;
  }
  return h;
}

std::vector<int32_t> PrefixBeamSearch::labels_of(int32_t node) const {
  const Impl& w = ws_->impl();
  std::vector<int32_t> labels;
  for (int32_t m = node; m > 0; m = w.nodes[m].parent) labels.push_back(w.nodes[m].label);
  std::reverse(labels.begin(), labels.end());
  return labels;
}

// The final ranking: the final score; of equal ones (lexicon mode gives -inf to every prefix
// whose last word is not listed, which may be all of them) the search's score at the last
// frame; then the labels, so that the order does not depend on the beam's.
bool PrefixBeamSearch::ranks_before(const Hypothesis& a, size_t ia, const Hypothesis& b,
                                    size_t ib) const {
  if (a.score != b.score) return a.score > b.score;
  const Impl& w = ws_->impl();
  if (w.beam_score[ia] != w.beam_score[ib]) return w.beam_score[ia] > w.beam_score[ib];
  return a.labels < b.labels;
}

std::vector<Hypothesis> PrefixBeamSearch::result() {
  const Impl& w = ws_->impl();
  std::vector<Hypothesis> hyps;
  hyps.reserve(w.beam.size());
  std::vector<size_t> order(w.beam.size());
  for (size_t b = 0; b < w.beam.size(); ++b) {
    hyps.push_back(score(b));
    hyps.back().labels = labels_of(w.beam[b]);
    order[b] = b;
  }
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return ranks_before(hyps[a], a, hyps[b], b); });
  std::vector<Hypothesis> out;
  out.reserve(hyps.size());
  for (size_t b : order) out.push_back(std::move(hyps[b]));
  return out;
}

Hypothesis PrefixBeamSearch::best() {
  const Impl& w = ws_->impl();
  Hypothesis top;
  size_t top_b = 0;
  for (size_t b = 0; b < w.beam.size(); ++b) {
    Hypothesis h = score(b);
    // result()'s first; the labels are made only where the final scores tie.
    bool better = b == 0 || h.score > top.score;
    if (!better && h.score == top.score) {
      h.labels = labels_of(w.beam[b]);
      top.labels = labels_of(w.beam[top_b]);
      better = ranks_before(h, b, top, top_b);
    }
    if (better) {
      top = h;
      top_b = b;
    }
  }
  if (!w.beam.empty()) top.labels = labels_of(w.beam[top_b]);
  return top;
}

std::vector<Hypothesis> prefix_beam_search(const float* log_probs, int t, int c, int stride,
                                           const pipeline::Alphabet& alphabet,
                                           const LanguageModel* lm, const BeamOptions& options,
                                           BeamWorkspace* ws) {
  PrefixBeamSearch search(c, alphabet, lm, options, ws);
  search.advance(log_probs, t, stride);
  return search.result();
}

}  // namespace ds2::decode
