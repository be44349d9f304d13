// WordTrie and the LM's spelling tries. Oracle: brute force over the word list -- a spelling is
// a trie node iff it is a prefix of some word, the node ends a word iff the spelling is listed,
// and its smear is the max unigram ln P over the listed words it prefixes.
#include "decode/word_trie.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "core/error.h"
#include "decode/arpa_lm.h"
#include "tests/testutil.h"

namespace ds2::decode {
namespace {

TEST(WordTrie, NodesWordsAndSmearMatchBruteForce) {
  std::mt19937 rng(7);
  std::map<std::string, float> words;  // word -> the larger ln P given
  WordTrie trie;
  for (int i = 0; i < 300; ++i) {
    std::string w;
    const int n = 1 + static_cast<int>(rng() % 5);
    for (int k = 0; k < n; ++k) w += static_cast<char>('a' + rng() % 4);
    const float lp = -static_cast<float>(rng() % 1000) / 100.0f;
    words[w] = words.count(w) ? std::max(words[w], lp) : lp;
    trie.add(w, static_cast<int32_t>(w.size()), lp);  // id: the length, to check it is kept
  }
  EXPECT_EQ(trie.words(), words.size());
  // Every spelling over {a..e} up to 6 letters (e is in no word).
  std::vector<std::string> spellings{""};
  for (size_t i = 0; i < spellings.size(); ++i)
    if (spellings[i].size() < 6)
      for (char ch = 'a'; ch <= 'e'; ++ch) spellings.push_back(spellings[i] + ch);
  for (const std::string& s : spellings) {
    float best = -1e30f;
    bool prefix = false;
    for (const auto& [w, lp] : words)
      if (w.compare(0, s.size(), s) == 0) prefix = true, best = std::max(best, lp);
    const int32_t node = trie.step(0, s);
    ASSERT_EQ(node >= 0, prefix) << "'" << s << "'";
    if (!prefix) continue;
    EXPECT_EQ(trie.smear(node), best) << "'" << s << "'";
    EXPECT_EQ(trie.ends_word(node), words.count(s) == 1) << "'" << s << "'";
    if (words.count(s)) {
      EXPECT_EQ(trie.word(node), static_cast<int32_t>(s.size()));
    }
    // Stepping symbol by symbol (multi-byte symbols are several steps) reaches the same node.
    int32_t n2 = 0;
    for (char ch : s) n2 = trie.step(n2, std::string(1, ch));
    EXPECT_EQ(n2, node);
  }
  EXPECT_EQ(trie.step(-1, "a"), -1);
  EXPECT_THROW(trie.add("", 0, 0.0f), ConfigError);
}

TEST(WordTrie, ArpaVocabularyAndLexicon) {
  const ArpaLm lm = ArpaLm::load(test::data_path("tiny.arpa"));
  const WordTrie& v = *lm.vocabulary_trie();
  EXPECT_EQ(v.words(), 4u);  // the cat sat a: not <s> </s> <unk>
  EXPECT_EQ(v.step(0, "<s>"), -1);
  const int32_t the = v.step(0, "the");
  ASSERT_GE(the, 0);
  EXPECT_EQ(v.word(the), lm.word_id("the"));
  EXPECT_NEAR(v.smear(v.step(0, "t")), -0.5 * std::log(10.0), 1e-6);  // "the" beats nothing
  EXPECT_NEAR(v.smear(0), -0.5 * std::log(10.0), 1e-6);
  EXPECT_EQ(lm.lexicon_trie(), nullptr);

  test::TempDir dir("ds2-lexicon");
  const std::string path = dir / "lex.txt";
  std::ofstream(path) << "# a comment\n\ncat  c a t |\nzebra\n  sat\n";
  ArpaLm with = ArpaLm::load(test::data_path("tiny.arpa"));
  with.set_lexicon(ArpaLm::read_lexicon(path), path);
  ASSERT_NE(with.lexicon_trie(), nullptr);
  EXPECT_EQ(with.lexicon_source(), path);
  const WordTrie& l = *with.lexicon_trie();
  EXPECT_EQ(l.words(), 3u);
  EXPECT_EQ(l.step(0, "the"), -1);
  EXPECT_EQ(l.word(l.step(0, "zebra")), WordTrie::kOovWord);  // listed, unknown to the LM
  EXPECT_NEAR(l.smear(l.step(0, "zebra")), -1.0 * std::log(10.0), 1e-6);  // P(<unk>)
  EXPECT_EQ(l.word(l.step(0, "sat")), with.word_id("sat"));

  std::ofstream(dir / "empty.txt") << "# nothing\n\n";
  EXPECT_THROW(ArpaLm::read_lexicon(dir / "empty.txt"), FormatError);
  EXPECT_THROW(ArpaLm::read_lexicon(dir / "missing.txt"), IoError);
}

}  // namespace
}  // namespace ds2::decode
