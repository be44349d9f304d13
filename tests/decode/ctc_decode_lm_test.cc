// Prefix beam search with a word LM against exhaustive enumeration, and the word gluing /
// dropping pathology.
//
// Oracle (independent of the search): on a tiny alphabet {blank, space, a, b} and T <= 8 frames,
// every one of the C^T alignments is enumerated and collapsed (CTC's B), so each labelling gets
// its exact total probability P_ctc(l); then its words (split on spaces) are scored by name
// through ArpaLm::log10_prob({<s>, w_1, .., w_i}) (a word outside the vocabulary scores
// oov_logprob and stands as <unk> in later contexts), with </s> at the end:
//   score(l) = ln P_ctc(l) + alpha * sum_i ln P(w_i | <s> w_1..w_i-1) + beta * |words|.
// In lexicon mode a labelling with a word outside the lexicon has no score. A search with a beam
// wider than the number of labellings and no pruning must return exactly these scores, best
// first, whatever the partial-word scoring (it only steers pruning).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <ostream>
#include <random>
#include <set>
#include <sstream>

#include "core/error.h"
#include "decode/arpa_lm.h"
#include "decode/ctc_decode.h"
#include "pipeline/alphabet.h"
#include "pipeline/prep.h"
#include "tests/testutil.h"

