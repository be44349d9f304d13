// CTC decoders. Oracles: hand cases, brute force over all alignments of a tiny T x C (the exact
// total probability of every labelling), and hand-computed LM scores from tests/data/tiny.arpa.
#include "decode/ctc_decode.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>

#include "core/error.h"
#include "decode/arpa_lm.h"
#include "pipeline/alphabet.h"
#include "pipeline/prep.h"
#include "tests/testutil.h"

namespace ds2::decode {
namespace {

using pipeline::Alphabet;

const double kLn10 = std::log(10.0);

Alphabet small_alphabet() { return Alphabet::parse("<blank>\n<space>\na\nb\n", "test"); }
Alphabet english() {
  return Alphabet::load(pipeline::resolve_share_path("share/alphabets/en.txt"));
}

// Log of a (T, C) probability table given row by row.
std::vector<float> log_of(const std::vector<std::vector<double>>& p) {
  std::vector<float> out;
  for (const auto& row : p)
    for (double v : row) out.push_back(static_cast<float>(std::log(v)));
  return out;
}

// Peaky random log-probabilities: one symbol per frame gets most of the mass (like a trained
// network's softmax); blank is the favourite about half of the time.
std::vector<float> peaky(int t, int c, uint32_t seed, double peak = 0.9) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<float> out;
  for (int i = 0; i < t; ++i) {
    const int top = u(rng) < 0.5 ? 0 : 1 + static_cast<int>(u(rng) * (c - 1)) % (c - 1);
    std::vector<double> row(c);
    double rest = 0;
    for (int k = 0; k < c; ++k) rest += (row[k] = k == top ? 0 : u(rng));
    for (int k = 0; k < c; ++k) row[k] = k == top ? peak : (1 - peak) * row[k] / rest;
    for (double v : row) out.push_back(static_cast<float>(std::log(v)));
  }
  return out;
}

std::string text(const Alphabet& a, const std::vector<int32_t>& labels) {
  return a.decode(labels.data(), labels.size());
}

TEST(Greedy, CollapsesRepeatsAndDropsBlanksWithStride) {
  // Two utterances interleaved as (T, N=2, C=3); utterance 0 frames: a a _ a b b _ (argmax).
  const int c = 3, n = 2;
  const std::vector<int> path0 = {1, 1, 0, 1, 2, 2, 0};
  const std::vector<int> path1 = {0, 0, 2, 0, 0, 1, 1};
  std::vector<float> x(path0.size() * n * c, 0.1f);
  for (size_t t = 0; t < path0.size(); ++t) {
    x[(t * n + 0) * c + path0[t]] = 0.8f;
    x[(t * n + 1) * c + path1[t]] = 0.8f;
  }
  const int t = static_cast<int>(path0.size());
  EXPECT_EQ(greedy_decode(x.data(), t, c, n * c), (std::vector<int32_t>{1, 1, 2}));
  EXPECT_EQ(greedy_decode(x.data() + c, t, c, n * c), (std::vector<int32_t>{2, 1}));
  EXPECT_TRUE(greedy_decode(x.data(), 0, c, n * c).empty());
  // Same argmax on activations and on their log-softmax.
  std::vector<float> lp(t * c);
  log_softmax_rows(x.data(), t, c, n * c, lp.data());
  EXPECT_EQ(greedy_decode(lp.data(), t, c, c), greedy_decode(x.data(), t, c, n * c));
  for (int i = 0; i < t; ++i) {
    double s = 0;
    for (int k = 0; k < c; ++k) s += std::exp(lp[i * c + k]);
    EXPECT_NEAR(s, 1.0, 1e-6);
  }
}

TEST(PrefixBeam, MergesAlignmentsHandCase) {
  // T = 2, labels {blank, space, a, b}. Per frame: blank 0.6, 'a' 0.4. Best path (_ _) -> ""
  // with 0.36, but "a" collects (a a) + (a _) + (_ a) = 0.16 + 0.24 + 0.24 = 0.64.
  const Alphabet a = small_alphabet();
  const auto lp = log_of({{0.6, 1e-30, 0.4, 1e-30}, {0.6, 1e-30, 0.4, 1e-30}});
  EXPECT_TRUE(greedy_decode(lp.data(), 2, 4, 4).empty());
  BeamOptions o;
  o.beam = 8;
  const auto hyps = prefix_beam_search(lp.data(), 2, 4, 4, a, nullptr, o);
  ASSERT_GE(hyps.size(), 2u);
  EXPECT_EQ(text(a, hyps[0].labels), "a");
  EXPECT_NEAR(hyps[0].log_p_ctc, std::log(0.64), 1e-6);
  EXPECT_EQ(text(a, hyps[1].labels), "");
  EXPECT_NEAR(hyps[1].log_p_ctc, std::log(0.36), 1e-6);
  // "aa" needs a blank between the two a's: impossible in 2 frames, so it is absent.
  for (const auto& h : hyps) EXPECT_NE(text(a, h.labels), "aa");
}

// Exact total probability of every labelling by enumerating all C^T alignments.
std::map<std::vector<int32_t>, double> brute_force(const std::vector<float>& lp, int t, int c) {
  std::map<std::vector<int32_t>, double> total;
  std::vector<int> path(t, 0);
  while (true) {
    double p = 1;
    std::vector<int32_t> lab;
    for (int i = 0; i < t; ++i) {
      p *= std::exp(static_cast<double>(lp[i * c + path[i]]));
      if (path[i] != 0 && (i == 0 || path[i] != path[i - 1])) lab.push_back(path[i]);
    }
    total[lab] += p;
    int i = 0;
    while (i < t && ++path[i] == c) path[i++] = 0;
    if (i == t) break;
  }
  return total;
}

TEST(PrefixBeam, UnboundedBeamGivesExactLabellingProbabilities) {
  const Alphabet a = small_alphabet();
  const int t = 6, c = 4;
  BeamWorkspace ws;
  for (uint32_t seed = 1; seed <= 5; ++seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> u(0.05, 1.0);
    std::vector<std::vector<double>> p(t, std::vector<double>(c));
    for (auto& row : p) {
      double s = 0;
      for (double& v : row) s += (v = u(rng));
      for (double& v : row) v /= s;
    }
    const auto lp = log_of(p);
    const auto exact = brute_force(lp, t, c);
    BeamOptions o;
    o.beam = 100000;
    o.beam_threshold = std::numeric_limits<float>::infinity();
    o.prune_logprob = -1e30f;
    o.top_k = c;
    const auto hyps = prefix_beam_search(lp.data(), t, c, c, a, nullptr, o, &ws);
    ASSERT_EQ(hyps.size(), exact.size()) << "seed " << seed;  // every labelling is reached
    for (const auto& h : hyps)
      EXPECT_NEAR(h.log_p_ctc, std::log(exact.at(h.labels)), 1e-9) << "seed " << seed;
    double best = 0;
    std::vector<int32_t> best_lab;
    for (const auto& [lab, v] : exact)
      if (v > best) best = v, best_lab = lab;
    EXPECT_EQ(hyps[0].labels, best_lab);
    // A reused workspace gives the same answer as a fresh one.
    const auto again = prefix_beam_search(lp.data(), t, c, c, a, nullptr, o);
    ASSERT_EQ(again.size(), hyps.size());
    for (size_t i = 0; i < hyps.size(); ++i) EXPECT_EQ(again[i].labels, hyps[i].labels);
  }
}

TEST(PrefixBeam, BeamOneWithoutLmEqualsGreedyOnPeakyOutput) {
  const Alphabet a = english();
  const int c = a.size(), t = 200;
  BeamWorkspace ws;
  BeamOptions o;
  o.beam = 1;
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    const auto lp = peaky(t, c, seed);
    const auto hyps = prefix_beam_search(lp.data(), t, c, c, a, nullptr, o, &ws);
    ASSERT_EQ(hyps.size(), 1u);
    EXPECT_EQ(hyps[0].labels, greedy_decode(lp.data(), t, c, c)) << "seed " << seed;
  }
}

