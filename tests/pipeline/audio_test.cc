// Audio decoding against known signals: written by write_audio, by hand (raw PCM, an empty WAV
// header) or by the sox command-line program (resampling and channel inputs), decoded back.
#include "pipeline/audio.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "augment/sox_init.h"
#include "core/error.h"
#include "pipeline/featurizer.h"
#include "tests/testutil.h"

namespace ds2::pipeline {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kQuant = 1.0 / 32768 + 1e-6;  // 16-bit quantization step + float slack

// amp * sin(2 pi freq t) plus a little deterministic noise (LCG), n samples at `rate`.
std::vector<float> test_signal(int n, int rate, double freq, double amp, double noise = 0.01,
                               uint32_t seed = 1) {
  std::vector<float> x(n);
  uint32_t s = seed;
  for (int i = 0; i < n; ++i) {
    s = s * 1664525u + 1013904223u;
    const double r = (static_cast<double>(s >> 8) / (1 << 24)) * 2 - 1;
    x[i] = static_cast<float>(amp * std::sin(2 * kPi * freq * i / rate) + noise * r);
  }
  return x;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    m = std::max(m, std::abs(static_cast<double>(a[i]) - b[i]));
  }
  return m;
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

bool have_sox_cli() { return std::system("command -v sox >/dev/null 2>&1") == 0; }

// Runs the sox program; fails the test when it fails.
void sox_cli(const std::string& args) {
  const std::string cmd = "sox " + args + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

// The bin with the most power in the middle frame of x (16 kHz), and that power.
std::pair<int, double> peak_bin(const std::vector<float>& x) {
  Featurizer f(FeatureOptions{});
  std::vector<float> out;
  f.compute(x, out);
  const int64_t mid = f.num_frames(static_cast<int64_t>(x.size())) / 2;
  const float* row = out.data() + mid * f.n_bins();
  int best = 0;
  for (int b = 1; b < f.n_bins(); ++b) best = row[b] > row[best] ? b : best;
  return {best, std::exp(static_cast<double>(row[best]))};
}

// Power of an on-bin sine of amplitude amp in its bin: (amp * sum(hamming) / 2)^2.
double sine_power(double amp) {
  double sum_w = 0;
  for (int i = 0; i < 320; ++i) sum_w += 0.54 - 0.46 * std::cos(2 * kPi * i / 319);
  return std::pow(amp * sum_w / 2, 2);
}

class RoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(RoundTrip, WriteThenDecodeGivesSameSamples) {
  test::TempDir dir("ds2-audio");
  const std::string path = dir / ("a." + GetParam());
  const std::vector<float> x = test_signal(16000 + 37, 16000, 440, 0.5);
  write_audio(path, x, 16000);
  const std::vector<float> y = decode_audio(path);
  ASSERT_EQ(y.size(), x.size());
  EXPECT_LE(max_abs_diff(x, y), kQuant);
  const AudioInfo info = probe_audio(path);
  EXPECT_EQ(info.sample_rate, 16000);
  EXPECT_EQ(info.channels, 1);
  EXPECT_EQ(info.samples_per_channel, 16037);
  EXPECT_NEAR(info.duration_s, 16037.0 / 16000, 1e-9);
}

INSTANTIATE_TEST_SUITE_P(Formats, RoundTrip, ::testing::Values("wav", "flac"));

TEST(Audio, WriteClipsAndReplacesAtomically) {
  test::TempDir dir("ds2-audio");
  const std::string path = dir / "c.wav";
  write_audio(path, {0.0f, 2.0f, -3.0f, 0.25f}, 16000);
  write_audio(path, {0.5f, 2.0f, -3.0f}, 16000);  // overwrites
  const std::vector<float> y = decode_audio(path);
  ASSERT_EQ(y.size(), 3u);
  EXPECT_NEAR(y[0], 0.5, kQuant);
  EXPECT_NEAR(y[1], 1.0, kQuant);
  EXPECT_NEAR(y[2], -1.0, kQuant);
  EXPECT_FALSE(std::ifstream(path + ".tmp." + std::to_string(::getpid())).good());
  EXPECT_THROW(write_audio(dir / "no/such/dir/x.wav", y, 16000), IoError);
}

// Raw 16-bit PCM written byte by byte here, read with the default and explicit RawFormat.
TEST(Audio, RawPcmLittleAndBigEndian) {
  test::TempDir dir("ds2-audio");
  const std::vector<float> x = test_signal(8000, 16000, 440, 0.5);
  std::string le, be;
  for (float v : x) {
    const auto s = static_cast<int16_t>(std::lround(v * 32767.0));
    const auto u = static_cast<uint16_t>(s);
    le += static_cast<char>(u & 0xff);
    le += static_cast<char>(u >> 8);
    be += static_cast<char>(u >> 8);
    be += static_cast<char>(u & 0xff);
  }
  write_bytes(dir / "le.raw", le);
  write_bytes(dir / "be.PCM", be);
  const std::vector<float> a = decode_audio(dir / "le.raw");
  ASSERT_EQ(a.size(), x.size());
  EXPECT_LE(max_abs_diff(x, a), kQuant);
  RawFormat big;
  big.big_endian = true;
  const std::vector<float> b = decode_audio(dir / "be.PCM", 16000, &big);
  ASSERT_EQ(b.size(), x.size());
  EXPECT_LE(max_abs_diff(x, b), kQuant);
  EXPECT_EQ(probe_audio(dir / "le.raw").samples_per_channel, 8000);
  // The same bytes declared as 8 kHz: half a second more audio, resampled to 16 kHz.
  RawFormat r8;
  r8.sample_rate = 8000;
  EXPECT_NEAR(probe_audio(dir / "le.raw", &r8).duration_s, 1.0, 1e-9);
  EXPECT_NEAR(static_cast<double>(decode_audio(dir / "le.raw", 16000, &r8).size()), 16000, 4);
  RawFormat bad;
  bad.encoding = "mu-law";
  EXPECT_THROW(decode_audio(dir / "le.raw", 16000, &bad), ConfigError);
}

// 44.1 kHz and 8 kHz stereo files made by the sox program decode to 16 kHz mono of the right
// length, with a 1 kHz sine (bin 20) still in bin 20 at the channels' average amplitude.
class Resample : public ::testing::TestWithParam<int> {};

TEST_P(Resample, StereoFileToSixteenKhzMono) {
  if (!have_sox_cli()) GTEST_SKIP() << "the sox program is not installed";
  const int rate = GetParam();
  test::TempDir dir("ds2-audio");
  write_audio(dir / "l.wav", test_signal(rate, rate, 1000, 0.5, 0.0), rate);
  write_audio(dir / "r.wav", test_signal(rate, rate, 1000, 0.3, 0.0), rate);
  ASSERT_NO_FATAL_FAILURE(
      sox_cli("-M " + (dir / "l.wav") + " " + (dir / "r.wav") + " " + (dir / "st.wav")));
  const AudioInfo info = probe_audio(dir / "st.wav");
  EXPECT_EQ(info.sample_rate, rate);
  EXPECT_EQ(info.channels, 2);
  EXPECT_EQ(info.samples_per_channel, rate);
  const std::vector<float> y = decode_audio(dir / "st.wav", 16000);
  EXPECT_NEAR(static_cast<double>(y.size()), 16000.0, 4.0);
  const auto [bin, power] = peak_bin(y);
  EXPECT_EQ(bin, 20);
  EXPECT_NEAR(power / sine_power(0.4), 1.0, 0.02);  // rate -h passband is flat to << 1 %
}

INSTANTIATE_TEST_SUITE_P(Rates, Resample, ::testing::Values(44100, 8000));

TEST(Audio, StereoChannelsAreAveraged) {
  if (!have_sox_cli()) GTEST_SKIP() << "the sox program is not installed";
  test::TempDir dir("ds2-audio");
  const std::vector<float> l = test_signal(4000, 16000, 440, 0.5, 0.01, 1);
  const std::vector<float> r = test_signal(4000, 16000, 1234, 0.3, 0.05, 2);
  write_audio(dir / "l.wav", l, 16000);
  write_audio(dir / "r.wav", r, 16000);
  ASSERT_NO_FATAL_FAILURE(
      sox_cli("-M " + (dir / "l.wav") + " " + (dir / "r.wav") + " " + (dir / "st.flac")));
  const std::vector<float> y = decode_audio(dir / "st.flac");
  ASSERT_EQ(y.size(), l.size());
  std::vector<float> avg(l.size());
  for (size_t i = 0; i < l.size(); ++i) avg[i] = 0.5f * (l[i] + r[i]);
  EXPECT_LE(max_abs_diff(avg, y), kQuant);
}

TEST(Audio, MissingFileIsIoErrorNamingPath) {
  const std::string path = "/nonexistent-ds2/utt 1.wav";
  try {
    decode_audio(path);
    FAIL() << "no exception";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(path + ": cannot open audio"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(probe_audio(path), IoError);
}

TEST(Audio, TextFileNamedWavIsFormatErrorNamingPath) {
  test::TempDir dir("ds2-audio");
  const std::string path = dir / "text.wav";
  write_bytes(path, "this is not audio, just a transcript that was saved with the wrong name\n");
  for (int probe = 0; probe < 2; ++probe) {
    try {
      if (probe) {
        probe_audio(path);
      } else {
        decode_audio(path);
      }
      FAIL() << "no exception";
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find(path + ": cannot open audio: "), std::string::npos)
          << e.what();
    }
  }
}

TEST(Audio, TruncatedWavIsFormatErrorNamingPath) {
  test::TempDir dir("ds2-audio");
  const std::string path = dir / "cut.wav";
  write_audio(path, test_signal(2000, 16000, 440, 0.5), 16000);
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  write_bytes(path, bytes.substr(0, bytes.size() / 2));
  try {
    decode_audio(path);
    FAIL() << "no exception";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find(path + ": truncated"), std::string::npos) << e.what();
  }
}

// A 44-byte canonical WAV header with a 0-byte data chunk, written by hand.
TEST(Audio, EmptyWavDecodesToEmptyVector) {
  test::TempDir dir("ds2-audio");
  auto u32 = [](uint32_t v) {
    return std::string{static_cast<char>(v), static_cast<char>(v >> 8), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 24)};
  };
  auto u16 = [](uint16_t v) {
    return std::string{static_cast<char>(v), static_cast<char>(v >> 8)};
  };
  const std::string hdr = "RIFF" + u32(36) + "WAVE" + "fmt " + u32(16) + u16(1) + u16(1) +
                          u32(16000) + u32(32000) + u16(2) + u16(16) + "data" + u32(0);
  ASSERT_EQ(hdr.size(), 44u);
  write_bytes(dir / "empty.wav", hdr);
  EXPECT_TRUE(decode_audio(dir / "empty.wav").empty());
  EXPECT_TRUE(decode_audio(dir / "empty.wav", 8000).empty());
  const AudioInfo info = probe_audio(dir / "empty.wav");
  EXPECT_EQ(info.samples_per_channel, 0);
  EXPECT_EQ(info.duration_s, 0.0);
  // write_audio of nothing gives a file that decodes to nothing, too.
  write_audio(dir / "empty2.flac", {}, 16000);
  EXPECT_TRUE(decode_audio(dir / "empty2.flac").empty());
}

// libsox may be initialized once only: augment's and pipeline's init share one call_once.
TEST(Audio, InitIsSharedWithAugment) {
  augment::init_sox();
  init_sox();
  augment::init_sox();
  test::TempDir dir("ds2-audio");
  write_audio(dir / "a.wav", test_signal(800, 8000, 440, 0.5), 8000);
  EXPECT_NEAR(static_cast<double>(decode_audio(dir / "a.wav").size()), 1600.0, 2.0);
}

// Decoding (with resampling) from several threads gives the single-threaded result bit for bit.
TEST(Audio, ConcurrentDecodesAgree) {
  test::TempDir dir("ds2-audio");
  write_audio(dir / "a.wav", test_signal(22050, 22050, 700, 0.4), 22050);
  const std::vector<float> ref = decode_audio(dir / "a.wav");
  std::vector<std::vector<float>> got(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < got.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 3; ++rep) got[t] = decode_audio(dir / "a.wav");
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& g : got) EXPECT_EQ(g, ref);
}

}  // namespace
}  // namespace ds2::pipeline
