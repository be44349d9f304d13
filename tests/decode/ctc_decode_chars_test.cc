// Prefix beam search on an alphabet without a space (Mandarin): scoring by a character LM, and
// the per-frame cumulative-probability pruning (BeamOptions::cum_prob).
//
// Oracles (independent of the search):
//   - character LM: on {blank, 甲, 乙, 丙} and T <= 7 frames every alignment is enumerated and
//     collapsed (exact P_ctc of every labelling); each labelling's characters are scored by a
//     hand-written bigram back-off over the test's own tables (log P(w | h) = listed bigram, else
//     bow(h) + unigram; 丙 is not in the LM and scores oov_logprob, and as context it matches
//     nothing), with </s> at the end: score = ln P_ctc + alpha * ln P_lm + beta * |l|. A wide,
//     unpruned search must return exactly these scores.
//   - cumulative-probability pruning: the allowed new labels of each frame are recomputed from a
//     full sort of the frame's probabilities (blank included); alignments are enumerated with
//     that restriction (a frame may emit blank, repeat the previous frame's label, or one of its
//     allowed labels), collapsed and summed. A wide search with the pruning must return exactly
//     those labellings and masses.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "decode/arpa_lm.h"
#include "decode/ctc_decode.h"
#include "pipeline/alphabet.h"