TEST(PrefixBeam, PruningLimitsExtensions) {
  const Alphabet a = small_alphabet();
  // Only 'b' in frame 3 (0.5) clears ln 0.45: the hypotheses are "" and "b", nothing else.
  const auto lp = log_of({{0.5, 0.1, 0.3, 0.1}, {0.5, 0.1, 0.3, 0.1}, {0.2, 0.1, 0.2, 0.5}});
  BeamOptions o;
  o.beam = 100;
  o.prune_logprob = std::log(0.45f);
  auto hyps = prefix_beam_search(lp.data(), 3, 4, 4, a, nullptr, o);
  ASSERT_EQ(hyps.size(), 2u);
  EXPECT_EQ(text(a, hyps[0].labels), "b");  // 0.5 * 0.5 * 0.5 vs "" 0.5 * 0.5 * 0.2
  EXPECT_NEAR(hyps[0].log_p_ctc, std::log(0.125), 1e-6);
  EXPECT_EQ(text(a, hyps[1].labels), "");
  o.prune_logprob = -1e30f;
  o.top_k = 1;  // only the most probable non-blank label per frame: 'a', 'a', 'b'
  hyps = prefix_beam_search(lp.data(), 3, 4, 4, a, nullptr, o);
  bool has_ab = false;
  for (const auto& h : hyps) {
    for (int32_t l : h.labels) EXPECT_NE(l, 1) << text(a, h.labels);  // never the space
    has_ab |= text(a, h.labels) == "ab";
  }
  EXPECT_TRUE(has_ab);
}

