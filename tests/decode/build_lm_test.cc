// share/lm/build_lm.sh (IRSTLM): builds an ARPA LM from a TSV manifest and plain text, which
// ArpaLm must load. Oracles: every training word is in the vocabulary, and the model is a proper
// distribution: sum_w P(w | h) = 1 over the vocabulary for seen and unseen contexts (IRSTLM
// keeps <s> in the vocabulary as a word with its own mass: it pads histories with <s>).
// With --chars: the vocabulary is exactly the characters of the hand-normalized text, and the
// bigrams listed are the distinct character bigrams of its sentences (counted here) plus IRSTLM's
// "<s> <s>".
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/fs.h"
#include "decode/arpa_lm.h"
#include "tests/testutil.h"

namespace ds2::decode {
namespace {

TEST(BuildLm, IrstlmRecipeGivesANormalizedArpaLm) {
  test::TempDir dir("ds2-lm");
  write_file_atomic(dir / "train.tsv",
                    "a.wav\t1.5\tThe cat sat on the mat.\nb.wav\t\tThe dog sat on the log!\n"
                    "c.wav\t2\tA cat, and a dog.\n");
  write_file_atomic(dir / "more.txt", "the cat ate\nthe dog ate the mat\n");
  for (int order : {2, 3}) {
    const std::string out = dir / ("lm" + std::to_string(order) + ".arpa");
    const std::string cmd =
        fmt::format("{}/share/lm/build_lm.sh --order {} --out {} {} {} > {}.log 2>&1",
                    DS2_SOURCE_ROOT, order, out, dir / "train.tsv", dir / "more.txt", out);
    const int rc = std::system(cmd.c_str());
    ASSERT_TRUE(WIFEXITED(rc)) << cmd;
    if (WEXITSTATUS(rc) == 3) GTEST_SKIP() << "IRSTLM not installed (apt-get install irstlm)";
    ASSERT_EQ(WEXITSTATUS(rc), 0) << cmd << "\n" << read_file(out + ".log");
    const ArpaLm lm = ArpaLm::load(out);
    EXPECT_EQ(lm.order(), order);
    for (const char* w : {"the", "cat", "sat", "on", "mat", "dog", "log", "a", "and", "ate"})
      EXPECT_NE(lm.word(lm.word_id(w)), "<unk>") << w;  // normalized: "mat." -> "mat"
    ASSERT_NE(lm.bos_id(), LanguageModel::kNoWord);
    ASSERT_NE(lm.eos_id(), LanguageModel::kNoWord);
    const std::vector<std::vector<std::string>> contexts = {
        {}, {"<s>"}, {"the"}, {"cat"}, {"the", "cat"}, {"dog", "sat"}, {"mat", "and"}};
    for (const auto& h : contexts) {
      if (static_cast<int>(h.size()) >= order) continue;
      std::vector<int32_t> ctx;
      for (const auto& w : h) ctx.push_back(lm.word_id(w));
      double sum = 0;
      for (int32_t w = 0; w < lm.vocab_size(); ++w)
        sum += std::pow(10.0, lm.log10_prob(ctx.data(), static_cast<int>(ctx.size()), w));
      EXPECT_NEAR(sum, 1.0, 1e-3) << "order " << order << " context size " << h.size();
    }
  }
}

TEST(BuildLm, CharsGivesACharacterLm) {
  test::TempDir dir("ds2-lm");
  // ANSI colours as in fortunes-zh, full-width Latin (NFKC: "ab"), CJK punctuation, spaces.
  write_file_atomic(dir / "zh.txt", "\x1b[33m你好，世界！\x1b[m\n你好 吗？\nＡＢ好\n");
  const std::vector<std::vector<std::string>> sentences = {
      {"你", "好", "世", "界"}, {"你", "好", "吗"}, {"a", "b", "好"}};
  const std::string out = dir / "zh.arpa";
  const std::string cmd =
      fmt::format("{}/share/lm/build_lm.sh --chars --order 2 --out {} {} > {}.log 2>&1",
                  DS2_SOURCE_ROOT, out, dir / "zh.txt", out);
  const int rc = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(rc)) << cmd;
  if (WEXITSTATUS(rc) == 3) GTEST_SKIP() << "IRSTLM not installed (apt-get install irstlm)";
  ASSERT_EQ(WEXITSTATUS(rc), 0) << cmd << "\n" << read_file(out + ".log");
  const ArpaLm lm = ArpaLm::load(out);
  std::set<std::string> chars, vocab;
  std::set<std::pair<std::string, std::string>> bigrams;
  for (const auto& s : sentences) {
    std::string prev = "<s>";
    for (const auto& c : s) {
      chars.insert(c);
      bigrams.insert({prev, c});
      prev = c;
    }
    bigrams.insert({prev, "</s>"});
  }
  for (int32_t w = 0; w < lm.vocab_size(); ++w) vocab.insert(lm.word(w));
  for (const char* special : {"<s>", "</s>", "<unk>"}) {
    EXPECT_EQ(vocab.erase(special), 1u) << special;
  }
  EXPECT_EQ(vocab, chars);
  EXPECT_EQ(lm.count(2), static_cast<int64_t>(bigrams.size()) + 1);
  for (const char* h : {"<s>", "好", "界"}) {
    const int32_t ctx = lm.word_id(h);
    double sum = 0;
    for (int32_t w = 0; w < lm.vocab_size(); ++w) sum += std::pow(10.0, lm.log10_prob(&ctx, 1, w));
    EXPECT_NEAR(sum, 1.0, 1e-3) << h;
  }
}

}  // namespace
}  // namespace ds2::decode