namespace ds2::decode {
namespace {

using pipeline::Alphabet;
const double kLn10 = std::log(10.0);
const double kInf = std::numeric_limits<double>::infinity();

// The character bigram, in log10: unigrams (prob, bow) and bigrams, as the ARPA text below.
const std::map<std::string, std::pair<double, double>> kUni = {
    {"<s>", {-99, -0.3}}, {"</s>", {-0.9, 0}}, {"甲", {-0.4, -0.2}}, {"乙", {-0.6, -0.5}}};
const std::map<std::pair<std::string, std::string>, double> kBi = {
    {{"<s>", "甲"}, -0.2}, {{"甲", "乙"}, -0.1}, {{"乙", "乙"}, -0.9}, {{"乙", "</s>"}, -0.3}};

ArpaLm char_lm() {
  std::ostringstream t;
  t << "\\data\\\nngram 1=" << kUni.size() << "\nngram 2=" << kBi.size() << "\n\n\\1-grams:\n";
  for (const auto& [w, pb] : kUni) t << pb.first << "\t" << w << "\t" << pb.second << "\n";
  t << "\n\\2-grams:\n";
  for (const auto& [hw, p] : kBi) t << p << "\t" << hw.first << " " << hw.second << "\n";
  t << "\n\\end\\\n";
  std::istringstream in(t.str());
  return ArpaLm::parse(in, "char_lm");
}

// ln P(w | h) by the back-off formula over the tables; h = "" after an unknown character.
double oracle_logp(const std::string& h, const std::string& w) {
  const auto bi = kBi.find({h, w});
  if (bi != kBi.end()) return kLn10 * bi->second;
  const auto hu = kUni.find(h);
  const double bow = hu == kUni.end() ? 0.0 : hu->second.second;
  return kLn10 * (bow + kUni.at(w).first);
}

// ln P_lm of a labelling's characters (nullopt-like NaN when not allowed in lexicon mode).
double oracle_lm(const Alphabet& a, const std::vector<int32_t>& lab, double oov, bool lexicon) {
  std::string h = "<s>";
  double lp = 0;
  for (int32_t k : lab) {
    const std::string w = a.symbol(k);
    if (!kUni.count(w)) {
      if (lexicon) return std::nan("");
      lp += oov;
      h = "";
      continue;
    }
    lp += oracle_logp(h, w);
    h = w;
  }
  return lp + oracle_logp(h, "</s>");
}

// Exact P_ctc of every labelling reachable in t frames, over the alignments `allowed` accepts
// (frame, symbol, previous frame's symbol or -1).
template <typename Allowed>
std::map<std::vector<int32_t>, double> labellings(const std::vector<float>& lp, int t, int c,
                                                  Allowed allowed) {
  std::map<std::vector<int32_t>, double> total;
  std::vector<int> path(t, 0);
  for (;;) {
    bool ok = true;
    double logp = 0;
    std::vector<int32_t> lab;
    for (int i = 0; i < t && ok; ++i) {
      ok = allowed(i, path[i], i ? path[i - 1] : -1);
      logp += lp[i * c + path[i]];
      if (path[i] != 0 && (i == 0 || path[i] != path[i - 1])) lab.push_back(path[i]);
    }
    if (ok) total[lab] += std::exp(logp);
    int i = 0;
    while (i < t && ++path[i] == c) path[i++] = 0;
    if (i == t) break;
  }
  return total;
}

std::vector<float> random_frames(int t, int c, uint32_t seed, double shape) {
  std::mt19937 rng(seed);
  std::gamma_distribution<double> g(shape, 1.0);
  std::vector<float> out;
  for (int i = 0; i < t; ++i) {
    std::vector<double> row(c);
    double s = 0;
    for (double& v : row) s += (v = g(rng) + 1e-3);
    for (double v : row) out.push_back(static_cast<float>(std::log(v / s)));
  }
  return out;
}

BeamOptions wide() {
  BeamOptions o;
  o.beam = 1 << 20;
  o.prune_logprob = -1e30f;
  o.top_k = 1000;
  o.beam_threshold = std::numeric_limits<float>::infinity();
  return o;
}

struct CharCase {
  double alpha, beta, oov;
  bool lexicon;
};

class CharLmOracle : public ::testing::TestWithParam<CharCase> {};

TEST_P(CharLmOracle, WideBeamEqualsExhaustiveEnumeration) {
  const CharCase k = GetParam();
  const Alphabet a = Alphabet::parse("<blank>\n甲\n乙\n丙\n", "zh");
  const int c = a.size();
  const ArpaLm lm = char_lm();
  BeamOptions o = wide();
  o.alpha = static_cast<float>(k.alpha);
  o.beta = static_cast<float>(k.beta);
  o.oov_logprob = static_cast<float>(k.oov);
  if (k.lexicon) o.lexicon = "lm";
  BeamWorkspace ws;
  int long_best = 0;
  for (uint32_t seed = 1; seed <= 6; ++seed) {
    const int t = 5 + static_cast<int>(seed % 3);
    const std::vector<float> lp = random_frames(t, c, seed, 0.6);
    const auto exact = labellings(lp, t, c, [](int, int, int) { return true; });
    std::map<std::vector<int32_t>, double> want;
    double best = -kInf;
    std::vector<int32_t> best_lab;
    for (const auto& [lab, p] : exact) {
      const double m = oracle_lm(a, lab, k.oov, k.lexicon);
      if (std::isnan(m)) continue;
      const double s = std::log(p) + k.alpha * m + k.beta * static_cast<double>(lab.size());
      want[lab] = s;
      if (s > best) best = s, best_lab = lab;
    }
    const auto hyps = prefix_beam_search(lp.data(), t, c, c, a, &lm, o, &ws);
    ASSERT_FALSE(hyps.empty());
    const std::string what = "seed " + std::to_string(seed);
    EXPECT_EQ(hyps[0].labels, best_lab) << what;
    EXPECT_NEAR(hyps[0].score, best, 1e-6) << what;
    EXPECT_EQ(hyps[0].words, static_cast<int>(best_lab.size())) << what;
    size_t valid = 0;
    for (const auto& h : hyps) {
      if (h.score == -kInf) continue;
      ++valid;
      ASSERT_TRUE(want.count(h.labels)) << what << ": a labelling that may not be emitted";
      EXPECT_NEAR(h.score, want.at(h.labels), 1e-6) << what;
    }
    EXPECT_EQ(valid, want.size()) << what;
    long_best += best_lab.size() >= 2;
  }
  EXPECT_GE(long_best, 1) << "no case where the best labelling has several characters";
}

INSTANTIATE_TEST_SUITE_P(Modes, CharLmOracle,
                         ::testing::Values(CharCase{0.8, 1.5, -3.0, false},
                                           CharCase{2.0, 0.0, -6.0, false},
                                           CharCase{1.0, 0.5, -3.0, true}));

// The labels a frame may be extended with under cum_prob p and top_k, from a full sort of all
// symbols (blank first among equal probabilities): the non-blank ones of the shortest prefix of
// that order whose mass reaches p, and among the top_k most probable labels.
std::set<int> allowed_labels(const float* lp, int c, double p, int top_k) {
  std::vector<int> order(c);
  for (int k = 0; k < c; ++k) order[k] = k;
  std::sort(order.begin(), order.end(),
            [&](int x, int y) { return lp[x] > lp[y] || (lp[x] == lp[y] && x < y); });
  std::set<int> in_mass, top;
  double mass = 0;
  for (int k : order) {
    if (mass >= p) break;
    in_mass.insert(k);
    mass += std::exp(static_cast<double>(lp[k]));
  }
  for (int k : order)
    if (k != 0 && static_cast<int>(top.size()) < top_k) top.insert(k);
  std::set<int> out;
  for (int k : in_mass)
    if (k != 0 && top.count(k)) out.insert(k);
  return out;
}

TEST(CumProbPruning, WideBeamEqualsRestrictedEnumeration) {
  const Alphabet words = Alphabet::parse("<blank>\n<space>\na\nb\nc\n", "abc");
  const Alphabet chars = Alphabet::parse("<blank>\n甲\n乙\n丙\n", "zh");
  const ArpaLm lm = char_lm();
  int pruned_frames = 0, frames = 0;
  for (const Alphabet* a : {&words, &chars}) {
    const int c = a->size();
    for (double p : {0.5, 0.8, 0.95}) {
      for (uint32_t seed = 1; seed <= 4; ++seed) {
        const int t = 5 + static_cast<int>(seed % 2);
        // Peaked frames (gamma shape 0.3), as trained networks give.
        const std::vector<float> lp = random_frames(t, c, 100 * seed + (a == &chars), 0.3);
        BeamOptions o = wide();
        o.cum_prob = static_cast<float>(p);
        o.top_k = c - 2;  // also cut one label per frame by top_k
        std::vector<std::set<int>> allow;
        for (int i = 0; i < t; ++i) {
          allow.push_back(allowed_labels(&lp[i * c], c, p, o.top_k));
          pruned_frames += static_cast<int>(allow.back().size()) < c - 1;
          ++frames;
        }
        const auto exact = labellings(lp, t, c, [&](int i, int s, int prev) {
          return s == 0 || s == prev || allow[i].count(s) > 0;
        });
        const LanguageModel* with_lm = a == &chars ? &lm : nullptr;
        const auto hyps = prefix_beam_search(lp.data(), t, c, c, *a, with_lm, o);
        const std::string what = "p " + std::to_string(p) + " seed " + std::to_string(seed);
        ASSERT_EQ(hyps.size(), exact.size()) << what;
        for (const auto& h : hyps) {
          ASSERT_TRUE(exact.count(h.labels)) << what << ": a labelling outside the pruned lattice";
          EXPECT_NEAR(h.log_p_ctc, std::log(exact.at(h.labels)), 1e-6) << what;
        }
      }
    }
  }
  EXPECT_GT(pruned_frames, frames / 4) << "the cases hardly prune";
}

// cum_prob >= 1 changes nothing; a peaked frame keeps only the labels it needs.
TEST(CumProbPruning, OffAtOneAndTightOnPeakedFrames) {
  const Alphabet a = Alphabet::parse("<blank>\n<space>\na\nb\nc\n", "abc");
  const int c = a.size(), t = 6;
  const std::vector<float> lp = random_frames(t, c, 7, 0.6);
  BeamOptions o = wide();
  const auto full = prefix_beam_search(lp.data(), t, c, c, a, nullptr, o);
  o.cum_prob = 1.0f;
  const auto same = prefix_beam_search(lp.data(), t, c, c, a, nullptr, o);
  ASSERT_EQ(full.size(), same.size());
  for (size_t i = 0; i < full.size(); ++i) {
    EXPECT_EQ(full[i].labels, same[i].labels);
    EXPECT_EQ(full[i].score, same[i].score);
  }
  // Blank 0.97, 'a' 0.02: with p = 0.95 no label extends (only the empty labelling survives); with
  // p = 0.98 'a' does.
  std::vector<float> peaked(static_cast<size_t>(c), std::log(0.01f / 3));
  peaked[0] = std::log(0.97f);
  peaked[2] = std::log(0.02f);
  o.cum_prob = 0.95f;
  auto h = prefix_beam_search(peaked.data(), 1, c, c, a, nullptr, o);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_TRUE(h[0].labels.empty());
  o.cum_prob = 0.98f;
  h = prefix_beam_search(peaked.data(), 1, c, c, a, nullptr, o);
  ASSERT_EQ(h.size(), 2u);
}

}  // namespace
}  // namespace ds2::decode
