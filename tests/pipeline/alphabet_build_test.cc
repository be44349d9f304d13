// `ds2 alphabet`: character counts of a manifest and the alphabet built from them. Oracle: the
// normalized transcripts written by hand (NFKC_Casefold + default rules, alphabet.h) and their
// characters counted by brute force (std::string::find over the concatenated text).
#include "pipeline/alphabet_build.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>

#include "core/fs.h"
#include "pipeline/prep.h"
#include "tests/testutil.h"

namespace ds2::pipeline {
namespace {

// Occurrences of `ch` (UTF-8) in `text`, by brute force.
int64_t occurrences(const std::string& text, const std::string& ch) {
  int64_t n = 0;
  for (size_t at = text.find(ch); at != std::string::npos; at = text.find(ch, at + ch.size())) ++n;
  return n;
}

// A Mandarin manifest: full-width and CJK punctuation, a full-width Latin word, one malformed
// row (two fields) and one transcript that is not UTF-8.
const char* kZhManifest =
    "a.wav\t1\t\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C\xE3\x80\x82\n"  // 你好，世界。
    "b.wav\t1\t\xE4\xBD\xA0\xE5\xA5\xBD \xEF\xBC\xA1\xEF\xBC\xA2\xEF\xBC\x81\n"  // 你好 ＡＢ！
    "c.wav\t1\t\xE4\xB8\x96\xE7\x95\x8C\xE3\x80\x81\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x9F\n"  // 世界、你好？
    "d.wav\tonly two fields\n"
    "e.wav\t1\t\xE5\xA5\xBD\xE5\xA5\xBD\xE5\xA5\xBD\n"  // 好好好
    "f.wav\t1\tbad \xFF byte\n"
    "g.wav\t1\t\xCE\xA9\n";  // Ω
// The same rows normalized by hand (rows d and f unreadable).
const std::vector<std::string> kZhNormalized = {"\xE4\xBD\xA0\xE5\xA5\xBD\xE4\xB8\x96\xE7\x95\x8C",
                                                "\xE4\xBD\xA0\xE5\xA5\xBD ab",
                                                "\xE4\xB8\x96\xE7\x95\x8C\xE4\xBD\xA0\xE5\xA5\xBD",
                                                "\xE5\xA5\xBD\xE5\xA5\xBD\xE5\xA5\xBD", "\xCF\x89"};

TEST(AlphabetBuild, CountsMatchABruteForceCount) {
  test::TempDir d;
  write_file_atomic(d / "m.tsv", kZhManifest);
  const Manifest m = read_manifest(d / "m.tsv");
  const CharacterCounts c = count_characters(m, Alphabet::parse("<blank>\n<space>\n", "t"));
  EXPECT_EQ(c.rows, 7);
  EXPECT_EQ(c.counted, 5);
  ASSERT_EQ(c.rejects.size(), 2u);
  EXPECT_EQ(c.rejects[0].line, 4);
  EXPECT_EQ(c.rejects[1].line, 6);
  EXPECT_NE(c.rejects[1].reason.find("m.tsv:6: transcript: not valid UTF-8 at byte 4"),
            std::string::npos)
      << c.rejects[1].reason;
  std::string all;
  for (const auto& t : kZhNormalized) all += t + "\n";
  EXPECT_EQ(c.spaces, occurrences(all, " "));
  std::map<std::string, int64_t> want;  // every character of the hand-normalized text
  for (const char* ch :
       {"\xE4\xBD\xA0", "\xE5\xA5\xBD", "\xE4\xB8\x96", "\xE7\x95\x8C", "a", "b", "\xCF\x89"})
    want[ch] = occurrences(all, ch);
  ASSERT_EQ(c.chars.size(), want.size());
  int64_t prev = INT64_MAX;
  for (const CharCount& k : c.chars) {
    std::string ch;
    append_utf8(k.cp, &ch);
    ASSERT_TRUE(want.count(ch)) << ch;
    EXPECT_EQ(k.count, want[ch]) << ch;
    int64_t rows = 0;
    for (const auto& t : kZhNormalized) rows += occurrences(t, ch) > 0;
    EXPECT_EQ(k.rows, rows) << ch;
    EXPECT_LE(k.count, prev);  // most frequent first
    prev = k.count;
  }
  EXPECT_EQ(c.chars[0].cp, 0x597Du);  // 好: 6 times
  EXPECT_EQ(c.chars[0].first, d / "m.tsv:1");
}

std::string run(const std::string& args, const std::string& log) {
  const int rc =
      std::system(fmt::format("{} alphabet {} > {} 2>&1", test::ds2_binary(), args, log).c_str());
  return fmt::format("rc={} ", rc == 0 ? 0 : 1) + read_file(log);
}

TEST(AlphabetBuild, CommandWritesFrequencyOrderedAlphabetAndRareList) {
  test::TempDir d;
  write_file_atomic(d / "m.tsv", kZhManifest);
  const std::string out = d / "zh.txt";
  const std::string log =
      run(fmt::format("--manifest {} --min-count 2 --out {}", d / "m.tsv", out), d / "log");
  EXPECT_EQ(log.rfind("rc=0 ", 0), 0u) << log;
  EXPECT_NE(log.find(fmt::format("done: 4 characters from 5 rows (3 below --min-count, listed in "
                                 "{}.rare.tsv); 2 of 7 rows unreadable",
                                 out)),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("m.tsv:4"), std::string::npos) << log;  // the malformed row, warned
  EXPECT_NE(log.find("m.tsv:6: transcript: not valid UTF-8"), std::string::npos) << log;
  // 好 6, 你 3, then 世 and 界 (2 each, by code point: U+4E16 < U+754C); one space < 2: none.
  EXPECT_EQ(read_file(out), "<blank>\n\xE5\xA5\xBD\n\xE4\xBD\xA0\n\xE4\xB8\x96\n\xE7\x95\x8C\n");
  EXPECT_EQ(read_file(out + ".rare.tsv"),
            "code_point\tcharacter\tcount\trows\tfirst_row\twhy\n" +
                fmt::format("U+0061\ta\t1\t1\t{0}:2\tbelow --min-count 2\n"
                            "U+0062\tb\t1\t1\t{0}:2\tbelow --min-count 2\n"
                            "U+03C9\t\xCF\x89\t1\t1\t{0}:7\tbelow --min-count 2\n",
                            d / "m.tsv"));
  // What prep does with it: the first row is accepted as 你好世界, the Latin one rejected.
  const Alphabet zh = Alphabet::load(out);
  std::string text, why;
  ASSERT_TRUE(
      zh.normalize("\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C", &text, &why));
  EXPECT_EQ(text, kZhNormalized[0]);
  EXPECT_FALSE(zh.normalize("\xEF\xBC\xA1", &text, &why));
}

TEST(AlphabetBuild, EnglishRulesKeepTheApostropheAndSpace) {
  test::TempDir d;
  write_file_atomic(d / "m.tsv",
                    "a.wav\t1\tIt's OK.\nb.wav\t1\tO, it's \xE2\x80\x9Cok\xE2\x80\x9D\n");
  const std::string out = d / "en.txt";
  const std::string en = resolve_share_path("share/alphabets/en.txt");
  const std::string log =
      run(fmt::format("--manifest {} --rules {} --out {}", d / "m.tsv", en, out), d / "log");
  EXPECT_EQ(log.rfind("rc=0 ", 0), 0u) << log;
  // "it's ok" + "o it's ok": o 3, i 2, t 2, s 2, ' 2, k 2; spaces 3.
  EXPECT_EQ(read_file(out), "<blank>\n<space>\no\n'\ni\nk\ns\nt\n");
  EXPECT_EQ(read_file(out + ".rare.tsv"), "code_point\tcharacter\tcount\trows\tfirst_row\twhy\n");
}

TEST(AlphabetBuild, CommandRefusesOneLine) {
  test::TempDir d;
  write_file_atomic(d / "bad.tsv", "x.wav\tonly two\n");
  std::string log = run(fmt::format("--manifest {} --out {}", d / "bad.tsv", d / "a.txt"), d / "l");
  EXPECT_EQ(log.rfind("rc=1 ", 0), 0u) << log;
  EXPECT_NE(log.find("no readable transcript in 1 rows"), std::string::npos) << log;
  EXPECT_FALSE(file_exists(d / "a.txt"));
  log = run(fmt::format("--manifest {} --out {}", d / "missing.tsv", d / "a.txt"), d / "l");
  EXPECT_EQ(log.rfind("rc=1 ", 0), 0u) << log;
  EXPECT_NE(log.find("missing.tsv"), std::string::npos) << log;
  log =
      run(fmt::format("--manifest {} --min-count 0 --out {}", d / "bad.tsv", d / "a.txt"), d / "l");
  EXPECT_NE(log.find("min-count"), std::string::npos) << log;
  log = run("--help", d / "l");
  EXPECT_NE(log.find("ds2 alphabet --manifest FILE --out ALPHABET.txt"), std::string::npos) << log;
}

}  // namespace
}  // namespace ds2::pipeline