// "ab" and "ba" have one alignment each, ln 0.3 + ln 0.5 and ln 0.5 + ln 0.3: an exact tie.
// "ba" is made first (its parent "b" is the more probable prefix after frame 1), yet the
// contract orders equal scores by their labels, so "ab" ({2, 3}) comes before "ba" ({3, 2}).
TEST(PrefixBeam, EqualScoresAreInLabelOrder) {
  const Alphabet a = small_alphabet();
  const auto lp = log_of({{0.2, 0.0, 0.3, 0.5}, {0.2, 0.0, 0.3, 0.5}});
  BeamOptions o;
  o.beam = 100;
  const auto hyps = prefix_beam_search(lp.data(), 2, 4, 4, a, nullptr, o);
  int ab = -1, ba = -1;
  for (size_t i = 0; i < hyps.size(); ++i) {
    if (i > 0) {
      EXPECT_TRUE(hyps[i - 1].score > hyps[i].score ||
                  (hyps[i - 1].score == hyps[i].score && hyps[i - 1].labels < hyps[i].labels))
          << i;
    }
    if (text(a, hyps[i].labels) == "ab") ab = static_cast<int>(i);
    if (text(a, hyps[i].labels) == "ba") ba = static_cast<int>(i);
  }
  ASSERT_GE(ab, 0);
  ASSERT_GE(ba, 0);
  EXPECT_EQ(hyps[ab].score, hyps[ba].score);
  EXPECT_NEAR(hyps[ab].score, std::log(0.3) + std::log(0.5), 1e-6);
  EXPECT_LT(ab, ba);
}

// Frames for "the ?at" with ? = k (0.6) or c (0.4); every other frame is one symbol with
// probability 1, so each labelling has exactly one alignment.
std::vector<float> the_cat_frames(const Alphabet& a) {
  const int c = a.size();
  std::vector<std::vector<double>> p;
  auto idx = [&](const std::string& s) { return a.encode(s)[0]; };
  for (const char* s : {"t", "h", "e", " ", "?", "a", "t"}) {
    std::vector<double> row(c, 0.0);
    if (std::string(s) == "?") {
      row[idx("k")] = 0.6;
      row[idx("c")] = 0.4;
    } else {
      row[idx(s)] = 1.0;
    }
    p.push_back(row);
  }
  return log_of(p);
}

