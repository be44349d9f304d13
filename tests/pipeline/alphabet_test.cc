// Alphabet file format and transcript normalization. Oracles: the pre-ICU hand-written rules
// (kept below as the reference for English: every text they accepted gives the same output) and
// expected outputs written by hand from Unicode's tables (UnicodeData.txt decompositions for
// NFKC, CaseFolding.txt status C+F, general categories for @space/@drop).
#include "pipeline/alphabet.h"

#include <gtest/gtest.h>

#include <cctype>
#include <random>

#include "core/error.h"
#include "core/fs.h"
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

// --- English: unchanged from the pre-ICU rules -------------------------------------------------

// The hand-written tables that ICU replaced, verbatim: the reference for "English unchanged".
namespace old {
uint32_t lower(uint32_t cp) {
  if (cp >= 'A' && cp <= 'Z') return cp + 32;
  if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) return cp + 32;
  if (cp >= 0x100 && cp <= 0x17F && cp % 2 == 0 && cp != 0x130) return cp + 1;
  return cp;
}
bool is_space_like(uint32_t cp) {
  return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == 0xA0 || cp == '-' ||
         cp == '_' || cp == '/' || (cp >= 0x2010 && cp <= 0x2015);
}
bool is_apostrophe(uint32_t cp) {
  return cp == 0x2018 || cp == 0x2019 || cp == 0x02BC || cp == '`';
}
bool is_droppable_punct(uint32_t cp) {
  if (cp < 0x80) return cp > ' ' && cp < 0x7F && !std::isalnum(static_cast<int>(cp));
  return cp == 0x201C || cp == 0x201D || cp == 0x201E || cp == 0x2026 || cp == 0xAB || cp == 0xBB ||
         cp == 0xBF || cp == 0xA1;
}
// Returns false where the old code rejected the text.
bool normalize(const std::string& text, std::string* out) {
  out->clear();
  bool pending_space = false;
  size_t i = 0;
  while (i < text.size()) {
    uint32_t cp = 0;
    if (!next_code_point(text, &i, &cp)) return false;
    cp = lower(cp);
    if (is_apostrophe(cp)) cp = '\'';
    if ((cp == '\'' || (cp >= 'a' && cp <= 'z'))) {  // en.txt's symbols other than <space>
      if (pending_space && !out->empty()) out->push_back(' ');
      pending_space = false;
      append_utf8(cp, out);
      continue;
    }
    if (is_space_like(cp)) {
      pending_space = true;
      continue;
    }
    if (is_droppable_punct(cp)) continue;
    return false;
  }
  return true;
}
}  // namespace old

std::string utf8(uint32_t cp) {
  std::string s;
  append_utf8(cp, &s);
  return s;
}

TEST(Alphabet, EnglishFileIsStoredByteForByte) {
  // No rule lines: en.txt's rules are the defaults, so shards, indexes and checkpoints keep the
  // alphabet text they had before ICU.
  EXPECT_EQ(en().to_string(), read_file(resolve_share_path("share/alphabets/en.txt")));
  EXPECT_EQ(en().rules_text(), "");
}

// Every code point, alone and between letters: what the old rules accepted, the new ones accept
// with the same output.
TEST(Alphabet, EnglishAgreesWithThePreIcuRulesOnEveryCodePoint) {
  Alphabet a = en();
  std::string want, got, why;
  int64_t checked = 0, newly_accepted = 0;
  for (uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    for (const std::string& text :
         {utf8(cp), "Ab" + utf8(cp) + "c", " x" + utf8(cp) + utf8(cp) + "Y "}) {
      const bool was = old::normalize(text, &want);
      const bool is = a.normalize(text, &got, &why);
      if (was) {
        ASSERT_TRUE(is) << "U+" << std::hex << cp << ": " << why;
        ASSERT_EQ(got, want) << "U+" << std::hex << cp;
        ++checked;
      } else if (is) {
        ++newly_accepted;
      }
    }
  }
  EXPECT_GT(checked, 3 * 90);          // ASCII, the dashes, quotes, apostrophes, NBSP, ...
  EXPECT_GT(newly_accepted, 3 * 500);  // Unicode punctuation, full-width forms, ...
}

