#include "pipeline/alphabet.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "pipeline/prep.h"

namespace ds2::pipeline {
namespace {

Alphabet en() { return Alphabet::load(resolve_share_path("share/alphabets/en.txt")); }

TEST(Alphabet, EnglishFileHasBlankSpaceApostropheAndLetters) {
  Alphabet a = en();
  EXPECT_EQ(a.size(), 29);
  EXPECT_EQ(a.symbol(0), "");
  EXPECT_EQ(a.symbol(1), " ");
  EXPECT_EQ(a.symbol(2), "'");
  EXPECT_EQ(a.symbol(3), "a");
  EXPECT_EQ(a.symbol(28), "z");
  EXPECT_EQ(Alphabet::parse(a.to_string(), "x").to_string(), a.to_string());
}

TEST(Alphabet, NormalizesCasePunctuationDashesAndSpaces) {
  Alphabet a = en();
  std::string out, why;
  ASSERT_TRUE(a.normalize("  Hello,   World! It\xE2\x80\x99s well-known...  ", &out, &why)) << why;
  EXPECT_EQ(out, "hello world it's well known");
  ASSERT_TRUE(a.normalize("\"Quoted\" \xE2\x80\x9Csmart\xE2\x80\x9D\ttab", &out, &why));
  EXPECT_EQ(out, "quoted smart tab");
  auto ids = a.encode("ab z");
  EXPECT_EQ(ids, (std::vector<int32_t>{3, 4, 1, 28}));
  EXPECT_EQ(a.decode(ids.data(), ids.size()), "ab z");
}

TEST(Alphabet, RejectsDigitsForeignLettersAndBadUtf8WithTheCharacter) {
  Alphabet a = en();
  std::string out, why;
  EXPECT_FALSE(a.normalize("route 66", &out, &why));
  EXPECT_NE(why.find("'6' (U+0036)"), std::string::npos) << why;
  EXPECT_FALSE(a.normalize("na\xC3\xAFve", &out, &why));  // i with diaeresis
  EXPECT_NE(why.find("U+00EF"), std::string::npos) << why;
  EXPECT_FALSE(a.normalize("bad \xFF byte", &out, &why));
  EXPECT_NE(why.find("UTF-8"), std::string::npos) << why;
  EXPECT_FALSE(a.normalize("over\xC0\xAFlong", &out, &why));  // overlong '/'
}

TEST(Alphabet, BadFilesNameTheLine) {
  EXPECT_THROW(Alphabet::parse("a\nb\n", "f.txt"), FormatError);
  try {
    Alphabet::parse("<blank>\na\nbc\n", "f.txt");
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("f.txt:3"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Alphabet::parse("<blank>\na\na\n", "f.txt"), FormatError);
}

}  // namespace
}  // namespace ds2::pipeline