TEST(PrefixBeam, TinyLmMakesTheHandComputedPathWin) {
  const Alphabet a = english();
  const int c = a.size();
  const auto lp = the_cat_frames(a);
  EXPECT_EQ(text(a, greedy_decode(lp.data(), 7, c, c)), "the kat");
  BeamOptions o;
  o.beam = 8;
  o.alpha = 0.5f;
  o.beta = 1.0f;
  o.oov_logprob = std::nanf("");  // score the unknown "kat" with the LM's own <unk>
  o.oov_char_logprob = 0.0f;      // and nothing per character
  const auto plain = prefix_beam_search(lp.data(), 7, c, c, a, nullptr, o);
  EXPECT_EQ(text(a, plain[0].labels), "the kat");
  EXPECT_NEAR(plain[0].score, std::log(0.6), 1e-6);

  const ArpaLm lm = ArpaLm::load(test::data_path("tiny.arpa"));
  const auto hyps = prefix_beam_search(lp.data(), 7, c, c, a, &lm, o);
  ASSERT_GE(hyps.size(), 2u);
  // By hand from tiny.arpa (log10):
  //   the cat: P(the|<s>) -0.2 + P(cat|<s> the) -0.05
  //            + P(</s>|the cat) = bow(the cat) -0.25 + bow(cat) -0.2 + P(</s>) -1.0  = -1.7
  //   the kat: -0.2 + P(<unk>|<s> the) = bow(<s> the) -0.1 + bow(the) -0.3 + P(<unk>) -1.0
  //            + P(</s>|the <unk>) = P(</s>) -1.0                                     = -2.6
  const double lm_cat = -1.7 * kLn10, lm_kat = -2.6 * kLn10;
  EXPECT_EQ(text(a, hyps[0].labels), "the cat");
  EXPECT_EQ(hyps[0].words, 2);
  EXPECT_NEAR(hyps[0].log_p_ctc, std::log(0.4), 1e-6);
  EXPECT_NEAR(hyps[0].log_p_lm, lm_cat, 1e-5);
  EXPECT_NEAR(hyps[0].score, std::log(0.4) + 0.5 * lm_cat + 2.0, 1e-5);
  EXPECT_EQ(text(a, hyps[1].labels), "the kat");
  EXPECT_NEAR(hyps[1].score, std::log(0.6) + 0.5 * lm_kat + 2.0, 1e-5);

  // Without </s>: cat -0.25, kat -1.6 (log10).
  o.lm_eos = false;
  const auto no_eos = prefix_beam_search(lp.data(), 7, c, c, a, &lm, o);
  EXPECT_NEAR(no_eos[0].log_p_lm, -0.25 * kLn10, 1e-5);
  EXPECT_EQ(text(a, no_eos[0].labels), "the cat");
}

TEST(PrefixBeam, UnknownWordsScoreTheOovLogprobNotTheLmsUnk) {
  const Alphabet a = english();
  const int c = a.size();
  const auto lp = the_cat_frames(a);
  const ArpaLm lm = ArpaLm::load(test::data_path("tiny.arpa"));
  BeamOptions o;
  o.beam = 8;
  o.alpha = 0.5f;
  o.beta = 1.0f;
  o.oov_logprob = -3.0f;
  o.oov_char_logprob = 0.0f;  // the per-character term is tested in ctc_decode_lm_test
  const auto hyps = prefix_beam_search(lp.data(), 7, c, c, a, &lm, o);
  ASSERT_GE(hyps.size(), 2u);
  // the kat: P(the|<s>) -0.2 log10, "kat" -3 (ln) in place of P(<unk>|<s> the), then
  // P(</s>|the <unk>) -1.0 log10 (the context still holds <unk>).
  EXPECT_EQ(text(a, hyps[1].labels), "the kat");
  EXPECT_NEAR(hyps[1].log_p_lm, -1.2 * kLn10 - 3.0, 1e-5);
  // A milder OOV score than the LM's <unk> (-1.4 log10 with back-offs here) makes "kat" win.
  o.oov_logprob = -0.1f;
  const auto mild = prefix_beam_search(lp.data(), 7, c, c, a, &lm, o);
  EXPECT_EQ(text(a, mild[0].labels), "the kat");
  EXPECT_NEAR(mild[0].log_p_lm, -1.2 * kLn10 - 0.1, 1e-5);
}

TEST(PrefixBeam, RejectsBadOptionsAndDeadFrames) {
  const Alphabet a = small_alphabet();
  const auto lp = log_of({{0.5, 0.1, 0.3, 0.1}});
  BeamOptions o;
  o.beam = 0;
  EXPECT_THROW(prefix_beam_search(lp.data(), 1, 4, 4, a, nullptr, o), ConfigError);
  o.beam = 4;
  EXPECT_THROW(prefix_beam_search(lp.data(), 1, 3, 4, a, nullptr, o), ConfigError);
  // A frame with no finite probability leaves no prefix: an error naming the frame.
  const auto dead = log_of({{0.5, 0.1, 0.3, 0.1}, {0, 0, 0, 0}});
  try {
    prefix_beam_search(dead.data(), 2, 4, 4, a, nullptr, o);
    FAIL() << "no error";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("frame 1"), std::string::npos) << e.what();
  }
}

// ---- streaming: the incremental decoders against the whole-utterance ones -----------------------

// Piece lengths summing to t, some of them 0, from a seed.
std::vector<int> pieces(int t, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int> out;
  for (int left = t; left > 0;) {
    const int n = std::min(left, static_cast<int>(rng() % 9));  // 0..8 frames
    out.push_back(n);
    left -= n;
  }
  return out;
}