// Random strings over the characters the old rules knew plus their neighbours (combining marks,
// Latin-1 letters, digits): the same output wherever the old rules accepted.
TEST(Alphabet, EnglishAgreesWithThePreIcuRulesOnRandomText) {
  Alphabet a = en();
  const std::vector<uint32_t> pool = {
      'a',  'Z',    'q',    ' ',    ' ',    '\t',   '\n',   '\r',   '-',    '_',    '/',    '\'',
      '`',  '.',    ',',    '!',    '?',    '"',    '$',    '+',    '^',    '~',    '|',    '<',
      0xA0, 0x2010, 0x2013, 0x2014, 0x2015, 0x2018, 0x2019, 0x02BC, 0x201C, 0x201D, 0x201E, 0x2026,
      0xAB, 0xBB,   0xBF,   0xA1,   0x301,  0x308,  0xE9,   0xC9,   0x31,   0x10D};
  std::mt19937 rng(19);
  std::string want, got, why;
  int accepted = 0;
  for (int t = 0; t < 20000; ++t) {
    std::string text;
    const int n = 1 + static_cast<int>(rng() % 12);
    for (int k = 0; k < n; ++k) text += utf8(pool[rng() % pool.size()]);
    if (!old::normalize(text, &want)) continue;
    ++accepted;
    ASSERT_TRUE(a.normalize(text, &got, &why)) << text << ": " << why;
    ASSERT_EQ(got, want) << text;
  }
  EXPECT_GT(accepted, 1000);
}

// --- Unicode cases, expected outputs by hand from the Unicode tables ----------------------------

std::string norm(const Alphabet& a, const std::string& text) {
  std::string out, why;
  if (!a.normalize(text, &out, &why)) return "REJECT " + why;
  return out;
}

TEST(Alphabet, EnglishGainsFullWidthLatinLigaturesAndFoldings) {
  Alphabet a = en();
  // U+FF28.. full-width capitals (NFKC <wide> -> ASCII), U+3000 (<wide> U+0020), U+FF01 '!'.
  EXPECT_EQ(norm(a,
                 "\xEF\xBC\xA8\xEF\xBC\xA5\xEF\xBC\xAC\xEF\xBC\xAC\xEF\xBC\xAF\xE3\x80\x80"
                 "\xEF\xBD\x97\xEF\xBD\x8F\xEF\xBD\x92\xEF\xBD\x8C\xEF\xBD\x84\xEF\xBC\x81"),
            "hello world");
  EXPECT_EQ(norm(a, "it\xEF\xBC\x87s"), "it's");  // U+FF07 -> '
  EXPECT_EQ(norm(a, "\xEF\xAC\x81ne"), "fine");   // U+FB01 fi ligature
  EXPECT_EQ(norm(a,
                 "Stra\xC3\x9F"
                 "e"),
            "strasse");                                       // U+00DF folds to "ss"
  EXPECT_EQ(norm(a, "\xE2\x84\xAAing"), "king");              // U+212A KELVIN SIGN -> k
  EXPECT_EQ(norm(a, "co\xC2\xADoperate"), "cooperate");       // U+00AD soft hyphen: ignorable
  EXPECT_EQ(norm(a, "well\xE2\x80\x91known"), "well known");  // U+2011 -> U+2010 (Pd)
  EXPECT_EQ(norm(a,
                 "a\xE2\xB8\xBA"
                 "b"),
            "a b");  // U+2E3A two-em dash (Pd)
  EXPECT_EQ(norm(a,
                 "snake\xEF\xB9\x8D"
                 "case"),
            "snake case");  // U+FE4D dashed low line (Pc)
  EXPECT_EQ(norm(a,
                 "\xE2\x80\xB9"
                 "a\xE2\x80\xBA \xC2\xA7"
                 "b"),
            "a b");  // U+2039/203A, U+00A7 (P*)
  // Still rejected: digits (also after NFKC: U+00B2 -> '2'), symbols (So, Sc beyond ASCII),
  // letters outside a-z (U+0130 folds to i + U+0307 COMBINING DOT ABOVE).
  EXPECT_EQ(norm(a, "x\xC2\xB2"), "REJECT character '2' (U+0032) not in alphabet");
  EXPECT_EQ(norm(a, "i \xE2\x9D\xA4 ny"),
            "REJECT character '\xE2\x9D\xA4' (U+2764) not in alphabet");
  EXPECT_EQ(norm(a, "5\xE2\x82\xAC"), "REJECT character '5' (U+0035) not in alphabet");
  EXPECT_EQ(norm(a, "\xE2\x82\xAC"), "REJECT character '\xE2\x82\xAC' (U+20AC) not in alphabet");
  EXPECT_EQ(norm(a, "\xC4\xB0stanbul"), "REJECT character '\xCC\x87' (U+0307) not in alphabet");
}

