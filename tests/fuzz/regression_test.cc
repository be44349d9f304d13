// Inputs that broke a parser under fuzz_test.cc (or were found while writing it), kept as fixed
// cases: each must now be a ds2::Error naming the file, not a crash or a foreign exception.
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "core/fs.h"
#include "decode/arpa_lm.h"
#include "pipeline/alphabet.h"
#include "pipeline/audio.h"
#include "tests/testutil.h"

namespace ds2 {
namespace {

// Runs f, which must throw T; returns the message.
template <typename T, typename F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const T& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception: " << typeid(e).name() << ": " << e.what();
    return "";
  }
  ADD_FAILURE() << "no exception";
  return "";
}

std::string le32(uint32_t v) {
  return {char(v & 0xff), char((v >> 8) & 0xff), char((v >> 16) & 0xff), char(v >> 24)};
}

// 16-bit mono PCM WAV with `rate` in its header and `data_bytes` claimed for `real_bytes` given.
std::string wav_header(uint32_t rate, uint32_t data_bytes, size_t real_bytes) {
  std::string fmt = "fmt " + le32(16) + std::string{1, 0, 1, 0} + le32(rate) + le32(rate * 2) +
                    std::string{2, 0, 16, 0};
  std::string body = "WAVE" + fmt + "data" + le32(data_bytes) + std::string(real_bytes, '\x11');
  return "RIFF" + le32(static_cast<uint32_t>(body.size())) + body;
}

// "ngram 1=<18 digits>": the table reserved that many entries up front (std::bad_alloc).
TEST(FuzzRegression, ArpaHugeCountIsACountMismatch) {
  test::TempDir d;
  const std::string p = d / "lm.arpa";
  write_file_atomic(p, "\\data\\\nngram 1=999999999999999999\n\n\\1-grams:\n-1 a\n\\end\\\n");
  const std::string m = message_of<FormatError>([&] { decode::ArpaLm::load(p); });
  EXPECT_NE(m.find(p + ":6: \\1-grams: has 1 entries but \\data\\ says 999999999999999999"),
            std::string::npos)
      << m;
}

// "nan" is a number to strtod: a unigram of log10 probability NaN was accepted and every score
// through it was NaN.
TEST(FuzzRegression, ArpaNanProbabilityIsRefused) {
  test::TempDir d;
  const std::string p = d / "lm.arpa";
  write_file_atomic(p, "\\data\\\nngram 1=2\n\\1-grams:\n-1 x\n-nan z\n\\end\\\n");
  const std::string m = message_of<FormatError>([&] { decode::ArpaLm::load(p); });
  EXPECT_EQ(m.rfind(p + ":5: bad log10 probability '-nan'", 0), 0u) << m;
}

// A 32-bit header rate of 4.26e9 Hz became a negative int and sox's `rate` asserted
// (`factor > 0', rate.c:303): the process aborted.
TEST(FuzzRegression, WavRateAboveTenMegahertzIsRefused) {
  test::TempDir d;
  const std::string p = d / "x.wav";
  write_file_atomic(p, wav_header(0xfe001f40u, 600, 600));
  const std::string m = message_of<FormatError>([&] { pipeline::decode_audio(p, 16000); });
  EXPECT_EQ(m.rfind(p + ": cannot open audio: header gives rate", 0), 0u) << m;
  EXPECT_THROW(pipeline::probe_audio(p), FormatError);
}

// A header claiming 2 G samples for a file of 600 bytes: reserve() asked for 8 GiB up front.
TEST(FuzzRegression, WavLengthClaimCostsNoMemory) {
  test::TempDir d;
  const std::string p = d / "x.wav";
  write_file_atomic(p, wav_header(16000, 0xfffffff0u, 600));
  const std::string m = message_of<FormatError>([&] { pipeline::decode_audio(p, 16000); });
  EXPECT_EQ(m.rfind(p + ": truncated", 0), 0u) << m;
}

// An empty first line skipped the <blank> check: "a" became index 0, the CTC blank.
TEST(FuzzRegression, AlphabetBlankLineBeforeBlankSymbol) {
  const std::string m =
      message_of<FormatError>([] { pipeline::Alphabet::parse("\na\nb\n", "al"); });
  EXPECT_EQ(m.rfind("al:2: first symbol must be <blank>, got 'a'", 0), 0u) << m;
  const std::string e =
      message_of<FormatError>([] { pipeline::Alphabet::parse("<blank>\n\n", "al"); });
  EXPECT_EQ(e.rfind("al:2: alphabet has no symbols", 0), 0u) << e;
}

// A line "\r\r" left the symbol "\r" (one CR is a line end), which to_string() wrote as "\r\n"
// and parse() read back as an empty line: the alphabet stored in shards lost a symbol.
TEST(FuzzRegression, AlphabetControlCharacterSymbolIsRefused) {
  const std::string m =
      message_of<FormatError>([] { pipeline::Alphabet::parse("<blank>\na\n\r\r\n", "al"); });
  EXPECT_EQ(m.rfind("al:3: symbol U+000D is a control character", 0), 0u) << m;
}

}  // namespace
}  // namespace ds2
