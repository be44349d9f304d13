#include "pipeline/manifest.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "core/fs.h"
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
  EXPECT_EQ(m.entries[0].utt_id, "a-x");
  EXPECT_DOUBLE_EQ(m.entries[0].duration, 1.5);
  EXPECT_EQ(m.entries[1].duration, -1);  // empty: measured later
  EXPECT_EQ(m.entries[1].line, 3);
  EXPECT_EQ(m.entries[2].path, "/abs/e.flac");
  EXPECT_EQ(m.entries[2].transcript, "absolute");
  EXPECT_EQ(m.rejects.size(), 3u);
  EXPECT_TRUE(has_reason(m, 4, p + ":4: field 'duration'"));
  EXPECT_TRUE(has_reason(m, 5, "expected 3 tab-separated fields"));
  EXPECT_TRUE(has_reason(m, 6, "duplicate utterance id 'a-x' (first at line 1)"));
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
  EXPECT_EQ(m.entries[1].utt_id, "clips-b");
  EXPECT_TRUE(has_reason(m, 4, "expected 3 comma-separated fields"));
  EXPECT_TRUE(has_reason(m, 5, "unterminated quote"));
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
  EXPECT_TRUE(has_reason(m, 3, "no audio file"));
  EXPECT_TRUE(has_reason(m, 4, "no line in any"));
}

TEST(Manifest, MissingFileAndUnknownFormat) {
  EXPECT_THROW(read_manifest("/nonexistent/m.tsv"), IoError);
  EXPECT_THROW(read_manifest("/nonexistent/m.xyz"), ConfigError);
}

}  // namespace
}  // namespace ds2::pipeline