TEST(Alphabet, EnglishDropsCjkPunctuation) {
  Alphabet a = en();
  // U+3002 IDEOGRAPHIC FULL STOP and U+3001 IDEOGRAPHIC COMMA (Po), U+300C/U+300D corner
  // brackets (Ps/Pe), U+FF0C/U+FF1F full-width comma/question mark (NFKC -> ',' '?').
  EXPECT_EQ(norm(a,
                 "\xE3\x80\x8Cyes\xE3\x80\x8D\xEF\xBC\x8C no\xE3\x80\x81 ok\xEF\xBC\x9F "
                 "done\xE3\x80\x82"),
            "yes no ok done");
}

TEST(Alphabet, GreekCyrillicAndLatinExtendedFold) {
  // Greek: CaseFolding.txt 03A3 C 03C3 and 03C2 C 03C3 (final sigma folds to sigma).
  Alphabet el =
      Alphabet::parse("<blank>\n<space>\n\xCE\xBF\n\xCE\xB4\n\xCF\x85\n\xCF\x83\n\xCE\xB5\n", "el");
  EXPECT_EQ(norm(el, "\xCE\x9F\xCE\x94\xCE\xA5\xCE\xA3\xCE\xA3\xCE\x95\xCE\xA5\xCE\xA3"),
            "\xCE\xBF\xCE\xB4\xCF\x85\xCF\x83\xCF\x83\xCE\xB5\xCF\x85\xCF\x83");
  EXPECT_EQ(norm(el, "\xCE\xBF\xCE\xB4\xCF\x85\xCF\x83\xCF\x83\xCE\xB5\xCF\x85\xCF\x82"),
            "\xCE\xBF\xCE\xB4\xCF\x85\xCF\x83\xCF\x83\xCE\xB5\xCF\x85\xCF\x83");
  // Cyrillic: "ПРИВЕТ, МИР!" -> "привет мир"; U+0415 U+0308 composes (NFKC) to U+0401, which
  // folds to U+0451.
  Alphabet ru = Alphabet::parse(
      "<blank>\n<space>\n\xD0\xBF\n\xD1\x80\n\xD0\xB8\n\xD0\xB2\n\xD0\xB5\n\xD1\x82\n\xD0\xBC\n"
      "\xD1\x91\n",
      "ru");
  EXPECT_EQ(norm(ru, "\xD0\x9F\xD0\xA0\xD0\x98\xD0\x92\xD0\x95\xD0\xA2, \xD0\x9C\xD0\x98\xD0\xA0!"),
            "\xD0\xBF\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 \xD0\xBC\xD0\xB8\xD1\x80");
  EXPECT_EQ(norm(ru, "\xD0\x95\xCC\x88"), "\xD1\x91");
  // Latin Extended-A pairs the old table got wrong (odd capitals U+0139, U+017D; U+0178 -> U+00FF)
  // and Latin-1: U+00C9 -> U+00E9; 'e' U+0301 composes to U+00E9.
  Alphabet lx = Alphabet::parse("<blank>\n\xC4\xBA\n\xC3\xBF\n\xC5\xBE\n\xC3\xA9\n", "lx");
  EXPECT_EQ(norm(lx,
                 "\xC4\xB9\xC5\xB8\xC5\xBD\xC3\x89"
                 "e\xCC\x81"),
            "\xC4\xBA\xC3\xBF\xC5\xBE\xC3\xA9\xC3\xA9");
}