void expect_same(const std::vector<Hypothesis>& got, const std::vector<Hypothesis>& want,
                 const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].labels, want[i].labels) << what << " #" << i;
    // Bit for bit: the same additions in the same order.
    EXPECT_EQ(got[i].score, want[i].score) << what << " #" << i;
    EXPECT_EQ(got[i].log_p_ctc, want[i].log_p_ctc) << what << " #" << i;
    EXPECT_EQ(got[i].log_p_lm, want[i].log_p_lm) << what << " #" << i;
    EXPECT_EQ(got[i].words, want[i].words) << what << " #" << i;
  }
}

TEST(GreedyStream, PiecesDecodeAsTheWholeAndRepeatsCollapseAcrossPieces) {
  // argmax per frame, in pieces: a | a _ | a b | b b | _  -> labels a a b (a = 2, b = 3)
  const auto lp = log_of({{0.1, 0.1, 0.7, 0.1},
                          {0.1, 0.1, 0.7, 0.1},
                          {0.7, 0.1, 0.1, 0.1},
                          {0.1, 0.1, 0.7, 0.1},
                          {0.1, 0.1, 0.1, 0.7},
                          {0.1, 0.1, 0.1, 0.7},
                          {0.1, 0.1, 0.1, 0.7},
                          {0.7, 0.1, 0.1, 0.1}});
  GreedyStream g;
  for (auto [from, n] : std::vector<std::pair<int, int>>{{0, 1}, {1, 2}, {3, 2}, {5, 2}, {7, 1}})
    g.advance(lp.data() + from * 4, n, 4, 4);
  EXPECT_EQ(g.labels(), (std::vector<int32_t>{2, 2, 3}));  // not 2 2 2 3 3

  const Alphabet a = english();
  const int c = a.size(), t = 300;
  for (uint32_t seed : {1u, 2u, 3u}) {
    const auto x = peaky(t, c, seed, 0.5);
    GreedyStream s(a.blank());
    int done = 0;
    for (int n : pieces(t, seed + 10)) {
      s.advance(x.data() + static_cast<size_t>(done) * c, n, c, c);
      done += n;
      EXPECT_EQ(s.labels(), greedy_decode(x.data(), done, c, c, a.blank())) << done;
    }
  }
}

TEST(PrefixBeamSearch, PiecesGiveTheWholeSearchAndEachPartialIsThePrefixSearch) {
  const Alphabet a = english();
  const ArpaLm lm = ArpaLm::load(test::data_path("tiny.arpa"));
  const int c = a.size(), t = 120;
  BeamOptions o;
  o.beam = 12;
  o.top_k = 8;
  o.oov_logprob = -1.0f;  // random "words": a mild OOV score so that prefixes keep spaces
  for (const LanguageModel* model :
       {static_cast<const LanguageModel*>(nullptr), static_cast<const LanguageModel*>(&lm)}) {
    for (uint32_t seed : {4u, 5u}) {
      const std::string what =
          std::string(model ? "lm" : "no lm") + " seed " + std::to_string(seed);
      auto x = peaky(t, c, seed, 0.55);
      for (int i = 7; i < t; i += 12) {  // a space is the favourite every 12 frames: words
        float* row = &x[static_cast<size_t>(i) * c];
        std::swap(row[std::max_element(row, row + c) - row], row[1]);
      }
      const auto whole = prefix_beam_search(x.data(), t, c, c, a, model, o);
      BeamWorkspace ws;
      PrefixBeamSearch s(c, a, model, o, &ws);
      int done = 0, checked = 0;
      for (int n : pieces(t, seed)) {
        s.advance(x.data() + static_cast<size_t>(done) * c, n, c);
        done += n;
        ASSERT_EQ(s.frames(), done);
        const auto partial = s.result();  // the search goes on after this
        const Hypothesis top = s.best();
        EXPECT_EQ(top.labels, partial.front().labels) << what << " best() at " << done;
        EXPECT_EQ(top.score, partial.front().score) << what << " best() at " << done;
        if (done > 0 && done % 4 == 1) {
          expect_same(partial, prefix_beam_search(x.data(), done, c, c, a, model, o),
                      what + " after " + std::to_string(done));
          ++checked;
        }
      }
      EXPECT_GT(checked, 3) << what;
      expect_same(s.result(), whole, what + " at the end");
      if (model) {
        int words = 0;
        for (const auto& h : whole) words = std::max(words, h.words);
        EXPECT_GE(words, 3) << what
                            << ": the LM must have scored words: " << text(a, whole[0].labels);
      }
    }
  }
}

}  // namespace
}  // namespace ds2::decode