namespace ds2::decode {
namespace {

using pipeline::Alphabet;
const double kLn10 = std::log(10.0);
const double kInf = std::numeric_limits<double>::infinity();

// A 2-gram LM over words of the letters a, b (with <unk> when `unk`).
ArpaLm tiny_ab_lm(bool unk) {
  std::ostringstream t;
  t << "\\data\\\nngram 1=" << (unk ? 8 : 7) << "\nngram 2=6\n\n\\1-grams:\n"
    << (unk ? "-1.2\t<unk>\n" : "") << "-99\t<s>\t-0.4\n-1.0\t</s>\n-0.6\ta\t-0.2\n"
    << "-0.9\tab\t-0.3\n-1.1\tba\t-0.1\n-1.4\tbb\t-0.2\n-1.6\taab\t-0.3\n\n\\2-grams:\n"
    << "-0.3\t<s> ab\n-0.5\tab a\n-0.2\ta ba\n-0.4\tba </s>\n-0.7\t<s> a\n-0.6\tbb ab\n\n"
    << "\\end\\\n";
  std::istringstream in(t.str());
  return ArpaLm::parse(in, "tiny_ab");
}

std::vector<std::string> words_of(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// The oracle's LM part (alpha = 1, beta = 0 folded out): sum of ln P and the word count, or
// nullopt-like NaN when a word is outside `lexicon` (empty: open vocabulary).
struct LmPart {
  double log_p = 0;
  int words = 0;
  bool allowed = true;
};
LmPart oracle_lm(const ArpaLm& lm, const std::string& text, double oov, double oov_char,
                 const std::set<std::string>* lexicon) {
  LmPart r;
  std::vector<std::string> ctx{"<s>"};
  for (const std::string& w : words_of(text)) {
    if (lexicon && !lexicon->count(w)) r.allowed = false;
    const int32_t id = lm.word_id(w);
    const bool known = id != LanguageModel::kNoWord && id != lm.unk_id();
    ctx.push_back(w);
    r.log_p += known ? kLn10 * lm.log10_prob(ctx) : oov + oov_char * static_cast<double>(w.size());
    ++r.words;
  }
  ctx.push_back("</s>");
  r.log_p += kLn10 * lm.log10_prob(ctx);
  return r;
}

// Exact P_ctc of every labelling reachable in t frames (all C^t alignments).
std::map<std::vector<int32_t>, double> all_labellings(const std::vector<float>& lp, int t, int c) {
  std::map<std::vector<int32_t>, double> total;
  std::vector<int> path(t, 0);
  for (;;) {
    double logp = 0;
    std::vector<int32_t> lab;
    for (int i = 0; i < t; ++i) {
      logp += lp[i * c + path[i]];
      if (path[i] != 0 && (i == 0 || path[i] != path[i - 1])) lab.push_back(path[i]);
    }
    total[lab] += std::exp(logp);
    int i = 0;
    while (i < t && ++path[i] == c) path[i++] = 0;
    if (i == t) break;
  }
  return total;
}

// Random softmax rows where a/b/space are likely enough that several words appear.
std::vector<float> random_frames(int t, int c, uint32_t seed) {
  std::mt19937 rng(seed);
  std::gamma_distribution<double> g(0.6, 1.0);
  std::vector<float> out;
  for (int i = 0; i < t; ++i) {
    std::vector<double> row(c);
    double s = 0;
    for (double& v : row) s += (v = g(rng) + 1e-3);
    for (double v : row) out.push_back(static_cast<float>(std::log(v / s)));
  }
  return out;
}

BeamOptions exhaustive(double alpha, double beta, double oov, double oov_char) {
  BeamOptions o;
  o.beam = 1 << 20;
  o.prune_logprob = -1e30f;
  o.top_k = 1000;
  o.beam_threshold = std::numeric_limits<float>::infinity();
  o.alpha = static_cast<float>(alpha);
  o.beta = static_cast<float>(beta);
  o.oov_logprob = static_cast<float>(oov);
  o.oov_char_logprob = static_cast<float>(oov_char);
  return o;
}

struct Case {
  bool unk;
  std::string lexicon;  // "", "lm" or "file"
  bool partial;
  double alpha, beta, oov, oov_char;
};

std::ostream& operator<<(std::ostream& os, const Case& k) {
  return os << (k.unk ? "<unk> " : "no <unk> ") << "lexicon '" << k.lexicon << "' partial "
            << k.partial << " alpha " << k.alpha << " beta " << k.beta << " oov " << k.oov << " + "
            << k.oov_char << "/char";
}

class LmOracle : public ::testing::TestWithParam<Case> {};

TEST_P(LmOracle, WideBeamEqualsExhaustiveEnumeration) {
  const Case k = GetParam();
  const Alphabet a = Alphabet::parse("<blank>\n<space>\na\nb\n", "ab");
  const int c = a.size();
  ArpaLm lm = tiny_ab_lm(k.unk);
  std::set<std::string> lexicon;
  BeamOptions o = exhaustive(k.alpha, k.beta, k.oov, k.oov_char);
  o.partial_words = k.partial;
  if (k.lexicon == "lm") {
    o.lexicon = "lm";
    lexicon = {"a", "ab", "ba", "bb", "aab"};
  } else if (k.lexicon == "file") {
    // "abb" is not an LM word: it may be emitted and scores as out of vocabulary.
    test::TempDir dir("ds2-lexicon");
    const std::string path = dir.path() + "/lexicon.txt";
    std::ofstream(path) << "# words\nab\nba  b a |\nabb\n\na\n";
    lm.set_lexicon(ArpaLm::read_lexicon(path), path);
    o.lexicon = path;
    lexicon = {"a", "ab", "ba", "abb"};
  }
  BeamWorkspace ws;
  int checked = 0, multi_word = 0;
  for (uint32_t seed = 1; seed <= 6; ++seed) {
    const int t = 5 + static_cast<int>(seed % 3);  // 5..7 frames: up to 16384 alignments
    const std::vector<float> lp = random_frames(t, c, seed);
    const auto exact = all_labellings(lp, t, c);
    std::map<std::vector<int32_t>, double> want;
    double best = -kInf;
    std::vector<int32_t> best_lab;
    for (const auto& [lab, p] : exact) {
      const std::string text = a.decode(lab.data(), lab.size());
      const LmPart m =
          oracle_lm(lm, text, k.oov, k.oov_char, k.lexicon.empty() ? nullptr : &lexicon);
      if (!m.allowed) continue;
      const double s = std::log(p) + k.alpha * m.log_p + k.beta * m.words;
      want[lab] = s;
      if (s > best) best = s, best_lab = lab;
    }
    const auto hyps = prefix_beam_search(lp.data(), t, c, c, a, &lm, o, &ws);
    ASSERT_FALSE(hyps.empty());
    const std::string what = "seed " + std::to_string(seed);
    EXPECT_EQ(hyps[0].labels, best_lab)
        << what << ": got '" << a.decode(hyps[0].labels.data(), hyps[0].labels.size()) << "' want '"
        << a.decode(best_lab.data(), best_lab.size()) << "'";
    EXPECT_NEAR(hyps[0].score, best, 1e-6) << what;
    // Every returned labelling carries its oracle score; in open-vocabulary mode every labelling
    // is returned.
    size_t valid = 0;
    for (const auto& h : hyps) {
      if (h.score == -kInf) continue;
      ++valid;
      ASSERT_TRUE(want.count(h.labels))
          << what << ": '" << a.decode(h.labels.data(), h.labels.size())
          << "' should not be emitted";
      EXPECT_NEAR(h.score, want.at(h.labels), 1e-6) << what;
    }
    if (k.lexicon.empty()) {
      EXPECT_EQ(valid, want.size()) << what;
    }
    multi_word += words_of(a.decode(best_lab.data(), best_lab.size())).size() >= 2;
    ++checked;
  }
  EXPECT_EQ(checked, 6);
  EXPECT_GE(multi_word, 1) << "no case where the best labelling has several words";
}

INSTANTIATE_TEST_SUITE_P(Modes, LmOracle,
                         ::testing::Values(Case{true, "", true, 0.8, 1.5, -4.0, -1.0},
                                           Case{true, "", false, 0.8, 1.5, -4.0, -1.0},
                                           Case{false, "", true, 1.5, 0.5, -2.0, 0.0},
                                           Case{true, "", true, 0.3, 3.0, -9.0, -0.5},
                                           Case{true, "lm", true, 0.8, 1.5, -4.0, -1.0},
                                           Case{false, "lm", false, 1.2, 2.0, -4.0, -1.0},
                                           Case{true, "file", true, 0.8, 1.5, -3.0, -1.0}));

// ---- the gluing / dropping pathology --------------------------------------------------------

// A 2-gram LM over six words; every word costs about the same (ln P around -2.5 to -4).
ArpaLm six_word_lm() {
  std::istringstream in(
      "\\data\\\nngram 1=9\nngram 2=6\n\n\\1-grams:\n-1.5\t<unk>\n-99\t<s>\t-0.3\n-1.0\t</s>\n"
      "-1.2\tthe\t-0.2\n-1.6\tcat\t-0.2\n-1.7\tsat\t-0.2\n-1.5\ton\t-0.2\n-1.4\ta\t-0.2\n"
      "-1.8\tmat\t-0.2\n\n\\2-grams:\n-0.6\t<s> the\n-1.0\tthe cat\n-1.1\tcat sat\n"
      "-0.9\tsat on\n-0.8\ton a\n-1.2\ta mat\n\n\\end\\\n");
  return ArpaLm::parse(in, "six_word_lm");
}

// Frames spelling `text`: each letter one frame at 0.55 with two other letters at 0.2 each (the
// next letters of the alphabet); each space one frame where blank (0.55) beats the space (0.4),
// so the best path glues all words into one.
std::vector<float> glued_frames(const Alphabet& a, const std::string& text) {
  const int c = a.size();
  std::vector<float> out;
  for (char ch : text) {
    std::vector<double> row(c, 1e-4);
    if (ch == ' ') {
      row[a.blank()] = 0.55;
      row[a.encode(" ")[0]] = 0.4;
    } else {
      const int k = a.encode(std::string(1, ch))[0];
      row[k] = 0.55;
      row[3 + (k - 3 + 1) % 26] = 0.2;  // en.txt: blank, space, ', a-z
      row[3 + (k - 3 + 2) % 26] = 0.2;
    }
    double s = 0;
    for (double v : row) s += v;
    for (double v : row) out.push_back(static_cast<float>(std::log(v / s)));
  }
  return out;
}

TEST(PrefixBeamLm, InVocabularyWordsAreNeitherGluedNorDropped) {
  const Alphabet a = Alphabet::load(pipeline::resolve_share_path("share/alphabets/en.txt"));
  const int c = a.size();
  const ArpaLm lm = six_word_lm();
  const std::string truth = "the cat sat on a mat";
  const std::vector<float> lp = glued_frames(a, truth);
  const int t = static_cast<int>(truth.size());
  const std::vector<int32_t> greedy = greedy_decode(lp.data(), t, c, c);
  ASSERT_EQ(a.decode(greedy.data(), greedy.size()), "thecatsatonamat");
  for (const char* lexicon : {"", "lm"}) {
    for (int beam : {8, 16, 64}) {
      BeamOptions o;
      o.beam = beam;
      o.alpha = 1.0f;
      o.beta = 1.0f;
      o.lexicon = lexicon;
      const auto hyps = prefix_beam_search(lp.data(), t, c, c, a, &lm, o);
      ASSERT_FALSE(hyps.empty());
      EXPECT_EQ(a.decode(hyps[0].labels.data(), hyps[0].labels.size()), truth)
          << "beam " << beam << " lexicon '" << lexicon << "'";
      EXPECT_EQ(hyps[0].words, 6);
    }
  }
  // Control: the input does exhibit the pathology. Scoring words only at their space, with an
  // unknown word at a flat -10 (the search before partial-word scoring), glues all six words.
  BeamOptions word_end;
  word_end.beam = 64;
  word_end.alpha = 1.0f;
  word_end.beta = 1.0f;
  word_end.partial_words = false;
  word_end.oov_char_logprob = 0.0f;
  word_end.beam_threshold = std::numeric_limits<float>::infinity();
  const auto glued = prefix_beam_search(lp.data(), t, c, c, a, &lm, word_end);
  EXPECT_EQ(a.decode(glued[0].labels.data(), glued[0].labels.size()), "thecatsatonamat");
}

TEST(PrefixBeamLm, LexiconFileMustBeTheLmsOwn) {
  const Alphabet a = Alphabet::parse("<blank>\n<space>\na\nb\n", "ab");
  const ArpaLm lm = tiny_ab_lm(true);
  const std::vector<float> lp = random_frames(4, a.size(), 3);
  BeamOptions o;
  o.lexicon = "/nonexistent/lexicon.txt";  // not given to the LM: refused, not silently ignored
  EXPECT_THROW(prefix_beam_search(lp.data(), 4, a.size(), a.size(), a, &lm, o), ConfigError);
  o.lexicon = "lm";
  EXPECT_NO_THROW(prefix_beam_search(lp.data(), 4, a.size(), a.size(), a, &lm, o));
  o.lexicon = "/nonexistent/lexicon.txt";  // without an LM there is nothing to restrict
  EXPECT_NO_THROW(prefix_beam_search(lp.data(), 4, a.size(), a.size(), a, nullptr, o));
}

// Lexicon mode when no hypothesis ends in a listed word: the utterance stops inside "aaab" or
// "bbba" (both listed, both out of the LM's vocabulary, of the same length, so their LM parts are
// equal), every final score is -inf, and the ranking falls back to the search's score: "b"
// (0.6 x 0.6, one alignment: blank has probability 0) before "a" (0.4 x 0.4), although "a"
// comes first in label order. best() picks the same.
TEST(PrefixBeamLm, LexiconWithNoFinishedWordRanksBySearchScore) {
  const Alphabet a = Alphabet::parse("<blank>\n<space>\na\nb\n", "ab");
  ArpaLm lm = tiny_ab_lm(false);
  test::TempDir dir("ds2-lexicon-unfinished");
  const std::string path = dir.path() + "/lexicon.txt";
  std::ofstream(path) << "aaab\nbbba\n";
  lm.set_lexicon(ArpaLm::read_lexicon(path), path);
  const float zero = -std::numeric_limits<float>::infinity();
  const std::vector<float> lp = {zero, zero, std::log(0.4f), std::log(0.6f),
                                 zero, zero, std::log(0.4f), std::log(0.6f)};
  BeamOptions o;
  o.lexicon = path;
  o.beam = 8;
  o.beam_threshold = std::numeric_limits<float>::infinity();  // OOV words cost more than 15
  const auto hyps = prefix_beam_search(lp.data(), 2, a.size(), a.size(), a, &lm, o);
  ASSERT_EQ(hyps.size(), 2u);
  EXPECT_EQ(a.decode(hyps[0].labels.data(), hyps[0].labels.size()), "b");
  EXPECT_EQ(a.decode(hyps[1].labels.data(), hyps[1].labels.size()), "a");
  EXPECT_EQ(hyps[0].score, -kInf);
  EXPECT_EQ(hyps[1].score, -kInf);
  EXPECT_NEAR(hyps[0].log_p_ctc, 2 * std::log(0.6), 1e-6);
  PrefixBeamSearch search(a.size(), a, &lm, o);
  search.advance(lp.data(), 2, a.size());
  EXPECT_EQ(search.best().labels, hyps[0].labels);
}

}  // namespace
}  // namespace ds2::decode