TEST(Alphabet, MandarinWithoutSpaceDropsPunctuationAndSpaces) {
  Alphabet zh =
      Alphabet::parse("<blank>\n\xE4\xBD\xA0\n\xE5\xA5\xBD\n\xE4\xB8\x96\n\xE7\x95\x8C\n", "zh");
  const std::string nihao = "\xE4\xBD\xA0\xE5\xA5\xBD", shijie = "\xE4\xB8\x96\xE7\x95\x8C";
  EXPECT_EQ(norm(zh, nihao + "\xEF\xBC\x8C" + shijie + "\xE3\x80\x82"), nihao + shijie);
  EXPECT_EQ(
      norm(zh, "\xE3\x80\x8C" + nihao + "\xE3\x80\x8D\xE3\x80\x81 " + shijie + "\xEF\xBC\x9F"),
      nihao + shijie);
  EXPECT_EQ(norm(zh, nihao + "\xE3\x80\x80" + shijie + "\xEF\xBC\x81"), nihao + shijie);
  EXPECT_EQ(norm(zh, nihao + "\xEF\xBC\xA1"), "REJECT character 'a' (U+0061) not in alphabet");
}

TEST(Alphabet, RulesComeFromTheFileAndRoundTrip) {
  const std::string nihao = "\xE4\xBD\xA0\xE5\xA5\xBD";
  const std::string text =
      "# a comment line\n<blank>\n<space>\n\xE4\xBD\xA0\n\xE5\xA5\xBD\n#\n"
      "@space [[:White_Space:]\\u3001]\n@drop [[:P:]-[.]]\n@map [\\u00B7] #\n";
  Alphabet a = Alphabet::parse(text, "rules.txt");
  EXPECT_EQ(a.size(), 5);  // blank, space, two characters, '#'
  EXPECT_EQ(norm(a, "\xE4\xBD\xA0\xE3\x80\x81\xE5\xA5\xBD"),
            "\xE4\xBD\xA0 \xE5\xA5\xBD");                  // U+3001 -> space
  EXPECT_EQ(norm(a, "\xE4\xBD\xA0-\xE5\xA5\xBD"), nihao);  // '-' (Pd): no longer a space, dropped
  EXPECT_EQ(norm(a, "\xE4\xBD\xA0\xC2\xB7"), "\xE4\xBD\xA0#");  // U+00B7 mapped to '#', a symbol
  EXPECT_EQ(norm(a, "\xE4\xBD\xA0."), "REJECT character '.' (U+002E) not in alphabet");
  EXPECT_EQ(norm(a, "\xE4\xBD\xA0\xE2\x80\x99"),  // default @map replaced: U+2019 is P, dropped
            "\xE4\xBD\xA0");
  EXPECT_EQ(a.to_string(),
            "<blank>\n<space>\n\xE4\xBD\xA0\n\xE5\xA5\xBD\n#\n"
            "@space [[:White_Space:]\\u3001]\n@drop [[:P:]-[.]]\n@map [\\u00B7] #\n");
  EXPECT_EQ(Alphabet::parse(a.to_string(), "again").to_string(), a.to_string());
  // Rules equal to the defaults are not stored (they change nothing).
  Alphabet d = Alphabet::parse("<blank>\na\n@drop [[:P:]\\$+<=>\\^|~]\n", "d");
  EXPECT_EQ(d.to_string(), "<blank>\na\n");
}

TEST(Alphabet, BadRulesNameTheLine) {
  auto message = [](const std::string& text) {
    try {
      Alphabet::parse(text, "r.txt");
    } catch (const FormatError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(message("<blank>\na\n@space [a\n").find("r.txt:3: @space: '[a' is not a UnicodeSet"),
            std::string::npos)
      << message("<blank>\na\n@space [a\n");
  EXPECT_NE(message("<blank>\na\n@drop [a] b\n").find("r.txt:3"), std::string::npos);
  EXPECT_NE(message("<blank>\n@keep [a]\na\n").find("r.txt:2: unknown rule '@keep'"),
            std::string::npos);
  EXPECT_NE(message("<blank>\na\n@map [b]\n").find("r.txt:3: @map needs"), std::string::npos);
  EXPECT_NE(message("<blank>\na\n@map [b] cd\n").find("r.txt:3: @map target 'cd'"),
            std::string::npos);
  EXPECT_NE(message("<blank>\na\n@space []\n@space []\n").find("r.txt:4: @space given twice"),
            std::string::npos);
  EXPECT_NE(message("@space []\n").find("alphabet has no symbols"), std::string::npos);
}

}  // namespace
}  // namespace ds2::pipeline
