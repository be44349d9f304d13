// ArpaLm: hand-computed scores on tests/data/tiny.arpa (values written by hand, see
// tests/data/README.md) including multi-level back-off, and the format errors naming the line.
#include "decode/arpa_lm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "core/error.h"
#include "tests/testutil.h"

namespace ds2::decode {
namespace {

double p10(const ArpaLm& lm, std::vector<std::string> w) { return lm.log10_prob(w); }

TEST(ArpaLm, LoadsCountsAndVocabulary) {
  const ArpaLm lm = ArpaLm::load(test::data_path("tiny.arpa"));
  EXPECT_EQ(lm.order(), 3);
  EXPECT_EQ(lm.count(1), 7);
  EXPECT_EQ(lm.count(2), 6);
  EXPECT_EQ(lm.count(3), 2);
  EXPECT_EQ(lm.word(lm.bos_id()), "<s>");
  EXPECT_EQ(lm.word(lm.eos_id()), "</s>");
  EXPECT_EQ(lm.word_id("dog"), lm.word_id("<unk>"));  // OOV -> <unk>
}

TEST(ArpaLm, HandComputedScoresWithBackoff) {
  const ArpaLm lm = ArpaLm::load(test::data_path("tiny.arpa"));
  // Listed n-grams.
  EXPECT_NEAR(p10(lm, {"the"}), -0.5, 1e-6);
  EXPECT_NEAR(p10(lm, {"<s>", "the"}), -0.2, 1e-6);
  EXPECT_NEAR(p10(lm, {"<s>", "the", "cat"}), -0.05, 1e-6);
  EXPECT_NEAR(p10(lm, {"the", "cat", "sat"}), -0.1, 1e-6);
  // (a cat sat) unlisted; (a cat) listed without a back-off column -> bow 0; (cat sat) = -0.6.
  EXPECT_NEAR(p10(lm, {"a", "cat", "sat"}), -0.6, 1e-6);
  // (the cat a): bow(the cat) -0.25 + (cat a) unlisted: bow(cat) -0.2 + P(a) -2.0.
  EXPECT_NEAR(p10(lm, {"the", "cat", "a"}), -0.25 - 0.2 - 2.0, 1e-6);
  // (cat sat </s>): bow(cat sat) = 0 (no column) + (sat </s>) -0.4.
  EXPECT_NEAR(p10(lm, {"cat", "sat", "</s>"}), -0.4, 1e-6);
  // (sat the): bow(sat) -0.1 + P(the) -0.5.
  EXPECT_NEAR(p10(lm, {"sat", "the"}), -0.6, 1e-6);
  // OOV word -> <unk>: bow(the) -0.3 + P(<unk>) -1.0.
  EXPECT_NEAR(p10(lm, {"the", "dog"}), -1.3, 1e-6);
  // Unlisted context (<unk> cat): bow(<unk>) = 0 -> P(cat) -1.0.
  EXPECT_NEAR(p10(lm, {"zebra", "cat"}), -1.0, 1e-6);
  // (<s> the a): bow(<s> the) -0.1 + (the a) unlisted: bow(the) -0.3 + P(a) -2.0.
  EXPECT_NEAR(p10(lm, {"<s>", "the", "a"}), -0.1 - 0.3 - 2.0, 1e-6);
  // Context longer than order-1 is cut to the last two words.
  EXPECT_NEAR(p10(lm, {"a", "a", "the", "cat", "sat"}), -0.1, 1e-6);
  // Natural log = ln(10) * log10.
  const int32_t ctx[2] = {lm.word_id("<s>"), lm.word_id("the")};
  EXPECT_NEAR(lm.log_prob(ctx, 2, lm.word_id("cat")), -0.05 * std::log(10.0), 1e-6);
}

TEST(ArpaLm, AcceptsIrstlmPaddingAndSpaces) {
  std::istringstream in(
      "some preamble\n\\data\\\nngram  1=        3\nngram 2=1\n\n\\1-grams:\n-0.5 a -0.1\n"
      "-0.6 b\n-0.7 </s>\n\\2-grams:\n-0.2 a b\n\\end\\\n");
  const ArpaLm lm = ArpaLm::parse(in, "x.arpa");
  EXPECT_EQ(lm.order(), 2);
  EXPECT_EQ(lm.word_id("zzz"), LanguageModel::kNoWord);  // no <unk> in this model
  EXPECT_NEAR(lm.log10_prob({"a", "b"}), -0.2, 1e-6);
  EXPECT_NEAR(lm.log10_prob({"a", "</s>"}), -0.1 - 0.7, 1e-6);
  EXPECT_NEAR(lm.log10_prob({"a", "zzz"}), ArpaLm::kUnknownLog10, 1e-6);
}

// The message of the FormatError that parsing `text` throws ("" when none).
std::string parse_error(const std::string& text) {
  std::istringstream in(text);
  try {
    ArpaLm::parse(in, "bad.arpa");
  } catch (const FormatError& e) {
    return e.what();
  }
  return "";
}

TEST(ArpaLm, MalformedFilesNameTheirLine) {
  // Lines: 1 \data\, 2-3 counts, 4 empty, 5 \1-grams:, 6-7 unigrams, 8 \2-grams:, 9 bigram,
  // 10 \end\.
  auto arpa = [](const std::string& count1, const std::string& uni1, const std::string& bi,
                 bool end = true) {
    return "\\data\\\nngram 1=" + count1 + "\nngram 2=1\n\n\\1-grams:\n" + uni1 +
           "\n-0.6 b\n\\2-grams:\n" + bi + "\n" + (end ? "\\end\\\n" : "");
  };
  EXPECT_EQ(parse_error(arpa("2", "-0.5 a", "-0.2 a b")), "");
  std::string e = parse_error(arpa("2", "-0.5 a", "-0.2 a b c d"));
  EXPECT_NE(e.find("bad.arpa:9:"), std::string::npos) << e;
  EXPECT_NE(e.find("fields"), std::string::npos) << e;
  e = parse_error(arpa("2", "x a", "-0.2 a b"));
  EXPECT_NE(e.find("bad.arpa:6:"), std::string::npos) << e;
  EXPECT_NE(e.find("probability"), std::string::npos) << e;
  e = parse_error(arpa("2", "-0.5 a -0.1x", "-0.2 a b"));
  EXPECT_NE(e.find("bad.arpa:6:"), std::string::npos) << e;
  EXPECT_NE(e.find("back-off"), std::string::npos) << e;
  e = parse_error(arpa("3", "-0.5 a", "-0.2 a b"));  // header says 3 unigrams, file has 2
  EXPECT_NE(e.find("bad.arpa:8:"), std::string::npos) << e;
  EXPECT_NE(e.find("says 3"), std::string::npos) << e;
  e = parse_error(arpa("abc", "-0.5 a", "-0.2 a b"));
  EXPECT_NE(e.find("bad.arpa:2:"), std::string::npos) << e;
  EXPECT_NE(e.find("bad count"), std::string::npos) << e;
  e = parse_error(arpa("2", "-0.5 a", "-0.2 a zz"));
  EXPECT_NE(e.find("bad.arpa:9:"), std::string::npos) << e;
  EXPECT_NE(e.find("'zz'"), std::string::npos) << e;
  e = parse_error(arpa("2", "-0.5 a", "-0.2 a b", false));
  EXPECT_NE(e.find("missing \\end\\"), std::string::npos) << e;
  e = parse_error("no data section\n");
  EXPECT_NE(e.find("\\data\\"), std::string::npos) << e;
  EXPECT_THROW(ArpaLm::load("/nonexistent/x.arpa"), IoError);
}

}  // namespace
}  // namespace ds2::decode
