// pipeline/manifest.h and utt_id.h: each input format's rows, rejects named by file and line,
// and the id rules, against expected values written by hand.
#include "pipeline/manifest.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "pipeline/utt_id.h"
#include "tests/testutil.h"

namespace ds2::pipeline {
namespace {

bool has_reason(const Manifest& m, int64_t line, const std::string& part) {
  for (const auto& r : m.rejects)
    if (r.line == line && r.reason.find(part) != std::string::npos) return true;
  return false;
}

TEST(Manifest, TsvRowsMalformedLinesNamedByFileAndLine) {
  test::TempDir d;
  std::string p = d / "m.tsv";
  write_file_atomic(p,
                    "a/x.wav\t1.5\thello\n"
                    "\n"
                    "b.wav\t\tworld\n"
                    "c.wav\tabc\tbad duration\n"
                    "d.wav\tonly two\n"
                    "a/x.wav\t2\tduplicate\n"
                    "/abs/e.flac\t3\tabsolute\r\n");
  Manifest m = read_manifest(p);
  EXPECT_EQ(m.format, "tsv");
  EXPECT_EQ(m.rows, 6);
  ASSERT_EQ(m.entries.size(), 3u);
  EXPECT_EQ(m.entries[0].path, d / "a/x.wav");
  EXPECT_EQ(m.entries[0].utt_id, "x");  // stems x, b, e are unique: ids are stems
  EXPECT_DOUBLE_EQ(m.entries[0].duration, 1.5);
  EXPECT_EQ(m.entries[1].duration, -1);  // empty: measured later
  EXPECT_EQ(m.entries[1].line, 3);
  EXPECT_EQ(m.entries[2].path, "/abs/e.flac");
  EXPECT_EQ(m.entries[2].transcript, "absolute");
  EXPECT_EQ(m.rejects.size(), 3u);
  EXPECT_TRUE(has_reason(m, 4, p + ":4: field 'duration'"));
  EXPECT_TRUE(has_reason(m, 5, "expected 3 tab-separated fields"));
  EXPECT_TRUE(has_reason(m, 6, p + ":6: duplicate utterance id 'x': the same audio as line 1"));
  EXPECT_EQ(static_cast<int64_t>(m.entries.size() + m.rejects.size()), m.rows);
}

TEST(Manifest, JsonLinesNemoStyle) {
  test::TempDir d;
  std::string p = d / "m.jsonl";
  write_file_atomic(p,
                    "{\"audio_filepath\": \"x.wav\", \"duration\": 2.0, \"text\": \"hi\"}\n"
                    "{\"audio_filepath\": \"y.wav\", \"text\": \"no duration\"}\n"
                    "{\"audio_filepath\": \"z.wav\", \"duration\": 1}\n"
                    "{not json\n"
                    "{\"audio_filepath\": \"w.wav\", \"duration\": \"long\", \"text\": \"t\"}\n");
  Manifest m = read_manifest(p);
  EXPECT_EQ(m.rows, 5);
  ASSERT_EQ(m.entries.size(), 2u);
  EXPECT_DOUBLE_EQ(m.entries[0].duration, 2.0);
  EXPECT_EQ(m.entries[1].duration, -1);
  EXPECT_TRUE(has_reason(m, 3, "field 'text'"));
  EXPECT_TRUE(has_reason(m, 4, "malformed JSON"));
  EXPECT_TRUE(has_reason(m, 5, "field 'duration'"));
}

TEST(Manifest, CsvDeepSpeechWithQuotes) {
  test::TempDir d;
  std::string p = d / "m.csv";
  write_file_atomic(p,
                    "wav_filename,wav_filesize,transcript\n"
                    "clips/a.wav,1234,plain text\n"
                    "clips/b.wav,99,\"with, comma and \"\"quotes\"\"\"\n"
                    "clips/c.wav,1\n"
                    "clips/d.wav,1,\"unterminated\n");
  Manifest m = read_manifest(p);
  EXPECT_EQ(m.rows, 4);
  ASSERT_EQ(m.entries.size(), 2u);
  EXPECT_EQ(m.entries[1].transcript, "with, comma and \"quotes\"");
  EXPECT_EQ(m.entries[1].utt_id, "b");
  EXPECT_TRUE(has_reason(m, 4, "expected 3 comma-separated fields"));
  EXPECT_TRUE(has_reason(m, 5, "unterminated quote"));
}

TEST(Manifest, CsvRecordsSpanLinesAndStrayQuotesAreRejected) {
  // Expected fields written out from RFC 4180's grammar: a quoted field may hold a line break
  // (the record is numbered by its first line); a quote inside an unquoted field, or text after
  // a closing quote, is malformed.
  test::TempDir d;
  std::string p = d / "m.csv";
  write_file_atomic(p,
                    "wav_filename,wav_filesize,transcript\r\n"
                    "a.wav,1,\"two\r\nlines\"\r\n"
                    "b.wav,1,he said \"hi\"\r\n"
                    "c.wav,1,\"closed\" then text\r\n"
                    "d.wav,,\r\n");
  Manifest m = read_manifest(p);
  EXPECT_EQ(m.rows, 4);
  ASSERT_EQ(m.entries.size(), 2u);
  EXPECT_EQ(m.entries[0].transcript, "two\nlines");
  EXPECT_EQ(m.entries[0].line, 2);
  EXPECT_EQ(m.entries[1].transcript, "");
  EXPECT_EQ(m.entries[1].line, 6);
  EXPECT_TRUE(has_reason(m, 4, p + ":4: field 3: a quote inside an unquoted field"));
  EXPECT_TRUE(has_reason(m, 5, p + ":5: field 3: text after its closing quote"));
}

TEST(Manifest, LibriSpeechTreeWithOrphans) {
  test::TempDir d;
  std::string ch = d / "19/198";
  make_dirs(ch);
  write_file_atomic(ch + "/19-198.trans.txt",
                    "19-198-0000 NORTHANGER ABBEY\n19-198-0001 THIS LITTLE WORK\n"
                    "19-198-0002 NO AUDIO FOR THIS ONE\n");
  write_file_atomic(ch + "/19-198-0000.flac", "x");
  write_file_atomic(ch + "/19-198-0001.flac", "x");
  write_file_atomic(ch + "/19-198-0009.flac", "x");  // no transcript line
  Manifest m = read_manifest(d.path());
  EXPECT_EQ(m.format, "librispeech");
  EXPECT_EQ(m.rows, 4);
  ASSERT_EQ(m.entries.size(), 2u);
  EXPECT_EQ(m.entries[0].utt_id, "19-198-0000");
  EXPECT_EQ(m.entries[1].transcript, "THIS LITTLE WORK");
  EXPECT_EQ(m.rejects.size(), 2u);
  EXPECT_TRUE(has_reason(m, 3, ch + "/19-198.trans.txt:3: no audio file"));
  EXPECT_TRUE(has_reason(m, 4, ch + "/19-198-0009.flac: audio file has no line in any"));
}

// Every input row ends as an entry or a reject, exactly once.
void expect_accounted(const Manifest& m) {
  EXPECT_EQ(static_cast<int64_t>(m.entries.size() + m.rejects.size()), m.rows);
  std::set<int64_t> lines;
  for (const auto& e : m.entries) EXPECT_TRUE(lines.insert(e.line).second) << e.line;
  for (const auto& r : m.rejects) EXPECT_TRUE(lines.insert(r.line).second) << r.reason;
}

std::map<int64_t, std::string> ids_by_line(const Manifest& m) {
  std::map<int64_t, std::string> out;
  for (const auto& e : m.entries) out[e.line] = e.utt_id;
  return out;
}

TEST(ManifestIds, SpacesParenthesesNonAsciiAndAbsolutePaths) {
  test::TempDir d;
  std::string p = d / "m.tsv";
  write_file_atomic(p,
                    "clips/my file.wav\t\tspace in the name\n"
                    "clips/take(2).wav\t\tparentheses\n"
                    "clips/\xC3\xBC"
                    "ber.wav\t\tnon ascii\n"  // über.wav
                    "/abs/elsewhere/u1.wav\t\tabsolute\n"
                    "clips/bad\xFF.wav\t\tinvalid utf-8 name\n"
                    "clips/tilde~aug1.wav\t\treserved\n"
                    "clips/nbsp\xC2\xA0x.wav\t\tno-break space\n");
  Manifest m = read_manifest(p);
  EXPECT_EQ(m.rows, 7);
  EXPECT_EQ(m.id_rule, "file stems");
  EXPECT_EQ(ids_by_line(m), (std::map<int64_t, std::string>{{3,
                                                             "\xC3\xBC"
                                                             "ber"},
                                                            {4, "u1"}}));
  EXPECT_TRUE(has_reason(m, 1, p + ":1: utterance id 'my file' holds a space (U+0020)"));
  EXPECT_TRUE(has_reason(m, 2, "utterance id 'take(2)' holds '('"));
  EXPECT_TRUE(has_reason(m, 5, "utterance id 'bad\\xFF' not valid UTF-8"));
  EXPECT_TRUE(has_reason(m, 6, "holds '~', which is reserved"));
  EXPECT_TRUE(has_reason(m, 7, "holds a space (U+00A0)"));
  EXPECT_TRUE(has_reason(m, 1, "give the row an id"));
  expect_accounted(m);
}

TEST(ManifestIds, RelativePathsWhenStemsRepeat) {
  test::TempDir d;
  std::string p = d / "m.tsv";
  write_file_atomic(p,
                    "spk1/a.wav\t\tone\n"
                    "spk2/a.wav\t\ttwo\n"
                    "spk2/b.wav\t\tthree\n"
                    "spk2/b.wav\t\tsame row again\n");
  Manifest m = read_manifest(p);
  EXPECT_EQ(m.id_rule, "paths relative to " + d.path());
  EXPECT_EQ(ids_by_line(m),
            (std::map<int64_t, std::string>{{1, "spk1-a"}, {2, "spk2-a"}, {3, "spk2-b"}}));
  ASSERT_EQ(m.rejects.size(), 1u);
  EXPECT_TRUE(has_reason(m, 4, "duplicate utterance id 'spk2-b': the same audio as line 3"));
  expect_accounted(m);
}

TEST(ManifestIds, CollisionsRejectEveryRowNamingTheOthers) {
  test::TempDir d;
  std::string p = d / "m.tsv";
  write_file_atomic(p,
                    "x.wav\t\tsame stem\n"
                    "x.flac\t\tsame stem other file\n"
                    "a-b.wav\t\tdash\n"
                    "a/b.wav\t\tslash\n"
                    "ok/c.wav\t\tfine\n");
  Manifest m = read_manifest(p);
  EXPECT_EQ(ids_by_line(m), (std::map<int64_t, std::string>{{5, "ok-c"}}));
  EXPECT_TRUE(has_reason(m, 1, "utterance id 'x' collides with line 2 (" + d.path() + "/x.flac)"));
  EXPECT_TRUE(has_reason(m, 2, "utterance id 'x' collides with line 1 (" + d.path() + "/x.wav)"));
  EXPECT_TRUE(has_reason(m, 3, "'a-b' collides with line 4"));
  EXPECT_TRUE(has_reason(m, 4, "'a-b' collides with line 3"));
  expect_accounted(m);
}

TEST(ManifestIds, AbsolutePathsOutsideTheManifestFolder) {
  test::TempDir d;
  std::string p = d / "lists/m.tsv";
  make_dirs(d / "lists");
  write_file_atomic(p,
                    "/corpus/x/a.wav\t\tone\n"
                    "/corpus/y/a.wav\t\ttwo\n"
                    "../audio/z/a.wav\t\tthree\n");
  Manifest m = read_manifest(p);
  // The deepest folder holding all three is "/": ids keep the whole path, without '/'.
  EXPECT_EQ(m.id_rule, "paths relative to /");
  std::string dd = d.path().substr(1);
  std::replace(dd.begin(), dd.end(), '/', '-');
  EXPECT_EQ(ids_by_line(m), (std::map<int64_t, std::string>{
                                {1, "corpus-x-a"}, {2, "corpus-y-a"}, {3, dd + "-audio-z-a"}}));
  write_file_atomic(p, "/corpus/x/a.wav\t\tone\n/corpus/y/a.wav\t\ttwo\n");
  m = read_manifest(p);
  EXPECT_EQ(m.id_rule, "paths relative to /corpus");
  EXPECT_EQ(ids_by_line(m), (std::map<int64_t, std::string>{{1, "x-a"}, {2, "y-a"}}));
}

TEST(ManifestIds, ExplicitIdColumnInEachFormat) {
  test::TempDir d;
  std::string tsv = d / "m.tsv";
  write_file_atomic(tsv,
                    "x/a.wav\t\tone\tspk1_0001\n"
                    "y/a.wav\t\ttwo\t\n"   // empty id field: derived (stem 'a')
                    "z.wav\t\tthree\ta\n"  // explicit 'a' collides with line 2's stem
                    "w.wav\t\tfour\tbad id\n"
                    "v.wav\t\tfive\t\xE6\x97\xA5\xE6\x9C\xAC\n");  // 日本
  Manifest m = read_manifest(tsv);
  EXPECT_EQ(ids_by_line(m),
            (std::map<int64_t, std::string>{{1, "spk1_0001"}, {5, "\xE6\x97\xA5\xE6\x9C\xAC"}}));
  EXPECT_TRUE(has_reason(m, 2, "utterance id 'a' collides with line 3"));
  EXPECT_TRUE(has_reason(m, 3, "utterance id 'a' collides with line 2"));
  EXPECT_TRUE(has_reason(m, 4, "utterance id 'bad id' holds a space"));
  expect_accounted(m);

  std::string jsonl = d / "m.jsonl";
  write_file_atomic(jsonl,
                    "{\"audio_filepath\": \"a.wav\", \"text\": \"t\", \"utt_id\": \"u-1\"}\n"
                    "{\"audio_filepath\": \"b.wav\", \"text\": \"t\", \"utt_id\": null}\n"
                    "{\"audio_filepath\": \"c.wav\", \"text\": \"t\", \"utt_id\": 7}\n"
                    "{\"audio_filepath\": \"d.wav\", \"text\": \"t\", \"utt_id\": \"(d)\"}\n"
                    "{\"audio_filepath\": \"e\\u0000.wav\", \"text\": \"t\"}\n");
  m = read_manifest(jsonl);
  EXPECT_EQ(ids_by_line(m), (std::map<int64_t, std::string>{{1, "u-1"}, {2, "b"}}));
  EXPECT_TRUE(has_reason(m, 3, jsonl + ":3: field 'utt_id': not a string"));
  EXPECT_TRUE(has_reason(m, 4, "utterance id '(d)' holds '('"));
  EXPECT_TRUE(has_reason(m, 5, "field 'path': holds a NUL byte"));
  expect_accounted(m);

  std::string csv = d / "m.csv";
  write_file_atomic(csv,
                    "wav_filename,wav_filesize,transcript,utt_id\n"
                    "clips/a.wav,1,\"one, two\",cv_a\n"
                    "clips/b.wav,1,three\n"
                    "clips/c.wav,1,four,\"with space\"\n");
  m = read_manifest(csv);
  EXPECT_EQ(ids_by_line(m), (std::map<int64_t, std::string>{{2, "cv_a"}, {3, "b"}}));
  EXPECT_TRUE(has_reason(m, 4, "'with space' holds a space"));
  expect_accounted(m);
}

TEST(ManifestIds, LibriSpeechIdsNamingTwoFilesOrRepeated) {
  test::TempDir d;
  make_dirs(d / "1/10");
  make_dirs(d / "2/20");
  write_file_atomic(d / "1/10/1-10.trans.txt",
                    "1-10-0000 ONE\n1-10-0001 TWO\n1-10-0000 AGAIN\n1-10-(3) PARENS\n");
  write_file_atomic(d / "1/10/1-10-0000.flac", "x");
  write_file_atomic(d / "1/10/1-10-0001.flac", "x");
  write_file_atomic(d / "2/20/1-10-0001.wav", "x");  // same id, another folder
  write_file_atomic(d / "1/10/1-10-(3).flac", "x");
  Manifest m = read_manifest(d.path());
  EXPECT_EQ(m.rows, 4);
  EXPECT_EQ(ids_by_line(m), (std::map<int64_t, std::string>{{1, "1-10-0000"}}));
  const std::string t = d / "1/10/1-10.trans.txt";
  EXPECT_TRUE(has_reason(m, 2,
                         t + ":2: utterance id '1-10-0001' names 2 audio files (" + d.path() +
                             "/1/10/1-10-0001.flac, " + d.path() + "/2/20/1-10-0001.wav)"));
  EXPECT_TRUE(
      has_reason(m, 3, t + ":3: duplicate utterance id '1-10-0000' (first at " + t + ":1)"));
  EXPECT_TRUE(has_reason(m, 4, t + ":4: utterance id '1-10-(3)' holds '('"));
  expect_accounted(m);
}

TEST(UttId, ValidityAndPrintable) {
  for (const char* ok : {"a", "spk1-utt_2.x",
                         "\xC3\xBC"
                         "ber",
                         "\xE6\x97\xA5", "a/b", "A:B,c"})
    EXPECT_EQ(utt_id_problem(ok), "") << ok;
  for (const char* bad : {"", "a b", "a\tb", "a(1", "x)", "u~aug1", "\xFF",
                          "a\xC2\xA0"
                          "b",
                          "a\x01", "\xE3\x80\x80", "\xC0\xAF"})
    EXPECT_NE(utt_id_problem(bad), "") << printable(bad);
  EXPECT_EQ(printable("a\tb\\\xFF\xC3\xBC"), "a\\x09b\\x5C\\xFF\xC3\xBC");
  EXPECT_EQ(printable(std::string("n\0l", 3)), "n\\x00l");
}

TEST(UttId, DerivedIdsAreStemsOnlyWhenAllStemsAreUnique) {
  auto d = derive_utt_ids({"/m/a/x.wav", "/m/b/y.flac", "/m/a/x.wav"}, "/m");
  EXPECT_EQ(d.rule, "file stems");
  EXPECT_EQ(d.ids, (std::vector<std::string>{"x", "y", "x"}));  // the same file twice
  d = derive_utt_ids({"/m/a/x.wav", "/m/b/x.flac", "/m/c.d/y.e.wav"}, "/m/");
  EXPECT_EQ(d.rule, "paths relative to /m");
  EXPECT_EQ(d.ids, (std::vector<std::string>{"a-x", "b-x", "c.d-y.e"}));
  d = derive_utt_ids({"/m/../n/x.wav", "/n/./sub/x.wav"}, "/m");
  EXPECT_EQ(d.rule, "paths relative to /n");
  EXPECT_EQ(d.ids, (std::vector<std::string>{"x", "sub-x"}));
}

TEST(Manifest, MissingFileAndUnknownFormat) {
  EXPECT_THROW(read_manifest("/nonexistent/m.tsv"), IoError);
  EXPECT_THROW(read_manifest("/nonexistent/m.xyz"), ConfigError);
}

}  // namespace
}  // namespace ds2::pipeline
